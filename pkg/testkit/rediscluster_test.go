package testkit

import (
	"context"
	"testing"
	"time"
)

func TestRedisClusterFailover(t *testing.T) {
	c := StartRedisCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cc := c.Client(t)
	for _, key := range []string{"foo", "{user1000}.following", "{}x", "hl:{default:petstore:o-1}:o", "a{b"} {
		if want, err := cc.ClusterKeySlot(ctx, key).Result(); err != nil || int(want) != Slot(key) {
			t.Errorf("Slot(%q) = %d, CLUSTER KEYSLOT = %d, %v", key, Slot(key), want, err)
		}
	}
	if err := cc.Set(ctx, "{k}a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cc.Wait(ctx, 1, time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	killed, promoted := c.KillPrimary("{k}a")
	if promoted == killed || c.PrimaryFor("{k}a") != promoted {
		t.Fatalf("primary after the kill = %s, killed %s", c.PrimaryFor("{k}a").Addr, killed.Addr)
	}
	if v, err := promoted.Client(t).Get(ctx, "{k}a").Result(); err != nil || v != "1" {
		t.Fatalf("promoted replica has {k}a = %q, %v", v, err)
	}
	killed.Start()
	c.WaitHealthy()
}

func TestRedisSentinelFailover(t *testing.T) {
	s := StartRedisSentinel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := s.Client(t)
	if err := c.Set(ctx, "k", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Replication is asynchronous: without WAIT the kill may beat the write to the replicas (the
	// very loss the worker's HOOKLINE_REDIS_MIN_REPLICAS guards against), and the test would
	// measure luck instead of the failover.
	if n, err := c.Wait(ctx, 2, 5*time.Second).Result(); err != nil || n < 2 {
		t.Fatalf("WAIT 2 = %d, %v", n, err)
	}
	killed, promoted := s.KillPrimary()
	if promoted == killed {
		t.Fatal("the killed node is still the primary")
	}
	if v, err := s.Client(t).Get(ctx, "k").Result(); err != nil || v != "1" {
		t.Fatalf("k after the failover = %q, %v", v, err)
	}
}
