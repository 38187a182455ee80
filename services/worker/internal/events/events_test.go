package events

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

func TestEventID(t *testing.T) {
	tests := []struct {
		provider, tenant, source, item string
		want                           string
	}{
		{"petstore", "default", "9f4a", "", "petstore:default:9f4a"},
		{"bunjang", "default", "01K0AZRPB4N36H9NMDJRMYXM7A", "1001", "bunjang:default:01K0AZRPB4N36H9NMDJRMYXM7A:1001"},
	}
	for _, tt := range tests {
		if got := EventID(tt.provider, tt.tenant, tt.source, tt.item); got != tt.want {
			t.Errorf("EventID = %s, want %s", got, tt.want)
		}
	}
}

func TestMsgIsDeterministic(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	src := Source{Tenant: "default", Provider: "bunjang", OrderID: "100", SourceEventID: "E", ItemID: "7", OccurredAt: at, ReceivedAt: at}
	ap := Applied{PreviousStatus: "PAYMENT_RECEIVED", PreviousCanonical: ordersv1.OrderStatus_ORDER_STATUS_APPROVED,
		Status: "DELIVERED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_DELIVERED, Version: 2,
		Skipped: []ordersv1.OrderStatus{ordersv1.OrderStatus_ORDER_STATUS_SHIPPED}, AppliedAt: at, Seq: 42}
	a, err := Msg(Build(src, ap))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Msg(Build(src, ap))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Data, b.Data) {
		t.Fatalf("two builds differ")
	}
	if a.Subject != "orders.default.bunjang.status_changed" || a.Header.Get("Nats-Msg-Id") != "bunjang:default:E:7" ||
		a.Header.Get("Content-Type") != "application/protobuf" {
		t.Fatalf("msg = %s %v", a.Subject, a.Header)
	}
	var ev ordersv1.OrderStatusChanged
	if err := proto.Unmarshal(a.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetOrderItemId() != "7" || ev.GetVersion() != 2 || ev.GetSourceStreamSequence() != 42 || !ev.GetOccurredAt().AsTime().Equal(at) {
		t.Fatalf("event = %v", &ev)
	}
}

// fakeJS answers every async publish with ack or err.
type fakeJS struct{ err error }

type future struct {
	ok  chan *jetstream.PubAck
	err chan error
	msg *nats.Msg
}

func (f *future) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *future) Err() <-chan error            { return f.err }
func (f *future) Msg() *nats.Msg               { return f.msg }

func (j fakeJS) PublishMsgAsync(m *nats.Msg, _ ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	f := &future{ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1), msg: m}
	if j.err != nil {
		f.err <- j.err
	} else {
		f.ok <- &jetstream.PubAck{Stream: "ORDERS"}
	}
	return f, nil
}

func TestPublish(t *testing.T) {
	m := nats.NewMsg("orders.default.petstore.status_changed")
	m.Header.Set("Nats-Msg-Id", "petstore:default:e")
	if err := NewPublisher(fakeJS{}, time.Second).Publish(context.Background(), []*nats.Msg{m, m}); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	err := NewPublisher(fakeJS{err: jetstream.ErrNoStreamResponse}, time.Second).Publish(context.Background(), []*nats.Msg{m})
	if !errors.Is(err, ErrNotStored) || !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("Publish = %v, want ErrNotStored wrapping the cause", err)
	}
}

// flakyJS fails the first failures publishes with err, then acks.
type flakyJS struct {
	mu       sync.Mutex
	failures int
	err      error
	calls    int
}

func (j *flakyJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls++
	if j.calls <= j.failures {
		return fakeJS{err: j.err}.PublishMsgAsync(m, opts...)
	}
	return fakeJS{}.PublishMsgAsync(m, opts...)
}

// A leader election (no responders) is waited out within the timeout; an error a resend cannot
// fix is returned at the first attempt.
func TestPublishRetriesTransientFailures(t *testing.T) {
	m := nats.NewMsg("orders.default.petstore.status_changed")
	m.Header.Set("Nats-Msg-Id", "petstore:default:e")
	tests := []struct {
		name      string
		give      error
		wantErr   error
		wantCalls int
	}{
		{"no stream leader for a moment", jetstream.ErrNoStreamResponse, nil, 3},
		{"no ack from a dead leader", jetstream.ErrAsyncPublishTimeout, nil, 3},
		{"not retryable", jetstream.ErrInvalidJSAck, jetstream.ErrInvalidJSAck, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := &flakyJS{failures: 2, err: tt.give}
			err := NewPublisher(js, 10*time.Second).Publish(context.Background(), []*nats.Msg{m})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Publish = %v, want %v", err, tt.wantErr)
			}
			if js.calls != tt.wantCalls {
				t.Errorf("%d publishes, want %d", js.calls, tt.wantCalls)
			}
		})
	}
}

