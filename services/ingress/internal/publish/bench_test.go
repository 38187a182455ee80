package publish_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkPublish is one webhook's publish as the ingress makes it: a 1 KiB message with a msg
// id, awaited until its PubAck, on a file stream of a nats-server in its own process (the
// allocations counted are the ingress's alone). "serial" is one request at a time, "parallel"
// 64 at once.
//
//	go test -run '^$' -bench BenchmarkPublish -benchmem ./services/ingress/internal/publish/
func BenchmarkPublish(b *testing.B) {
	n := testkit.StartNATSProcess(b)
	nc, js := n.Conn(b)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "B", Subjects: []string{"b.>"},
		Storage: jetstream.FileStorage, Duplicates: time.Minute}); err != nil {
		b.Fatal(err)
	}
	p, err := publish.New(nc, publish.Options{Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 1024)
	var id atomic.Uint64
	one := func(b *testing.B) {
		msg := nats.NewMsg("b.petstore.default")
		msg.Data = body
		msg.Header["Hookline-Event-Id"] = []string{"e"}
		if _, err := p.Publish(context.Background(), msg, "petstore:default:"+strconv.FormatUint(id.Add(1), 10)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			one(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32) // 64 in flight on two cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one(b)
			}
		})
	})
}
