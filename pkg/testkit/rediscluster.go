package testkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisNode is one redis-server process (a cluster node, a replica or a sentinel) owned by one
// test. Kill is kill -9; Start runs it again with the same port, configuration and folder.
type RedisNode struct {
	t    testing.TB
	Port int
	Addr string
	Dir  string
	bin  string
	args []string
	cmd  *exec.Cmd
}

func newRedisNode(t testing.TB, bin string, args ...string) *RedisNode {
	t.Helper()
	n := &RedisNode{t: t, Port: FreePort(t), Dir: t.TempDir(), bin: bin}
	n.Addr = fmt.Sprintf("127.0.0.1:%d", n.Port)
	n.args = append([]string{"--port", strconv.Itoa(n.Port), "--bind", "127.0.0.1", "--dir", n.Dir,
		"--logfile", filepath.Join(n.Dir, "redis.log")}, args...)
	t.Cleanup(n.Kill)
	return n
}

// Start starts the process unless it runs.
func (n *RedisNode) Start() {
	n.t.Helper()
	if n.cmd != nil {
		return
	}
	cmd := exec.Command(n.bin, n.args...)
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start %s (install the redis-server package): %v", n.bin, err)
	}
	n.cmd = cmd
	waitTCP(n.t, n.Addr)
}

// Kill kills the process with SIGKILL: no shutdown, no last save.
func (n *RedisNode) Kill() { kill(&n.cmd) }

// kill SIGKILLs *cmd if it runs, reaps it and clears it.
func kill(cmd **exec.Cmd) {
	if *cmd == nil {
		return
	}
	_ = (*cmd).Process.Kill()
	_ = (*cmd).Wait() // killed on purpose; its exit status says nothing
	*cmd = nil
}

// Running reports whether the process was started and not killed.
func (n *RedisNode) Running() bool { return n.cmd != nil }

// Client returns a client to this node alone, closed when the test ends.
func (n *RedisNode) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond every 50 ms until it holds, failing the test after within.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("testkit: not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RedisCluster is a Redis Cluster of three primaries and three replicas, with AOF, on loopback.
type RedisCluster struct {
	t     testing.TB
	Nodes []*RedisNode
}

// ClusterNodeTimeout is the cluster-node-timeout of StartRedisCluster's nodes: a primary that
// does not answer for that long is failed over to its replica.
const ClusterNodeTimeout = time.Second

// StartRedisCluster starts six cluster-enabled redis-servers, joins them with
// `redis-cli --cluster create … --cluster-replicas 1`, and waits until every slot is served and
// every replica is in sync. Everything is killed when the test ends.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	c := &RedisCluster{t: t}
	args := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout.Milliseconds())),
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", ""}
	for range 6 {
		// The cluster bus gets a free port of its own: the default, port + 10000, may be taken,
		// or past 65535 for a port above 55535 (redis-server then exits at start).
		n := newRedisNode(t, "redis-server", append(args[:len(args):len(args)], "--cluster-port", strconv.Itoa(FreePort(t)))...)
		n.Start()
		c.Nodes = append(c.Nodes, n)
	}
	create := []string{"--cluster", "create"}
	create = append(create, c.Addrs()...)
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy()
	return c
}

