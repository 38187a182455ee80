package app

import (
	"fmt"
	"os"
	"testing"
	"time"

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
	e := newEnv(b, false)
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
