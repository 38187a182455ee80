package spool

import (
	"context"
	"fmt"
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

// bbolt with this package's group commit (one transaction and fsync per waiting group).
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
