package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/redisconn"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/nats-io/nats.go"
)

// BenchmarkWorkerThroughput is the load figure of BENCHMARKS.md: WEBHOOKS is pre-filled with b.N
// Petstore events (each a new transition over 5 000 orders: every one is consumed, applied in
// Redis, published to ORDERS and acked), then one worker runs until every message is acked. It
// reports events/s. Run it with a fixed count, and HOOKLINE_TEST_NATS=binary for the Debian
// nats-server in its own process:
//
//	HOOKLINE_TEST_NATS=binary go test -run '^$' -bench BenchmarkWorkerThroughput -benchtime 50000x ./services/worker/app
func BenchmarkWorkerThroughput(b *testing.B) {
	benchWorker(b, newEnv(b, false), nil)
}

// BenchmarkWorkerDurability is what acknowledging only replicated writes costs: the same load
// with a replica attached, without WAIT and with WAIT 1 after every pipeline, and on a Redis
// Cluster of 3 primaries and 3 replicas without and with WAIT. Compare the rates of one sitting:
//
//	HOOKLINE_TEST_NATS=binary go test -run '^$' -bench BenchmarkWorkerDurability -benchtime 30000x -count 3 ./services/worker/app
func BenchmarkWorkerDurability(b *testing.B) {
	for _, replicas := range []int{0, 1} {
		b.Run(fmt.Sprintf("replica/wait=%d", replicas), func(b *testing.B) {
			e := newEnv(b, false)
			replica := testkit.StartRedis(b)
			ctx := context.Background()
			if err := replica.Client(b).ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(e.redis.Port)).Err(); err != nil {
				b.Fatal(err)
			}
			rc := replica.Client(b)
			eventually(b, 20*time.Second, "replica in sync", func() bool {
				n, err := orders.DetectReplicas(ctx, e.rdb)
				info, ierr := rc.InfoMap(ctx, "replication").Result()
				return err == nil && ierr == nil && n == 1 && info["Replication"]["master_link_status"] == "up"
			})
			benchWorker(b, e, func(c *Config) { c.Redis.MinReplicas = replicas })
		})
	}
	for _, replicas := range []int{0, 1} {
		b.Run(fmt.Sprintf("cluster/wait=%d", replicas), func(b *testing.B) {
			c := testkit.StartRedisCluster(b)
			e := newNATSEnv(b)
			e.redisEnv = envMap{redisconn.EnvClusterAddrs: strings.Join(c.Addrs(), ",")}
			benchWorker(b, e, func(c *Config) { c.Redis.MinReplicas = replicas })
		})
	}
}

// benchWorker runs one worker over b.N pre-published events and reports events/s.
func benchWorker(b *testing.B, e *testEnv, mut func(*Config)) {
	statuses := []string{"PLACED", "APPROVED", "SHIPPED", "DELIVERED"}
	const orders = 5000
	msgs := make([]*nats.Msg, 0, b.N)
	for i := range b.N {
		step := (i / orders) % len(statuses)
		at := t0.Add(time.Duration(i) * time.Millisecond)
		msgs = append(msgs, petstoreStatus(fmt.Sprintf("b-%d", i), fmt.Sprintf("o-%d", i%orders), statuses[step], at).msg())
	}
	e.publish(msgs...)
	settings, err := LoadSettings(os.LookupEnv) // the defaults, or HOOKLINE_WORKER_* to compare
	if err != nil {
		b.Fatal(err)
	}
	cfg := e.config(func(c *Config) { c.Worker = settings })
	if mut != nil {
		mut(&cfg)
	}
	b.ResetTimer()
	start := time.Now()
	w := e.startWorker(cfg)
	eventually(b, 10*time.Minute, "every message acked", e.allAcked)
	took := time.Since(start)
	b.StopTimer()
	if err := w.stop(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/took.Seconds(), "events/s")
	if b.N >= 100 {
		if n := e.streamMsgs("ORDERS"); n == 0 {
			b.Fatalf("no canonical events published")
		}
	}
}
