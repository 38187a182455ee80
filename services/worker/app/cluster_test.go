package app

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/worker/internal/orders"
)

// Issue 12 acceptance 1 (worker half): on a real 3-node cluster with R3 streams and consumer,
// the WEBHOOKS stream leader and then the worker consumer's leader are killed and restarted
// while webhooks keep arriving. The worker keeps consuming through both: every stored webhook
// is applied exactly once, ORDERS holds each canonical event once, nothing is dead-lettered.
func TestIntegrationClusterLeadersKilled(t *testing.T) {
	c := testkit.StartNATSCluster(t, 3)
	e := &testEnv{t: t, url: c.URLs(), redis: testkit.StartRedis(t)}
	e.nc, e.js = c.Conn(t)
	e.rdb = e.redis.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r3 := streams.Options{Replicas: 3, DuplicateWindow: 2 * time.Minute, MaxAge: time.Hour}
	if err := streams.Ensure(ctx, e.js, r3); err != nil {
		t.Fatalf("ensure R3 streams: %v", err)
	}
	w := e.startWorker(e.config(func(c *Config) { c.Base.Streams = r3 }))
	// The consumer inherits the stream's R3 (its Replicas is 0).
	eventually(t, 30*time.Second, "R3 worker consumer: a leader and 2 replicas", func() bool {
		info := e.consumerInfo()
		return info != nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2
	})

	// Webhooks arrive as the ingress stores them: resent with the same Nats-Msg-Id until
	// acknowledged, so each is stored once.
	const atLeast = 150
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var published atomic.Int64
	stopPub := make(chan struct{})
	pubDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stopPub:
				if i >= atLeast {
					pubDone <- nil
					return
				}
			default:
			}
			m := petstoreStatus(fmt.Sprintf("cl-ev-%d", i), fmt.Sprintf("cl-order-%d", i), "SHIPPED", t0).msg()
			for {
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := e.js.PublishMsg(pctx, m)
				pcancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					pubDone <- fmt.Errorf("publish %d: %w", i, err)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			published.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	eventually(t, 30*time.Second, "load under way", func() bool { return published.Load() >= 60 })
	leader := c.WaitForLeader(e.js, streams.Webhooks, "", 10*time.Second)
	c.KillServer(leader)
	c.WaitForLeader(e.js, streams.Webhooks, leader, 30*time.Second)
	t.Logf("WEBHOOKS leader %s killed, new leader after %d webhooks", leader, published.Load())
	c.Restart(leader)
	c.WaitForCurrent(e.js, streams.Webhooks, streams.ConsumerWorker, 30*time.Second)
	t.Logf("%s restarted and current after %d webhooks", leader, published.Load())

	var consLeader string
	eventually(t, 30*time.Second, "consumer leader", func() bool {
		consLeader = c.ConsumerLeader(e.js, streams.Webhooks, streams.ConsumerWorker)
		return consLeader != ""
	})
	c.KillServer(consLeader)
	eventually(t, 30*time.Second, "new consumer leader", func() bool {
		l := c.ConsumerLeader(e.js, streams.Webhooks, streams.ConsumerWorker)
		return l != "" && l != consLeader
	})
	t.Logf("consumer leader %s killed, new leader after %d webhooks", consLeader, published.Load())
	c.Restart(consLeader)
	t.Logf("%s restarted after %d webhooks", consLeader, published.Load())

	time.Sleep(500 * time.Millisecond) // webhooks keep coming after the second failover too
	close(stopPub)
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	total := int(published.Load())
	t.Logf("%d webhooks published", total)
	eventually(t, 45*time.Second, "every webhook acked", e.allAcked)
	t.Logf("all acked")
	select {
	case err := <-w.done:
		t.Fatalf("worker stopped during the failovers: %v", err)
	default:
	}

	for i := range total {
		key := orders.OrderKey("default", "petstore", fmt.Sprintf("cl-order-%d", i))
		if v, err := e.rdb.HGet(ctx, key, "v").Result(); err != nil || v != "1" {
			t.Errorf("order %d version %q, %v; want 1 (applied once)", i, v, err)
		}
	}
	seen := map[string]int{}
	for _, m := range e.canonical() {
		seen[m.ev.GetEventId()]++
	}
	for i := range total {
		if id := fmt.Sprintf("petstore:default:cl-ev-%d", i); seen[id] != 1 {
			t.Errorf("ORDERS holds %s %d times, want once", id, seen[id])
		}
	}
	if len(seen) != total {
		t.Errorf("ORDERS holds %d distinct events, want %d", len(seen), total)
	}
	if n := e.streamMsgs(streams.DLQ); n != 0 {
		t.Errorf("DLQ holds %d messages, want 0", n)
	}
}