// Addrs are the nodes' host:port, for REDIS_CLUSTER_ADDRS.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// Client returns a cluster client, closed when the test ends.
func (c *RedisCluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func (c *RedisCluster) node(addr string) *RedisNode {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// slots reads CLUSTER SLOTS from the first running node that answers.
func (c *RedisCluster) slots() []redis.ClusterSlot {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s, err := cl.ClusterSlots(ctx).Result() //nolint:staticcheck // ClusterShards needs Redis 7; Debian 12 ships 7.0 but CLUSTER SLOTS works on every version
		cancel()
		_ = cl.Close()
		if err == nil {
			return s
		}
	}
	return nil
}

func clusterOK(n *RedisNode) bool {
	cl := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := cl.ClusterInfo(ctx).Result()
	return err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_slots_ok:16384")
}

func replicaInSync(n *RedisNode) bool {
	cl := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := cl.InfoMap(ctx, "replication").Result()
	if err != nil {
		return false
	}
	r := info["Replication"]
	return r["role"] == "master" || r["master_link_status"] == "up"
}

// WaitHealthy waits until every running node sees the cluster ok with all slots served, every
// slot range has a primary and a replica, and every running replica is in sync.
func (c *RedisCluster) WaitHealthy() {
	c.t.Helper()
	waitFor(c.t, 60*time.Second, "redis cluster healthy", func() bool {
		for _, n := range c.Nodes {
			if n.Running() && (!clusterOK(n) || !replicaInSync(n)) {
				return false
			}
		}
		slots := c.slots()
		covered := 0
		for _, s := range slots {
			if len(s.Nodes) < 2 {
				return false
			}
			covered += s.End - s.Start + 1
		}
		return covered == 16384
	})
}

// PrimaryFor returns the node serving key's slot as primary.
func (c *RedisCluster) PrimaryFor(key string) *RedisNode {
	c.t.Helper()
	slot := Slot(key)
	for _, s := range c.slots() {
		if slot >= s.Start && slot <= s.End && len(s.Nodes) > 0 {
			if n := c.node(s.Nodes[0].Addr); n != nil {
				return n
			}
		}
	}
	c.t.Fatalf("testkit: no primary for slot %d of %q", slot, key)
	return nil
}

// KillPrimary kill -9s the primary serving key's slot and waits until its replica serves the
// slot as primary and the cluster is ok again. It returns the killed node (Start rejoins it as a
// replica) and the promoted one.
func (c *RedisCluster) KillPrimary(key string) (killed, promoted *RedisNode) {
	c.t.Helper()
	killed = c.PrimaryFor(key)
	killed.Kill()
	slot := Slot(key)
	waitFor(c.t, 30*time.Second, "replica promoted after "+killed.Addr+" died", func() bool {
		for _, s := range c.slots() {
			if slot >= s.Start && slot <= s.End && len(s.Nodes) > 0 && s.Nodes[0].Addr != killed.Addr {
				promoted = c.node(s.Nodes[0].Addr)
			}
		}
		if promoted == nil {
			return false
		}
		for _, n := range c.Nodes {
			if n.Running() && !clusterOK(n) {
				return false
			}
		}
		return true
	})
	return killed, promoted
}

// Slot is the cluster hash slot of key (CRC16 of its hash tag, modulo 16384).
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// sentinelBinary is redis-sentinel (Debian package redis-sentinel) or, without it,
// redis-server, which runs as a sentinel with --sentinel.
func sentinelBinary() (bin string, extra []string) {
	if p, err := exec.LookPath("redis-sentinel"); err == nil {
		return p, nil
	}
	return "redis-server", []string{"--sentinel"}
}

// RedisSentinel is a primary, two replicas and three sentinels monitoring them as Master.
type RedisSentinel struct {
	t         testing.TB
	Master    string
	Data      []*RedisNode // primary first at the start
	Sentinels []*RedisNode
}

// StartRedisSentinel starts the primary and its replicas (AOF on) and three sentinels with a
// quorum of 2 and down-after-milliseconds 1000, and waits until every sentinel knows both
// replicas and the other sentinels. Everything is killed when the test ends.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	s := &RedisSentinel{t: t, Master: "hookline"}
	data := []string{"--appendonly", "yes", "--appendfsync", "everysec", "--save", ""}
	primary := newRedisNode(t, "redis-server", data...)
	primary.Start()
	s.Data = append(s.Data, primary)
	for range 2 {
		r := newRedisNode(t, "redis-server", append(data, "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port))...)
		r.Start()
		s.Data = append(s.Data, r)
	}
	bin, extra := sentinelBinary()
	for range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 10000\nsentinel parallel-syncs %[1]s 1\n", s.Master, primary.Port)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatalf("sentinel config: %v", err)
		}
		n := newRedisNode(t, bin)
		n.args = append(append([]string{conf}, extra...), n.args...) // the config file comes first
		n.Start()
		s.Sentinels = append(s.Sentinels, n)
	}
	waitFor(t, 60*time.Second, "sentinels know every replica and each other", func() bool {
		for _, n := range s.Sentinels {
			m := s.masterInfo(n)
			if m["num-slaves"] != "2" || m["num-other-sentinels"] != "2" || m["flags"] != "master" {
				return false
			}
		}
		for _, n := range s.Data {
			if !replicaInSync(n) {
				return false
			}
		}
		return true
	})
	return s
}

func (s *RedisSentinel) masterInfo(n *RedisNode) map[string]string {
	cl := redis.NewSentinelClient(&redis.Options{Addr: n.Addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err := cl.Master(ctx, s.Master).Result()
	if err != nil {
		return nil
	}
	return m
}

// Addrs are the sentinels' host:port, for REDIS_SENTINEL_ADDRS.
func (s *RedisSentinel) Addrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		out[i] = n.Addr
	}
	return out
}

// Primary returns the data node the sentinels name as the master.
func (s *RedisSentinel) Primary() *RedisNode {
	s.t.Helper()
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		if m := s.masterInfo(sn); m != nil {
			for _, n := range s.Data {
				if m["port"] == strconv.Itoa(n.Port) {
					return n
				}
			}
		}
	}
	s.t.Fatalf("testkit: no sentinel names a master")
	return nil
}

// Client returns a failover client, closed when the test ends.
func (s *RedisSentinel) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.Master, SentinelAddrs: s.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// KillPrimary kill -9s the primary and waits until the sentinels promoted a replica that has
// the remaining replica in sync. It returns the killed node and the new primary.
func (s *RedisSentinel) KillPrimary() (killed, promoted *RedisNode) {
	s.t.Helper()
	killed = s.Primary()
	killed.Kill()
	waitFor(s.t, 45*time.Second, "sentinel failover after "+killed.Addr+" died", func() bool {
		for _, sn := range s.Sentinels {
			m := s.masterInfo(sn)
			if m == nil || m["port"] == strconv.Itoa(killed.Port) {
				return false
			}
		}
		promoted = s.Primary()
		cl := redis.NewClient(&redis.Options{Addr: promoted.Addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		info, err := cl.InfoMap(ctx, "replication").Result()
		return err == nil && info["Replication"]["role"] == "master" && info["Replication"]["connected_slaves"] != "0"
	})
	return killed, promoted
}
