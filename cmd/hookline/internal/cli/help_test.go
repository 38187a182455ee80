package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
)

// trap is a TCP listener every URL of a test points at: a command that connects anywhere it was
// told to leaves a connection in its backlog.
type trap struct {
	ln net.Listener
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return &trap{ln: ln}
}

// connected reports whether anything connected since the last call. A connection made before
// the call is already queued, so the short deadline only bounds the wait when there is none.
func (tr *trap) connected(t *testing.T) bool {
	t.Helper()
	if err := tr.ln.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	c, err := tr.ln.Accept()
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// trapEnv is an environment whose every address is the trap, and that finds no dev state file.
func trapEnv(t *testing.T, tr *trap, args ...string) (Env, *bytes.Buffer, *bytes.Buffer) {
	addr := tr.ln.Addr().String()
	vars := map[string]string{
		"NATS_URL":            "nats://" + addr,
		"REDIS_URL":           "redis://" + addr + "/0",
		"HOOKLINE_URL":        "http://" + addr,
		"HOOKLINE_WORKER_URL": "http://" + addr,
		"HOOKLINE_HTTP_ADDR":  addr, // dev would fail to listen here, were it to start
		stateEnv:              filepath.Join(t.TempDir(), "none.json"),
	}
	var out, errb bytes.Buffer
	return Env{Args: args, Stdout: &out, Stderr: &errb, Dir: t.TempDir(),
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}, &out, &errb
}

// Issue 9: -h on every command and verb prints its help on stdout and succeeds, connecting
// nowhere.
func TestHelpEverywhereConnectsNowhere(t *testing.T) {
	tr := newTrap(t)
	tests := []struct {
		give []string
		want string // in the help text
	}{
		{[]string{"-h"}, "commands:"},
		{[]string{"--help"}, "commands:"},
		{[]string{"help"}, "commands:"},
		{[]string{"dev", "-h"}, "-nats-port"},
		{[]string{"send", "-h"}, "petstore"},
		{[]string{"send", "petstore", "-h"}, "-order"},
		{[]string{"send", "bunjang", "-help"}, "-items"},
		{[]string{"send", "standard", "--help"}, "-source"},
		{[]string{"orders", "-h"}, "get"},
		{[]string{"orders", "get", "-h"}, "-tenant"},
		{[]string{"orders", "get", "petstore", "ord-1", "-h"}, "-url"},
		{[]string{"orders", "-h"}, "history"},
		{[]string{"orders", "history", "-h"}, "-json"},
		{[]string{"orders", "history", "petstore", "ord-1", "-tenant", "t", "-h"}, "-url"},
		{[]string{"dlq", "-h"}, "replay"},
		{[]string{"dlq", "help"}, "purge"},
		{[]string{"dlq", "list", "-h"}, "-reason"},
		{[]string{"dlq", "show", "-h"}, "-nats"},
		{[]string{"dlq", "replay", "-h"}, "-provider"},
		{[]string{"dlq", "purge", "-h"}, "-yes"},
		{[]string{"dlq", "list", "-provider", "petstore", "-h"}, "-tenant"},
		{[]string{"replay", "-h"}, "-from"},
		{[]string{"verify", "-h"}, "-oracle"},
		{[]string{"bench", "-h"}, "-rate"},
		{[]string{"bench", "corpus", "-h"}, "-split"},
		{[]string{"bench", "stream-count", "-h"}, "-stream"},
		{[]string{"bench-target", "-h"}, "-addr"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			env, out, errb := trapEnv(t, tr, tt.give...)
			if err := Run(context.Background(), env); err != nil {
				t.Fatalf("Run = %v, want nil; stderr:\n%s", err, errb)
			}
			if !strings.Contains(out.String(), "usage") || !strings.Contains(out.String(), tt.want) {
				t.Errorf("help on stdout lacks usage and %q:\n%s", tt.want, out)
			}
			if strings.Contains(errb.String(), "help requested") {
				t.Errorf("stderr: %s", errb)
			}
			if tr.connected(t) {
				t.Error("asking for help connected somewhere")
			}
		})
	}
}

// Issue 9: a missing or misspelt verb, or an unknown command, prints the usage on stderr and is
// a usage error (exit 2), connecting nowhere.
func TestBadVerbConnectsNowhere(t *testing.T) {
	tr := newTrap(t)
	tests := []struct {
		give []string
		want string // in the usage on stderr
	}{
		{[]string{"dlq"}, "verbs:"},
		{[]string{"dlq", "lst"}, "list"},
		{[]string{"dlq", "-provider", "petstore"}, "list"},
		{[]string{"orders"}, "get"},
		{[]string{"orders", "gte", "petstore", "ord-1"}, "get"},
		{[]string{"orders", "histroy", "petstore", "ord-1"}, "history"},
		{[]string{"send"}, "bunjang"},
		{[]string{"send", "stripe"}, "standard"},
		{[]string{"send", "petstore", "-nope"}, "-order"},
		{[]string{"dlq", "list", "-nope"}, "-reason"},
		{[]string{"dlq", "show"}, ""},
		{[]string{"nope"}, "commands:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			env, _, errb := trapEnv(t, tr, tt.give...)
			if err := Run(context.Background(), env); !errors.Is(err, ErrUsage) {
				t.Fatalf("Run = %v, want ErrUsage", err)
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, errb)
			}
			if tr.connected(t) {
				t.Error("a usage error connected somewhere")
			}
		})
	}
}

