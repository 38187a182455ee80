// Package testkit starts the real servers integration tests need: a NATS server with JetStream
// (embedded, or the nats-server binary when HOOKLINE_TEST_NATS=binary) and a redis-server process,
// each on a free loopback port with its own data folder, stoppable and restartable mid-test.
package testkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// NATS is a JetStream-enabled server owned by one test.
type NATS struct {
	t    testing.TB
	URL  string
	Port int
	Dir  string

	binary   bool
	opts     NATSOptions
	embedded *server.Server
	cmd      *exec.Cmd
}

// StartNATS starts a server and stops it when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	return startNATS(t, Binary(), NATSOptions{})
}

// StartNATSProcess always runs the nats-server binary in its own process, for tests that must
// see only their own goroutines (leak checks).
func StartNATSProcess(t testing.TB) *NATS {
	t.Helper()
	return startNATS(t, true, NATSOptions{})
}

// NATSOptions change the server's limits; zero values keep the server's defaults.
type NATSOptions struct {
	// MaxPayload is the server's max_payload in bytes (default 1 MiB): a small one makes tests
	// at the message size limit cheap.
	MaxPayload int32
}

// StartNATSWith is StartNATS with options.
func StartNATSWith(t testing.TB, o NATSOptions) *NATS {
	t.Helper()
	return startNATS(t, Binary(), o)
}

func startNATS(t testing.TB, binary bool, o NATSOptions) *NATS {
	t.Helper()
	n := &NATS{t: t, Port: FreePort(t), Dir: t.TempDir(), binary: binary, opts: o}
	n.URL = fmt.Sprintf("nats://127.0.0.1:%d", n.Port)
	n.Start()
	t.Cleanup(n.Stop)
	return n
}

// Binary reports whether tests run against the nats-server binary on PATH (Debian's 2.9) rather
// than the embedded current server.
func Binary() bool { return os.Getenv("HOOKLINE_TEST_NATS") == "binary" }

// Start (re)starts the server on the same port and store folder.
func (n *NATS) Start() {
	n.t.Helper()
	if n.embedded != nil || n.cmd != nil {
		return
	}
	if n.binary {
		args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(n.Port), "-js", "-sd", n.Dir}
		if n.opts.MaxPayload > 0 {
			conf := filepath.Join(n.Dir, "limits.conf")
			if err := os.WriteFile(conf, []byte(fmt.Sprintf("max_payload: %d\n", n.opts.MaxPayload)), 0o600); err != nil {
				n.t.Fatalf("nats-server config: %v", err)
			}
			args = append(args, "-c", conf)
		}
		cmd := exec.Command("nats-server", args...)
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			n.t.Fatalf("start nats-server: %v", err)
		}
		n.cmd = cmd
	} else {
		srv, err := server.NewServer(&server.Options{
			Host: "127.0.0.1", Port: n.Port, JetStream: true, StoreDir: n.Dir,
			NoLog: true, NoSigs: true, MaxPayload: n.opts.MaxPayload,
		})
		if err != nil {
			n.t.Fatalf("embedded nats: %v", err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(10 * time.Second) {
			n.t.Fatalf("embedded nats not ready")
		}
		n.embedded = srv
	}
	waitTCP(n.t, fmt.Sprintf("127.0.0.1:%d", n.Port))
	n.waitJetStream()
}

func (n *NATS) waitJetStream() {
	nc, err := nats.Connect(n.URL)
	if err != nil {
		n.t.Fatalf("connect nats: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		n.t.Fatalf("jetstream: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("jetstream not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down; its data stays for Start.
func (n *NATS) Stop() {
	if n.embedded != nil {
		n.embedded.Shutdown()
		n.embedded.WaitForShutdown()
		n.embedded = nil
	}
	if n.cmd != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait() // killed on purpose; its exit status says nothing
		n.cmd = nil
	}
}

// Conn connects to the server; closed when the test ends.
func (n *NATS) Conn(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Redis is a redis-server process owned by one test.
type Redis struct {
	t    testing.TB
	URL  string
	Addr string
	Port int
	Dir  string
	// AOF turns on the append-only file, so data survives Stop and Start.
	AOF bool
	cmd *exec.Cmd
}

// StartRedis starts redis-server on a free port and stops it when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return startRedis(t, false)
}

// StartRedisAOF is StartRedis with the append-only file on.
func StartRedisAOF(t testing.TB) *Redis {
	t.Helper()
	return startRedis(t, true)
}

func startRedis(t testing.TB, aof bool) *Redis {
	t.Helper()
	r := &Redis{t: t, Port: FreePort(t), Dir: t.TempDir(), AOF: aof}
	r.Addr = fmt.Sprintf("127.0.0.1:%d", r.Port)
	r.URL = "redis://" + r.Addr + "/0"
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start (re)starts the server on the same port and folder.
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		return
	}
	aof := "no"
	if r.AOF {
		aof = "yes"
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", aof, "--appendfsync", "always", "--dir", r.Dir,
		"--logfile", filepath.Join(r.Dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server (install the redis-server package): %v", err)
	}
	r.cmd = cmd
	waitTCP(r.t, r.Addr)
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server not answering on %s", r.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server; with AOF its data is on disk for Start.
func (r *Redis) Stop() { kill(&r.cmd) }

// Client returns a client closed when the test ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func waitTCP(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
