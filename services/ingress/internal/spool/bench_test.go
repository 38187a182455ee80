package spool

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The engine comparison (docs/operating.md, "Outage spool"): synced writes of a 1 KiB webhook from
// 64 concurrent writers.
//
//	go test -run '^$' -bench 'Spool' -benchtime 5000x ./internal/spool/

const benchBody = 1024

func benchMsg(i int64) (*nats.Msg, string) {
	m := nats.NewMsg("webhooks.petstore.default")
	m.Header.Set("Hookline-Event-Id", fmt.Sprint(i))
	m.Data = make([]byte, benchBody)
	return m, fmt.Sprintf("petstore:default:%d", i)
}

// bbolt with this package's group commit (one transaction and fsync per waiting group), with
// 64 concurrent writers; records/commit is the group size.
func BenchmarkSpoolBbolt(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(32) // x GOMAXPROCS writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m, id := benchMsg(n.Add(1))
			if err := s.Put(m, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(s.commits.Load()), "records/commit")
}

// Put from a few writers: a lone Put's latency is one commit (two fdatasyncs), and the group
// grows with the writers.
func BenchmarkSpoolPutWriters(b *testing.B) {
	for _, writers := range []int{1, 4, 16} {
		b.Run(fmt.Sprint(writers), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Int64
			b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m, id := benchMsg(n.Add(1))
					if err := s.Put(m, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/float64(s.commits.Load()), "records/commit")
		})
	}
}

// An embedded nats-server in the process, file-backed stream, sync_interval always, reached over
// the in-process connection (DontListen).
func BenchmarkSpoolEmbeddedJetStream(b *testing.B) {
	srv, err := server.NewServer(&server.Options{JetStream: true, StoreDir: b.TempDir(), DontListen: true,
		SyncAlways: true, NoLog: true, NoSigs: true})
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SPOOL", Subjects: []string{"webhooks.>"},
		Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m, id := benchMsg(n.Add(1))
			if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// One record of a typical webhook (1 KiB body, the ingress's headers) encoded and decoded: the
// per-request CPU the spool adds besides the commit, and the forwarder's per-record cost.
func benchRecord() *record {
	m, id := benchMsg(1)
	m.Header.Set("Hookline-Provider", "petstore")
	m.Header.Set("Hookline-Tenant", "default")
	m.Header.Set("Hookline-Event-Type", "order.paid")
	m.Header.Set("Hookline-Received-At", "2026-01-02T03:04:05.123456789Z")
	m.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return &record{Subject: m.Subject, MsgID: id, Header: m.Header, Data: m.Data, SpooledAt: time.Now().UTC()}
}

func BenchmarkEncode(b *testing.B) {
	r := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encode(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	v, err := encode(benchRecord())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(v); err != nil {
			b.Fatal(err)
		}
	}
}