// encodes is what Check stands in for: whether the canonical event encodes.
func encodes(src Source, status string) bool {
	_, err := (proto.MarshalOptions{Deterministic: true}).Marshal(Build(src, Applied{Status: status}))
	return err == nil
}

// TestCheckAgreesWithEncoding: Check refuses exactly the transitions whose canonical event would
// not encode, whichever string is bad.
func TestCheckAgreesWithEncoding(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	good := Source{Tenant: "default", Provider: "bunjang", OrderID: "100", SourceEventID: "E", ItemID: "7", OccurredAt: at, ReceivedAt: at}
	const bad = "caf\xe9" // Latin-1, not UTF-8
	tests := []struct {
		name   string
		give   func(*Source)
		status string
		want   bool // encodes
	}{
		{name: "valid", give: func(*Source) {}, status: "SHIPPED", want: true},
		{name: "valid non-ASCII", give: func(s *Source) { s.OrderID = "주문-1" }, status: "배송중", want: true},
		{name: "empty strings", give: func(s *Source) { s.ItemID, s.OrderID = "", "" }, status: "", want: true},
		{name: "zero times", give: func(s *Source) { s.OccurredAt, s.ReceivedAt = time.Time{}, time.Time{} }, status: "SHIPPED", want: true},
		{name: "tenant", give: func(s *Source) { s.Tenant = bad }, status: "SHIPPED"},
		{name: "provider", give: func(s *Source) { s.Provider = bad }, status: "SHIPPED"},
		{name: "order id", give: func(s *Source) { s.OrderID = bad }, status: "SHIPPED"},
		{name: "source event id", give: func(s *Source) { s.SourceEventID = bad }, status: "SHIPPED"},
		{name: "item id", give: func(s *Source) { s.ItemID = bad }, status: "SHIPPED"},
		{name: "status", give: func(*Source) {}, status: bad},
		{name: "truncated sequence", give: func(s *Source) { s.OrderID = "\xed\x9f" }, status: "SHIPPED"},
		{name: "surrogate half", give: func(*Source) {}, status: "\xed\xa0\x80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := good
			tt.give(&src)
			if got := encodes(src, tt.status); got != tt.want {
				t.Fatalf("the event encodes: %t, the table says %t", got, tt.want)
			}
			err := Check(src, tt.status)
			if tt.want && err != nil {
				t.Fatalf("Check = %v, want nil: the event encodes", err)
			}
			if !tt.want && !errors.Is(err, ErrNotEncodable) {
				t.Fatalf("Check = %v, want ErrNotEncodable: the event does not encode", err)
			}
		})
	}
}

// FuzzCheck: for any strings, Check says yes exactly when the canonical event encodes.
func FuzzCheck(f *testing.F) {
	f.Add("default", "petstore", "o-1", "e-1", "", "SHIPPED")
	f.Add("default", "bunjang", "100", "01K0AZRPB4N36H9NMDJRMYXM7A", "1001", "caf\xe9")
	f.Fuzz(func(t *testing.T, tenant, provider, order, source, item, status string) {
		src := Source{Tenant: tenant, Provider: provider, OrderID: order, SourceEventID: source, ItemID: item}
		if ok, err := encodes(src, status), Check(src, status); ok != (err == nil) {
			t.Fatalf("encodes %t but Check = %v", ok, err)
		}
	})
}

// BenchmarkCheck: the pre-apply check as Check does it (UTF-8 validation of the strings), and as
// a full encode of the event would (what it replaced):
//
//	go test -run '^$' -bench BenchmarkCheck -benchmem ./services/worker/internal/events
func BenchmarkCheck(b *testing.B) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	src := Source{Tenant: "default", Provider: "petstore", OrderID: "019b4139-1234-7abc-8def-123456789abc",
		SourceEventID: "9f4a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c", OccurredAt: at, ReceivedAt: at}
	b.Run("utf8", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Check(src, "APPROVED"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !encodes(src, "APPROVED") {
				b.Fatal("does not encode")
			}
		}
	})
}
