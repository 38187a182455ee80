package orders

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/redis/go-redis/v9"
)

// BenchmarkApply measures the apply script: one Petstore transition per operation, spread over
// 1000 orders, each event new (so every call writes the state and the event record); "items" is
// a Bunjang event of three items, "duplicate" an event id already recorded. Beside the client's
// ns/op it reports the Redis server's side from INFO commandstats: redis-µs/op (time in commands,
// the scripts' own included), redis-cmds/op (commands run, those inside scripts included) and
// redis-reads/op (reads from clients: about one per pipeline, so 1/redis-reads/op is the
// average batch).
//
//	go test -run '^$' -bench BenchmarkApply -benchmem ./services/worker/internal/orders
func BenchmarkApply(b *testing.B) {
	book, err := NewBook(all.Registry())
	if err != nil {
		b.Fatal(err)
	}
	var rdb *redis.Client
	if addr := os.Getenv("HOOKLINE_BENCH_REDIS"); addr != "" {
		rdb = redis.NewClient(&redis.Options{Addr: addr})
	} else {
		rdb = testkit.StartRedis(b).Client(b)
	}
	store := NewStore(rdb, time.Hour)
	b.Cleanup(store.Close)
	lc := book.For(ProviderPetstore)
	statuses := []Status{lc.Resolve("PLACED"), lc.Resolve("APPROVED"), lc.Resolve("SHIPPED"), lc.Resolve("DELIVERED")}
	ctx := context.Background()
	var seq atomic.Uint64
	run := func(pb interface{ Next() bool }) {
		for pb.Next() {
			n := seq.Add(1)
			req := Request{
				Tenant: "default", Provider: ProviderPetstore, OrderID: "o-" + strconv.FormatUint(n%1000, 10),
				SourceEventID: "e-" + strconv.FormatUint(n, 10), Seq: n, AppliedAt: time.Now(),
				Units: []Unit{{Status: statuses[(n/1000)%4], OccurredAt: time.UnixMilli(int64(n))}},
			}
			if _, err := store.Apply(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		defer redisCost(b, rdb)()
		run(&loop{n: b.N})
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		defer redisCost(b, rdb)()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) { run(pb) })
	})
	blc := book.For(ProviderBunjang)
	items := []Status{blc.Resolve("PAYMENT_RECEIVED"), blc.Resolve("SHIPPED"), blc.Resolve("DELIVERED"), blc.Resolve("PURCHASE_CONFIRMED")}
	b.Run("items", func(b *testing.B) {
		b.ReportAllocs()
		defer redisCost(b, rdb)()
		for i := 0; b.Loop(); i++ {
			n := seq.Add(1)
			st := items[(i/1000)%4]
			req := Request{
				Tenant: "default", Provider: ProviderBunjang, OrderID: strconv.Itoa(i % 1000), Items: true,
				SourceEventID: "b-" + strconv.FormatUint(n, 10), Seq: n, AppliedAt: time.Now(),
				Units: []Unit{{ItemID: "1", Status: st, OccurredAt: time.UnixMilli(int64(n))},
					{ItemID: "2", Status: st, OccurredAt: time.UnixMilli(int64(n))}, {ItemID: "3", Status: st, OccurredAt: time.UnixMilli(int64(n))}},
			}
			if _, err := store.Apply(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	dup := Request{
		Tenant: "default", Provider: ProviderPetstore, OrderID: "dup", SourceEventID: "dup-1", Seq: seq.Add(1), AppliedAt: time.Now(),
		Units: []Unit{{Status: statuses[1], OccurredAt: time.Now()}},
	}
	if _, err := store.Apply(ctx, dup); err != nil {
		b.Fatal(err)
	}
	b.Run("duplicate", func(b *testing.B) {
		b.ReportAllocs()
		defer redisCost(b, rdb)()
		for b.Loop() {
			res, err := store.Apply(ctx, dup)
			if err != nil || !res.Outcomes[0].Recorded {
				b.Fatalf("Apply = %+v, %v; want recorded", res, err)
			}
		}
	})
}

// redisCost resets Redis's command statistics; the function it returns reports the server's
// time and commands per operation since then.
func redisCost(b *testing.B, rdb *redis.Client) func() {
	ctx := context.Background()
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	return func() {
		info, err := rdb.Info(ctx, "commandstats", "stats").Result()
		if err != nil {
			b.Fatal(err)
		}
		var calls, usec, reads float64
		for _, line := range strings.Split(info, "\n") {
			name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
			if name == "total_reads_processed" {
				reads, _ = strconv.ParseFloat(stats, 64)
			}
			if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_config" || name == "cmdstat_info" {
				continue
			}
			for _, kv := range strings.Split(stats, ",") {
				k, v, _ := strings.Cut(kv, "=")
				f, _ := strconv.ParseFloat(v, 64)
				switch k {
				case "calls":
					calls += f
				case "usec":
					if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
						usec += f // a script's time includes its commands'
					}
				}
			}
		}
		b.ReportMetric(usec/float64(b.N), "redis-µs/op")
		b.ReportMetric(calls/float64(b.N), "redis-cmds/op")
		b.ReportMetric(reads/float64(b.N), "redis-reads/op")
	}
}

type loop struct{ n, i int }

func (l *loop) Next() bool { l.i++; return l.i <= l.n }
