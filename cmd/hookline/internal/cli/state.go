package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// The dev state file: `hookline dev` writes the addresses it chose to <data>/dev.json
// (.hookline/dev.json by default) and removes it on exit. Every other command reads it when
// NATS_URL, REDIS_URL, HOOKLINE_URL or HOOKLINE_WORKER_URL is unset, so `hookline dlq list` in a
// second shell reaches the dev pipeline even when its embedded NATS had to take a free port.
// HOOKLINE_DEV_STATE names the file explicitly (for both sides); without it the CLI looks for
// .hookline/dev.json in the working directory and its parents.
const (
	stateEnv  = "HOOKLINE_DEV_STATE"
	stateName = "dev.json"
	stateDir  = ".hookline"
)

// devState is the content of the state file.
type devState struct {
	PID        int    `json:"pid"`
	NATS       string `json:"nats"`
	Redis      string `json:"redis"`
	Ingress    string `json:"ingress"`
	Worker     string `json:"worker"`
	Dispatcher string `json:"dispatcher"`
}

// field returns the state field that stands in for the variable name, or nil.
func (s *devState) field(name string) *string {
	switch name {
	case "NATS_URL":
		return &s.NATS
	case "REDIS_URL":
		return &s.Redis
	case "HOOKLINE_URL":
		return &s.Ingress
	case "HOOKLINE_WORKER_URL":
		return &s.Worker
	}
	return nil
}

func writeState(path string, s devState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("dev state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("dev state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil { // holds REDIS_URL
		return fmt.Errorf("dev state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("dev state: %w", err)
	}
	return nil
}

// findState returns the state file the CLI should read: HOOKLINE_DEV_STATE, else the first
// .hookline/dev.json from dir upwards; "" when there is none.
func findState(env Env) string {
	if p, ok := env.Lookup(stateEnv); ok && p != "" {
		return p
	}
	if env.Dir == "" {
		return ""
	}
	for dir := env.Dir; ; {
		p := filepath.Join(dir, stateDir, stateName)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// readState reads a state file; one left behind by a dev process that no longer runs is ignored.
func readState(path string) (devState, bool) {
	var s devState
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &s) != nil {
		return devState{}, false
	}
	if s.PID > 0 && !alive(s.PID) {
		return devState{}, false
	}
	return s, true
}

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// withDevState wraps env.Lookup so the addresses of a running `hookline dev` stand in for unset
// NATS_URL, REDIS_URL, HOOKLINE_URL and HOOKLINE_WORKER_URL. The file is read on first need.
func withDevState(env Env) func(string) (string, bool) {
	var (
		once  sync.Once
		state devState
	)
	return func(name string) (string, bool) {
		if v, ok := env.Lookup(name); ok && v != "" {
			return v, true
		}
		if (&devState{}).field(name) == nil {
			return env.Lookup(name)
		}
		once.Do(func() {
			if p := findState(env); p != "" {
				state, _ = readState(p)
			}
		})
		if v := *state.field(name); v != "" {
			return v, true
		}
		return env.Lookup(name)
	}
}
