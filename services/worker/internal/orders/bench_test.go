package orders

import (
	"context"
	"github.com/hookline/hookline/pkg/providers/all"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	"github.com/redis/go-redis/v9"
)

// BenchmarkApply measures the apply script: one Petstore transition per operation, spread over
// 1000 orders, each event new (so every call writes the state and the event record).
//
//	go test -run '^$' -bench BenchmarkApply -benchmem ./services/worker/internal/orders
func BenchmarkApply(b *testing.B) {
	book, err := NewBook(all.Registry())
	if err != nil {
		b.Fatal(err)
	}
	var store *Store
	if addr := os.Getenv("HOOKLINE_BENCH_REDIS"); addr != "" {
		store = NewStore(redis.NewClient(&redis.Options{Addr: addr}), time.Hour)
	} else {
		store = NewStore(testkit.StartRedis(b).Client(b), time.Hour)
	}
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
		run(&loop{n: b.N})
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) { run(pb) })
	})
}

type loop struct{ n, i int }

func (l *loop) Next() bool { l.i++; return l.i <= l.n }
