package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSCluster is a JetStream cluster of real servers on loopback, owned by one test: embedded
// servers, or nats-server processes when HOOKLINE_TEST_NATS=binary. Servers can be killed and
// restarted mid-test; each keeps its name, ports and store folder.
type NATSCluster struct {
	t       testing.TB
	binary  bool
	servers []*ClusterServer
}

// ClusterServer is one server of a NATSCluster.
type ClusterServer struct {
	Name        string
	URL         string
	Port        int
	ClusterPort int
	Dir         string

	conf     string
	embedded *server.Server
	cmd      *exec.Cmd
}

// Running reports whether the server is up (started and not killed).
func (s *ClusterServer) Running() bool { return s.embedded != nil || s.cmd != nil }

// clusterName is the cluster { name } of every test cluster.
const clusterName = "hookline-test"

// StartNATSCluster starts an n-server JetStream cluster (n >= 3 for R3 streams; 0 means 3),
// waits until JetStream answers, and stops every server when the test ends.
func StartNATSCluster(t testing.TB, n int) *NATSCluster {
	t.Helper()
	if n <= 0 {
		n = 3
	}
	c := &NATSCluster{t: t, binary: Binary()}
	for i := range n {
		s := &ClusterServer{
			Name: fmt.Sprintf("n%d", i+1), Port: FreePort(t), ClusterPort: FreePort(t), Dir: t.TempDir(),
		}
		s.URL = fmt.Sprintf("nats://127.0.0.1:%d", s.Port)
		c.servers = append(c.servers, s)
	}
	for _, s := range c.servers {
		s.conf = filepath.Join(s.Dir, "server.conf")
		if err := os.WriteFile(s.conf, []byte(c.config(s)), 0o600); err != nil {
			t.Fatalf("nats-server config: %v", err)
		}
	}
	t.Cleanup(c.stopAll)
	for _, s := range c.servers {
		c.start(s)
	}
	c.WaitForJetStream()
	return c
}

// config is the configuration file of s: its name and ports, its store folder, and routes to
// every server of the cluster (its own route is ignored by the server).
func (c *NATSCluster) config(s *ClusterServer) string {
	routes := make([]string, 0, len(c.servers))
	for _, o := range c.servers {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", o.ClusterPort))
	}
	return fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream {
  store_dir: %q
}
cluster {
  name: %s
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, s.Name, s.Port, filepath.Join(s.Dir, "js"), clusterName, s.ClusterPort, strings.Join(routes, ", "))
}

// Servers returns the cluster's servers, in name order.
func (c *NATSCluster) Servers() []*ClusterServer { return c.servers }

// URLs is every server's client URL, comma-separated: a NATS_URL for the whole cluster.
func (c *NATSCluster) URLs() string {
	urls := make([]string, len(c.servers))
	for i, s := range c.servers {
		urls[i] = s.URL
	}
	return strings.Join(urls, ",")
}

// Server returns the server called name, failing the test when there is none.
func (c *NATSCluster) Server(name string) *ClusterServer {
	c.t.Helper()
	for _, s := range c.servers {
		if s.Name == name {
			return s
		}
	}
	c.t.Fatalf("no cluster server %q", name)
	return nil
}

