package process

import (
	"bytes"
	"context"
	"errors"
	"github.com/hookline/hookline/pkg/providers/all"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/worker/internal/events"
	"github.com/hookline/hookline/services/worker/internal/metrics"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// fakeMsg is a WEBHOOKS message as the consume loop hands it over. Only what the handler reads is
// implemented; the embedded interface panics on anything else, which would fail the test.
type fakeMsg struct {
	jetstream.Msg
	subject   string
	data      []byte
	header    nats.Header
	seq       uint64
	delivered uint64
}

func (m *fakeMsg) Subject() string      { return m.subject }
func (m *fakeMsg) Data() []byte         { return m.data }
func (m *fakeMsg) Headers() nats.Header { return m.header }
func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq}, NumDelivered: m.delivered,
		Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
}

func petstoreMsg(seq uint64, eventID, orderID, status string) *fakeMsg {
	h := nats.Header{}
	h.Set(streams.HeaderEventID, eventID)
	h.Set(streams.HeaderEventType, "order.statusChanged")
	h.Set(streams.HeaderReceivedAt, "2025-01-01T00:00:01.5Z")
	return &fakeMsg{
		subject: "webhooks.petstore.default", seq: seq, delivered: 1, header: h,
		data: []byte(`{"eventId":"` + eventID + `","eventType":"order.statusChanged","timestamp":"2025-01-01T00:00:00Z","data":{"order":{"id":"` + orderID + `"},"newStatus":"` + status + `"}}`),
	}
}

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu   sync.Mutex
	msgs []*nats.Msg
	err  error
}

func (r *recorder) Publish(_ context.Context, msgs []*nats.Msg) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

var _ Publisher = (*recorder)(nil)

var errCrash = errors.New("simulated crash")

type fixture struct {
	h     *Handler
	pub   *recorder
	redis *testkit.Redis
	crash struct{ afterApply, afterPublish bool }
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	book, err := orders.NewBook(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{pub: &recorder{}, redis: testkit.StartRedis(t)}
	store := orders.NewStore(f.redis.Client(t), time.Hour)
	t.Cleanup(store.Close)
	clock := time.Date(2025, 1, 1, 0, 0, 2, 0, time.UTC)
	f.h = New(Options{
		Book: book, Store: store, Publisher: f.pub, Metrics: m, Log: zap.NewNop(),
		Backoff: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond},
		Now: func() time.Time {
			clock = clock.Add(time.Second) // a redelivery is applied "later": it must not show
			return clock
		},
		AfterApply: func() error {
			if f.crash.afterApply {
				f.crash.afterApply = false
				return errCrash
			}
			return nil
		},
		AfterPublish: func() error {
			if f.crash.afterPublish {
				f.crash.afterPublish = false
				return errCrash
			}
			return nil
		},
	})
	return f
}

