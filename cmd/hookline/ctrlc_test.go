//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/hookline/hookline/pkg/testkit"
)

// Issue 9: Ctrl-C on `make run` exits 0. GNU make re-raises an interrupt it received itself, so
// `hookline dev` takes the terminal's foreground process group: the ^C typed on the terminal
// reaches only it, it stops cleanly, and make (and whatever started make) sees exit 0.
func TestCtrlCOnMakeRunExitsZero(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed for this test: %v", err)
	}
	r := testkit.StartRedis(t)
	bin := hooklineBin(t)
	dir := t.TempDir()
	port := func() string { return fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)) }
	makefile := filepath.Join(dir, "Makefile")
	recipe := fmt.Sprintf("run:\n\t%s dev -data %s -nats-port %d -ingress-admin %s -worker-admin %s -dispatcher-admin %s\n",
		bin, filepath.Join(dir, "data"), testkit.FreePort(t), port(), port(), port())
	if err := os.WriteFile(makefile, []byte(recipe), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "-f", makefile, "run")
	cmd.Env = cleanEnv("REDIS_URL="+r.URL, "HOOKLINE_HTTP_ADDR="+port(), "HOOKLINE_LOG_LEVEL=warn",
		"HOOKLINE_DEV_STATE="+filepath.Join(dir, "dev.json"))
	tty, err := pty.Start(cmd) // make becomes the terminal's foreground process group, as in a shell
	if err != nil {
		t.Fatalf("start make on a pty: %v", err)
	}
	defer func() { _ = tty.Close() }()
	var mu sync.Mutex
	var out bytes.Buffer
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		once := sync.Once{}
		for {
			n, err := tty.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			seen := strings.Contains(out.String(), "pipeline is ready")
			mu.Unlock()
			if seen {
				once.Do(func() { close(ready) })
			}
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("make run exited before the pipeline was ready: %v\n%s", err, output())
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("pipeline not ready:\n%s", output())
	}
	if _, err := tty.Write([]byte{0x03}); err != nil { // ^C, as typed: the line discipline sends SIGINT
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("make run after Ctrl-C: exit %d, want 0\n%s", ee.ExitCode(), output())
		}
		if err != nil {
			t.Fatalf("make run after Ctrl-C: %v\n%s", err, output())
		}
	case <-time.After(45 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("make run did not stop on Ctrl-C:\n%s", output())
	}
}