// Issue 9: every CLI error that comes from a connection names the URL.
func TestConnectionErrorsNameTheURL(t *testing.T) {
	n := testkit.StartNATS(t) // answers, but holds no streams
	closed := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	tests := []struct {
		name string
		url  string
		give []string
	}{
		{"dlq list, nothing listening", "nats://" + closed, []string{"dlq", "list", "-nats", "nats://" + closed}},
		{"dlq list, no DLQ stream", n.URL, []string{"dlq", "list", "-nats", n.URL}},
		{"dlq replay, no DLQ stream", n.URL, []string{"dlq", "replay", "-nats", n.URL}},
		{"stream-count, no stream", n.URL, []string{"bench", "stream-count", "-nats", n.URL}},
		{"orders get, nothing listening", "http://" + closed, []string{"orders", "get", "petstore", "o-1", "-url", "http://" + closed}},
		{"orders history, nothing listening", "http://" + closed, []string{"orders", "history", "petstore", "o-1", "-url", "http://" + closed}},
		{"send, nothing listening", "http://" + closed, []string{"send", "petstore", "-url", "http://" + closed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := Env{Args: tt.give, Stdout: &out, Stderr: &errb, Lookup: func(string) (string, bool) { return "", false }}
			err := Run(context.Background(), env)
			if err == nil || !strings.Contains(err.Error(), tt.url) {
				t.Fatalf("Run = %v, want an error naming %s", err, tt.url)
			}
		})
	}
}

// Issue 9: with NATS_URL and the URL variables unset, the commands use the addresses a running
// `hookline dev` wrote to .hookline/dev.json in the working directory or a parent (or to
// HOOKLINE_DEV_STATE); a variable wins, and a file whose process is gone is ignored.
func TestDevStateDiscovery(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "services", "worker")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	live := devState{PID: os.Getpid(), NATS: "nats://127.0.0.1:4711", Redis: "redis://127.0.0.1:4712/0",
		Ingress: "http://127.0.0.1:4713", Worker: "http://127.0.0.1:4714"}
	if err := writeState(filepath.Join(root, stateDir, stateName), live); err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(t.TempDir(), "stale.json")
	if err := writeState(stale, devState{PID: gone.ProcessState.Pid(), NATS: "nats://127.0.0.1:4799"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		dir    string
		vars   map[string]string
		lookup string
		want   string // "" = not found
	}{
		{"found from a subfolder", sub, nil, "NATS_URL", live.NATS},
		{"ingress", root, nil, "HOOKLINE_URL", live.Ingress},
		{"worker", root, nil, "HOOKLINE_WORKER_URL", live.Worker},
		{"redis", root, nil, "REDIS_URL", live.Redis},
		{"variable wins", sub, map[string]string{"NATS_URL": "nats://elsewhere:4222"}, "NATS_URL", "nats://elsewhere:4222"},
		{"other variables untouched", sub, nil, "HOOKLINE_PETSTORE_SECRETS", ""},
		{"no file above", t.TempDir(), nil, "NATS_URL", ""},
		{"explicit file", t.TempDir(), map[string]string{stateEnv: filepath.Join(root, stateDir, stateName)}, "NATS_URL", live.NATS},
		{"stale file ignored", sub, map[string]string{stateEnv: stale}, "NATS_URL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Dir: tt.dir, Lookup: func(k string) (string, bool) { v, ok := tt.vars[k]; return v, ok }}
			got, _ := withDevState(env)(tt.lookup)
			if got != tt.want {
				t.Fatalf("lookup %s = %q, want %q", tt.lookup, got, tt.want)
			}
		})
	}
}

// Issue 9: `hookline dlq list` without flags or NATS_URL reaches the NATS a dev state file names.
func TestDLQListFindsDevState(t *testing.T) {
	n := testkit.StartNATS(t) // no DLQ stream: the error must name this server, not 4222
	root := t.TempDir()
	if err := writeState(filepath.Join(root, stateDir, stateName), devState{PID: os.Getpid(), NATS: n.URL}); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := Env{Args: []string{"dlq", "list"}, Stdout: &out, Stderr: &errb, Dir: root,
		Lookup: func(string) (string, bool) { return "", false }}
	err := Run(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "stream DLQ on "+n.URL) {
		t.Fatalf("Run = %v, want the DLQ lookup on %s", err, n.URL)
	}
}

// Issue 9: the dev ingress listens on loopback unless HOOKLINE_HTTP_ADDR says otherwise, on a
// free loopback port when 8080 is taken.
func TestDevHTTPAddrIsLoopback(t *testing.T) {
	if h, _, _ := net.SplitHostPort(devHTTPAddr); h != "127.0.0.1" {
		t.Fatalf("devHTTPAddr = %s, want a 127.0.0.1 address", devHTTPAddr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := freeOr(ln.Addr().String()); got != "127.0.0.1:0" {
		t.Errorf("freeOr(taken) = %s, want 127.0.0.1:0", got)
	}
}