func (c *NATSCluster) start(s *ClusterServer) {
	c.t.Helper()
	if s.Running() {
		return
	}
	if c.binary {
		cmd := exec.Command("nats-server", "-c", s.conf)
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			c.t.Fatalf("start nats-server %s: %v", s.Name, err)
		}
		s.cmd = cmd
	} else {
		opts, err := server.ProcessConfigFile(s.conf)
		if err != nil {
			c.t.Fatalf("nats config %s: %v", s.Name, err)
		}
		opts.NoLog, opts.NoSigs = true, true
		srv, err := server.NewServer(opts)
		if err != nil {
			c.t.Fatalf("embedded nats %s: %v", s.Name, err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(15 * time.Second) {
			c.t.Fatalf("embedded nats %s not ready", s.Name)
		}
		s.embedded = srv
	}
	waitTCP(c.t, fmt.Sprintf("127.0.0.1:%d", s.Port))
}

// KillServer stops the server called name at once: kill -9 for a process, Shutdown for an
// embedded server. Its store folder stays for Restart.
func (c *NATSCluster) KillServer(name string) {
	c.t.Helper()
	stop(c.Server(name))
}

func stop(s *ClusterServer) {
	if s.embedded != nil {
		s.embedded.Shutdown()
		s.embedded.WaitForShutdown()
		s.embedded = nil
	}
	if s.cmd != nil {
		_ = s.cmd.Process.Kill() // SIGKILL
		_ = s.cmd.Wait()         // killed on purpose; its exit status says nothing
		s.cmd = nil
	}
}

// Restart starts the server called name again on its ports and store folder and waits until
// the cluster's JetStream answers through it.
func (c *NATSCluster) Restart(name string) {
	c.t.Helper()
	s := c.Server(name)
	c.start(s)
	c.waitJetStream(s.URL)
}

// StartServer starts the server called name again on its ports and store folder without
// waiting for JetStream (a server started alone in a stopped cluster has no quorum yet).
func (c *NATSCluster) StartServer(name string) {
	c.t.Helper()
	c.start(c.Server(name))
}

// KillAll stops every server at once, as KillServer does one: the whole cluster is down.
func (c *NATSCluster) KillAll() {
	c.t.Helper()
	c.stopAll()
}

// RestartAll starts every stopped server again (all before waiting: a lone server of a stopped
// cluster has no JetStream quorum) and waits until JetStream answers through each.
func (c *NATSCluster) RestartAll() {
	c.t.Helper()
	for _, s := range c.servers {
		c.start(s)
	}
	c.WaitForJetStream()
}

func (c *NATSCluster) stopAll() {
	for _, s := range c.servers {
		stop(s)
	}
}

// Conn connects to every running server of the cluster; closed when the test ends.
func (c *NATSCluster) Conn(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatalf("connect nats cluster: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// WaitForJetStream waits until JetStream answers on every running server (the meta leader is
// elected and every server knows it).
func (c *NATSCluster) WaitForJetStream() {
	c.t.Helper()
	for _, s := range c.servers {
		if s.Running() {
			c.waitJetStream(s.URL)
		}
	}
}

func (c *NATSCluster) waitJetStream(url string) {
	c.t.Helper()
	waitJetStreamAt(c.t, url, 30*time.Second)
}

// errNoLeader: the stream or consumer has no leader right now.
var errNoLeader = errors.New("no leader")

// StreamLeader is the name of the stream's leader, from its $JS.API.STREAM.INFO cluster
// information, or "" when it has none (an election) or cannot be asked.
func (c *NATSCluster) StreamLeader(js jetstream.JetStream, stream string) string {
	leader, _ := c.streamLeader(js, stream)
	return leader
}

func (c *NATSCluster) streamLeader(js jetstream.JetStream, stream string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", stream, err)
	}
	info := s.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return "", fmt.Errorf("stream %s: %w", stream, errNoLeader)
	}
	return info.Cluster.Leader, nil
}

// ConsumerLeader is the name of the durable's leader, or "" when it has none.
func (c *NATSCluster) ConsumerLeader(js jetstream.JetStream, stream, durable string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return ""
	}
	info := cons.CachedInfo()
	if info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// WaitForLeader waits up to within for the stream to have a leader other than not ("" for
// any), and returns its name.
func (c *NATSCluster) WaitForLeader(js jetstream.JetStream, stream, not string, within time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		leader, err := c.streamLeader(js, stream)
		if err == nil && leader != not {
			return leader
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("stream %s: no leader other than %q within %s: %v", stream, not, within, last)
	return ""
}

// WaitForCurrent waits up to within until the stream and, when durable is not empty, that
// consumer have a leader and every other server as a current replica: after a Restart, the
// next failover then elects among caught-up peers.
func (c *NATSCluster) WaitForCurrent(js jetstream.JetStream, stream, durable string, within time.Duration) {
	c.t.Helper()
	current := func(ci *jetstream.ClusterInfo) bool {
		if ci == nil || ci.Leader == "" || len(ci.Replicas) != len(c.servers)-1 {
			return false
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok := false
		if s, err := js.Stream(ctx, stream); err == nil && current(s.CachedInfo().Cluster) {
			ok = durable == ""
			if !ok {
				cons, err := js.Consumer(ctx, stream, durable)
				ok = err == nil && current(cons.CachedInfo().Cluster)
			}
		}
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("stream %s / consumer %q: replicas not all current within %s", stream, durable, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
