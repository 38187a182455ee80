package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/redisconn"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// Acceptance 2 of issue 12: the worker on a Redis Cluster (3 primaries, 3 replicas) loses the
// primary owning some of the orders under load; its replica takes over and the killed node
// comes back as a replica. Every order ends in the right state and version, every canonical
// event is on ORDERS exactly once, nothing is dead-lettered.
func TestIntegrationRedisClusterFailover(t *testing.T) {
	c := testkit.StartRedisCluster(t)
	e := newNATSEnv(t)
	e.redisEnv = envMap{redisconn.EnvClusterAddrs: strings.Join(c.Addrs(), ",")}
	victim := orders.OrderKey("default", "petstore", "o-7")
	failoverUnderLoad(t, e, c.Client(t), func() {
		killed, promoted := c.KillPrimary(victim)
		t.Logf("killed %s, %s took over", killed.Addr, promoted.Addr)
		killed.Start() // back as the new primary's replica, so WAIT 1 is met again
	})
}

// The same with a primary, two replicas and three sentinels.
func TestIntegrationRedisSentinelFailover(t *testing.T) {
	s := testkit.StartRedisSentinel(t)
	e := newNATSEnv(t)
	e.redisEnv = envMap{redisconn.EnvSentinelAddrs: strings.Join(s.Addrs(), ","), redisconn.EnvSentinelMaster: s.Master}
	failoverUnderLoad(t, e, s.Client(t), func() {
		killed, promoted := s.KillPrimary()
		t.Logf("killed %s, sentinels promoted %s", killed.Addr, promoted.Addr)
	})
}

// failoverUnderLoad sends every order through its lifecycle in four waves (one event per order
// per wave, so no order sees its events reordered) and runs kill during the second wave. rdb
// reads the deployment under test directly: the state must be there (REDIS_URL is unset, and
// its default names the machine's shared Redis, which must not have been used instead).
func failoverUnderLoad(t *testing.T, e *testEnv, rdb redis.UniversalClient, kill func()) {
	const nOrders = 750
	// Outages never count towards MaxDeliver here: an error misread as bad data would still be
	// dead-lettered after 5 deliveries and fail the test.
	w := e.startWorker(e.config(func(c *Config) { c.Worker.Concurrency = 32; c.Worker.OutageDLQ = false }))
	waves := []func(i int) inbound{
		func(i int) inbound {
			return petstoreStatus(fmt.Sprintf("p-%d", i), fmt.Sprintf("o-%d", i), "PLACED", t0)
		},
		func(i int) inbound {
			return petstorePayment(fmt.Sprintf("a-%d", i), fmt.Sprintf("o-%d", i), t0.Add(time.Minute))
		},
		func(i int) inbound {
			return petstoreStatus(fmt.Sprintf("s-%d", i), fmt.Sprintf("o-%d", i), "SHIPPED", t0.Add(2*time.Minute))
		},
		func(i int) inbound {
			return petstoreStatus(fmt.Sprintf("d-%d", i), fmt.Sprintf("o-%d", i), "DELIVERED", t0.Add(3*time.Minute))
		},
	}
	for wi, wave := range waves {
		msgs := make([]*nats.Msg, nOrders)
		for i := range nOrders {
			msgs[i] = wave(i).msg()
		}
		floor := e.lastSeq(streams.Webhooks)
		e.publish(msgs...)
		if wi == 1 {
			eventually(t, 30*time.Second, "part of the second wave acked", func() bool {
				info := e.consumerInfo()
				return info != nil && info.AckFloor.Stream > floor+nOrders/5
			})
			if info := e.consumerInfo(); info.AckFloor.Stream >= floor+nOrders {
				t.Fatalf("the second wave was done before the kill: nothing tested")
			}
			kill()
		}
		eventually(t, 45*time.Second, fmt.Sprintf("wave %d acked", wi+1), e.allAcked)
	}

	for i := range nOrders {
		if v := w.order(t, "petstore", fmt.Sprintf("o-%d", i)); v.Status != "DELIVERED" || v.Version != 4 {
			t.Fatalf("order o-%d = %s version %d, want DELIVERED version 4", i, v.Status, v.Version)
		}
	}
	events := e.canonical()
	seen := map[string]int{}
	versions := map[string]int64{}
	for _, m := range events {
		seen[m.ev.GetEventId()]++
		versions[m.ev.GetOrderId()] += m.ev.GetVersion()
	}
	if len(events) != 4*nOrders || len(seen) != 4*nOrders {
		t.Fatalf("ORDERS holds %d events for %d event ids, want %d of each", len(events), len(seen), 4*nOrders)
	}
	for id, v := range versions {
		if v != 1+2+3+4 {
			t.Fatalf("order %s: canonical versions sum to %d, want versions 1 to 4 once each", id, v)
		}
	}
	if n := e.streamMsgs(streams.DLQ); n != 0 {
		t.Fatalf("DLQ holds %d messages, want 0", n)
	}
	if n := w.metric(t, "hookline_worker_outcomes_total", `kind="dlq"`); n != 0 {
		t.Fatalf("dlq outcomes = %v, want 0", n)
	}
	for i := range nOrders {
		key := orders.OrderKey("default", "petstore", fmt.Sprintf("o-%d", i))
		if v, err := rdb.HGet(context.Background(), key, "v").Result(); err != nil || v != "4" {
			t.Fatalf("%s in the deployment under test: version %q, %v; want 4", key, v, err)
		}
	}
}