func TestIntegrationRedeliveryRepublishesIdenticalEvent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg := petstoreMsg(5, "e-1", "o-1", "SHIPPED")

	f.crash.afterPublish = true
	if err := f.h.Handle(ctx, msg); !errors.Is(err, errCrash) {
		t.Fatalf("first delivery = %v, want the crash", err)
	}
	msg.delivered = 2
	if err := f.h.Handle(ctx, msg); err != nil {
		t.Fatalf("redelivery = %v", err)
	}
	if len(f.pub.msgs) != 2 {
		t.Fatalf("%d publishes, want 2 (the original and the re-publish)", len(f.pub.msgs))
	}
	a, b := f.pub.msgs[0], f.pub.msgs[1]
	if !bytes.Equal(a.Data, b.Data) || a.Subject != b.Subject || a.Header.Get(streams.HeaderMsgID) != "petstore:default:e-1" ||
		b.Header.Get(streams.HeaderMsgID) != "petstore:default:e-1" || b.Header.Get("Content-Type") != "application/protobuf" {
		t.Fatalf("re-publish differs:\n%v %x\n%v %x", a.Header, a.Data, b.Header, b.Data)
	}
	// Published and marked: a third delivery (the ack was lost) publishes nothing. The marker is
	// written asynchronously: wait for it.
	key := orders.EventKey("default", "petstore", "o-1", "e-1")
	rdb := f.redis.Client(t)
	deadline := time.Now().Add(5 * time.Second)
	for rdb.HGet(ctx, key, "p").Val() != "5" {
		if time.Now().After(deadline) {
			t.Fatalf("published marker never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	msg.delivered = 3
	if err := f.h.Handle(ctx, msg); err != nil {
		t.Fatalf("third delivery = %v", err)
	}
	if len(f.pub.msgs) != 2 {
		t.Fatalf("%d publishes after the marker, want 2", len(f.pub.msgs))
	}
}

func TestIntegrationCrashAfterApplyPublishesOnRedelivery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg := petstoreMsg(8, "e-1", "o-1", "PLACED")
	f.crash.afterApply = true
	if err := f.h.Handle(ctx, msg); !errors.Is(err, errCrash) {
		t.Fatalf("first delivery = %v, want the crash", err)
	}
	if len(f.pub.msgs) != 0 {
		t.Fatalf("published before the crash point")
	}
	if err := f.h.Handle(ctx, msg); err != nil || len(f.pub.msgs) != 1 {
		t.Fatalf("redelivery = %v with %d publishes, want nil and 1", err, len(f.pub.msgs))
	}
	// The same event from another stream message (a provider retry): acked, nothing published.
	if err := f.h.Handle(ctx, petstoreMsg(9, "e-1", "o-1", "PLACED")); err != nil || len(f.pub.msgs) != 1 {
		t.Fatalf("duplicate = %v with %d publishes, want nil and 1", err, len(f.pub.msgs))
	}
}

func TestIntegrationHandleErrors(t *testing.T) {
	tests := []struct {
		name            string
		msg             *fakeMsg
		redisDown       bool
		outageDLQ       bool
		publishErr      error
		wantDeadLetter  string // reason
		wantUnavailable time.Duration
		wantCounted     time.Duration // a retry that counts towards MaxDeliver
		wantNil         bool
	}{
		{name: "malformed", msg: &fakeMsg{subject: "webhooks.petstore.default", data: []byte(`{`), header: nats.Header{}, seq: 1, delivered: 1},
			wantDeadLetter: ReasonMalformed},
		{name: "bad subject", msg: &fakeMsg{subject: "webhooks.petstore", data: []byte(`{}`), header: nats.Header{}, seq: 1, delivered: 1},
			wantDeadLetter: ReasonMalformed},
		{name: "unhandled type", msg: &fakeMsg{subject: "webhooks.petstore.default", seq: 1, delivered: 1, header: nats.Header{},
			data: []byte(`{"eventId":"x","eventType":"pet.adopted","timestamp":"2024-12-16T10:31:00Z","data":{}}`)}, wantNil: true},
		{name: "redis down", msg: petstoreMsg(1, "e", "o", "PLACED"), redisDown: true, wantUnavailable: 10 * time.Millisecond},
		{name: "redis down, later delivery", msg: &fakeMsg{subject: "webhooks.petstore.default", seq: 1, delivered: 7, header: nats.Header{},
			data: petstoreMsg(1, "e", "o", "PLACED").data}, redisDown: true, wantUnavailable: 20 * time.Millisecond},
		{name: "nats down", msg: petstoreMsg(1, "e", "o", "PLACED"), publishErr: nats.ErrConnectionClosed, wantUnavailable: 10 * time.Millisecond},
		{name: "redis down, outages counted", msg: petstoreMsg(1, "e", "o", "PLACED"), redisDown: true, outageDLQ: true, wantCounted: 10 * time.Millisecond},
		{name: "nats down, outages counted", msg: petstoreMsg(1, "e", "o", "PLACED"), publishErr: nats.ErrConnectionClosed, outageDLQ: true, wantCounted: 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.h.o.OutageDLQ = tt.outageDLQ
			if tt.redisDown {
				f.redis.Stop()
			}
			f.pub.err = tt.publishErr
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := f.h.Handle(ctx, tt.msg)
			var dl *consume.DeadLetterError
			var re *consume.RetryError
			switch {
			case tt.wantNil:
				if err != nil {
					t.Fatalf("Handle = %v, want nil", err)
				}
			case tt.wantDeadLetter != "":
				if !errors.As(err, &dl) || dl.Reason != tt.wantDeadLetter {
					t.Fatalf("Handle = %v, want dead letter %s", err, tt.wantDeadLetter)
				}
			case tt.wantCounted > 0:
				if !errors.As(err, &re) || re.Unavailable || re.Delay != tt.wantCounted {
					t.Fatalf("Handle = %#v, want a counted retry after %s", err, tt.wantCounted)
				}
			default:
				if !errors.As(err, &re) || !re.Unavailable || re.Delay != tt.wantUnavailable {
					t.Fatalf("Handle = %#v, want Unavailable after %s", err, tt.wantUnavailable)
				}
			}
		})
	}
}

// TestIntegrationUnencodableIsPoisonBeforeApply: a transition whose canonical event protobuf
// cannot encode (here a tenant token that is not UTF-8, which the subject parser lets through)
// is dead-lettered before the apply step: Redis holds nothing and nothing is published (issue 10
// item 1; before, the order changed and the encode failed after the apply).
func TestIntegrationUnencodableIsPoisonBeforeApply(t *testing.T) {
	f := newFixture(t)
	msg := petstoreMsg(1, "e-1", "o-1", "PLACED")
	msg.subject = "webhooks.petstore.t\xff"
	err := f.h.Handle(context.Background(), msg)
	var dl *consume.DeadLetterError
	if !errors.As(err, &dl) || dl.Reason != ReasonMalformed || !errors.Is(err, events.ErrNotEncodable) {
		t.Fatalf("Handle = %v, want a %s dead letter wrapping ErrNotEncodable", err, ReasonMalformed)
	}
	n, err := f.redis.Client(t).DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || len(f.pub.msgs) != 0 {
		t.Fatalf("after a poison message: %d Redis keys and %d publishes, want none", n, len(f.pub.msgs))
	}
}
