package testkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

// The cluster elects a new stream leader when the leader is killed, keeps what was stored, and
// takes the killed server back.
func TestNATSClusterLeaderFailover(t *testing.T) {
	c := testkit.StartNATSCluster(t, 3)
	_, js := c.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3}); err != nil {
		t.Fatalf("create R3 stream: %v", err)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("before")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	leader := c.WaitForLeader(js, "T", "", 10*time.Second)
	c.KillServer(leader)
	next := c.WaitForLeader(js, "T", leader, 30*time.Second)
	if next == leader || !c.Server(next).Running() {
		t.Fatalf("new leader %q (old %q)", next, leader)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("after")); err != nil {
		t.Fatalf("publish after failover: %v", err)
	}
	c.Restart(leader)
	s, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.State.Msgs != 2 || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream after failover: %d messages, %d replicas; want 2 and 2", info.State.Msgs, len(info.Cluster.Replicas))
	}
}
