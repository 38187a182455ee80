package orders

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/redis/go-redis/v9"
)

func petstoreReq(t *testing.T, order, event, status string, seq uint64) Request {
	t.Helper()
	book, err := NewBook(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	return Request{
		Tenant: "default", Provider: ProviderPetstore, OrderID: order, SourceEventID: event, Seq: seq, AppliedAt: base,
		Units: []Unit{{Status: book.For(ProviderPetstore).Resolve(status), OccurredAt: base.Add(time.Duration(seq) * time.Second)}},
	}
}

// A write that no replica confirmed is an outage for the caller (so the message is redelivered),
// although it ran on the primary: the redelivery finds it recorded and applies nothing twice.
func TestIntegrationApplyWaitsForReplicas(t *testing.T) {
	primary, replica := testkit.StartRedis(t), testkit.StartRedis(t)
	ctx := context.Background()
	rdb := primary.Client(t)
	if n, err := DetectReplicas(ctx, rdb); err != nil || n != 0 {
		t.Fatalf("DetectReplicas without replicas = %d, %v; want 0", n, err)
	}
	strict := NewStore(rdb, time.Hour, WithDurability(Durability{MinReplicas: 1, Timeout: 50 * time.Millisecond}))
	t.Cleanup(strict.Close)
	_, err := strict.Apply(ctx, petstoreReq(t, "o-w", "e-1", "PLACED", 1))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Apply with no replica = %v, want ErrUnavailable and ErrNotReplicated", err)
	}

	if err := replica.Client(t).ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(primary.Port)).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		// In sync, not only connected: a replica acks offsets to WAIT once its initial sync is done.
		link, err := replica.Client(t).InfoMap(ctx, "replication").Result()
		if n, derr := DetectReplicas(ctx, rdb); err == nil && derr == nil && n == 1 && link["Replication"]["master_link_status"] == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica never in sync: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var detected []int
	auto := NewStore(rdb, time.Hour, WithDurability(Durability{MinReplicas: AutoReplicas, Timeout: 5 * time.Second,
		Detected: func(n int) { detected = append(detected, n) }}))
	t.Cleanup(auto.Close)
	res, err := auto.Apply(ctx, petstoreReq(t, "o-w", "e-1", "PLACED", 1))
	if err != nil {
		t.Fatalf("redelivered Apply with a replica: %v", err)
	}
	if out := res.Outcomes[0]; !out.Recorded || out.Record.Version != 1 {
		t.Fatalf("redelivery = %+v, want the recorded version 1", out)
	}
	if _, err := auto.Apply(ctx, petstoreReq(t, "o-w", "e-2", "SHIPPED", 2)); err != nil {
		t.Fatal(err)
	}
	if len(detected) != 1 || detected[0] != 1 {
		t.Fatalf("detected = %v, want [1] once", detected)
	}
	// WAIT returned only after the replica had the write.
	if v, err := replica.Client(t).HGet(ctx, OrderKey("default", ProviderPetstore, "o-w"), "v").Result(); err != nil || v != "2" {
		t.Fatalf("replica has version %q, %v; want 2", v, err)
	}
}

// On a Redis Cluster the pipelines go per primary, each with its WAIT; a slot that keeps
// answering MOVED ends as an outage, not as bad data.
func TestIntegrationClusterPipelines(t *testing.T) {
	c := testkit.StartRedisCluster(t)
	ctx := context.Background()
	cc := c.Client(t)
	if n, err := DetectReplicas(ctx, cc); err != nil || n != 1 {
		t.Fatalf("DetectReplicas on 3+3 = %d, %v; want 1", n, err)
	}
	store := NewStore(cc, time.Hour, WithDurability(Durability{MinReplicas: AutoReplicas, Timeout: 5 * time.Second}))
	t.Cleanup(store.Close)
	const orders = 300
	errs := make(chan error, orders)
	for i := range orders {
		go func() {
			_, err := store.Apply(ctx, petstoreReq(t, fmt.Sprintf("o-%d", i), "e-1", "PLACED", 1))
			errs <- err
		}()
	}
	for range orders {
		if err := <-errs; err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	primaries := map[string]int{}
	for i := range orders {
		key := OrderKey("default", ProviderPetstore, fmt.Sprintf("o-%d", i))
		primaries[c.PrimaryFor(key).Addr]++
		if v, err := cc.HGet(ctx, key, "v").Result(); err != nil || v != "1" {
			t.Fatalf("%s version = %q, %v", key, v, err)
		}
	}
	if len(primaries) != 3 {
		t.Fatalf("orders landed on %d primaries, want all 3: %v", len(primaries), primaries)
	}

	// A node that answers MOVED to itself forever: the batcher retries a few passes, then the
	// caller gets a retryable outage.
	key := OrderKey("default", ProviderPetstore, "o-moved")
	self := c.PrimaryFor(key).Addr
	loop := redis.NewScript(`return redis.error_reply('MOVED ' .. ARGV[1] .. ' ' .. ARGV[2])`)
	start := time.Now()
	err := store.batch.do(ctx, loop, []string{key}, strconv.Itoa(testkit.Slot(key)), self).Err()
	if _, moved := redis.IsMovedError(err); !moved || !errors.Is(classify(err), ErrUnavailable) {
		t.Fatalf("MOVED loop = %v, want a MOVED error classified unavailable", err)
	}
	if took := time.Since(start); took > pipelineTimeout {
		t.Fatalf("MOVED loop took %s, want it bounded by the pipeline timeout", took)
	}
}
