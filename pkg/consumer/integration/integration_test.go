package consumer_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consumer"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// env is one NATS server with the Hookline streams.
type env struct {
	t   *testing.T
	js  jetstream.JetStream
	ctx context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js, ctx := testkit.StartNATSWithStreams(t)
	return &env{t: t, js: js, ctx: ctx}
}

// publish stores ev on ORDERS the way the worker does and returns its stream sequence.
func (e *env) publish(ev *ordersv1.OrderStatusChanged) uint64 {
	e.t.Helper()
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		e.t.Fatalf("marshal: %v", err)
	}
	m := nats.NewMsg(streams.OrderSubject(ev.GetTenantId(), ev.GetProvider()))
	m.Data = data
	m.Header.Set(streams.HeaderMsgID, ev.GetEventId())
	m.Header.Set(streams.HeaderContentType, streams.ContentTypeProtobuf)
	return e.publishMsg(m)
}

func (e *env) publishMsg(m *nats.Msg) uint64 {
	e.t.Helper()
	ack, err := e.js.PublishMsg(e.ctx, m)
	if err != nil {
		e.t.Fatalf("publish %s: %v", m.Subject, err)
	}
	return ack.Sequence
}

// newConsumer creates a consumer that reports into the returned recorder.
func (e *env) newConsumer(name string, opts ...consumer.Option) (*consumer.Consumer, *recorder) {
	e.t.Helper()
	rec := &recorder{}
	opts = append([]consumer.Option{
		consumer.WithLogger(slog.New(slog.DiscardHandler)),
		consumer.WithOnResult(rec.result),
	}, opts...)
	c, err := consumer.New(e.ctx, e.js, name, opts...)
	if err != nil {
		e.t.Fatalf("consumer.New(%s): %v", name, err)
	}
	return c, rec
}

// run starts c.Run; stop cancels it and fails the test unless Run returns nil.
func (e *env) run(c *consumer.Consumer, h consumer.Handler) (stop func()) {
	e.t.Helper()
	stop, _ = testkit.RunInBackground(e.t, func(ctx context.Context) error { return c.Run(ctx, h) })
	return stop
}

// settled waits until the durable has nothing pending or unacknowledged and its ack floor has
// reached floor.
func (e *env) settled(name string, floor uint64) *jetstream.ConsumerInfo {
	e.t.Helper()
	return e.waitInfo(name, func(ci *jetstream.ConsumerInfo) bool {
		return ci.NumAckPending == 0 && ci.NumPending == 0 && ci.AckFloor.Stream == floor
	})
}

// quiet waits until the durable has nothing pending or unacknowledged.
func (e *env) quietInfo(name string) *jetstream.ConsumerInfo {
	e.t.Helper()
	return e.waitInfo(name, func(ci *jetstream.ConsumerInfo) bool {
		return ci.NumAckPending == 0 && ci.NumPending == 0
	})
}

func (e *env) waitInfo(name string, cond func(*jetstream.ConsumerInfo) bool) *jetstream.ConsumerInfo {
	e.t.Helper()
	var ci *jetstream.ConsumerInfo
	eventually(e.t, 15*time.Second, name+" to settle", func() bool {
		c, err := e.js.Consumer(e.ctx, streams.Orders, name)
		if err != nil {
			e.t.Fatalf("consumer %s: %v", name, err)
		}
		ci = c.CachedInfo()
		return cond(ci)
	})
	return ci
}

// dlq returns the messages on the DLQ stream.
func (e *env) dlq() []*jetstream.RawStreamMsg {
	e.t.Helper()
	return testkit.StreamMsgs(e.t, e.ctx, e.js, streams.DLQ)
}

// recorder keeps what handlers saw and what Run reported.
type recorder struct {
	mu      sync.Mutex
	calls   []call
	results []consumer.Result
}

type call struct {
	ev     *ordersv1.OrderStatusChanged
	meta   consumer.Metadata
	metaOK bool
}

// handler records each call, then answers with next (nil answers nil).
func (r *recorder) handler(next func(ctx context.Context, ev *ordersv1.OrderStatusChanged, n int) error) consumer.Handler {
	return func(ctx context.Context, ev *ordersv1.OrderStatusChanged) error {
		m, ok := consumer.Meta(ctx)
		r.mu.Lock()
		r.calls = append(r.calls, call{ev: ev, meta: m, metaOK: ok})
		n := len(r.calls)
		r.mu.Unlock()
		if next == nil {
			return nil
		}
		return next(ctx, ev, n)
	}
}

func (r *recorder) result(res consumer.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
}

func (r *recorder) snapshot() ([]call, []consumer.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls), slices.Clone(r.results)
}

func (r *recorder) numResults() int {
	_, res := r.snapshot()
	return len(res)
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, within, what, cond)
}

func TestRunReceivesCanonicalEvents(t *testing.T) {
	e := newEnv(t)
	sent := []*ordersv1.OrderStatusChanged{
		sampleEvent("default", "petstore", "o-1", "e-1", 1),
		sampleEvent("default", "petstore", "o-1", "e-2", 2),
		sampleEvent("6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab", "bunjang", "1001", "01K0AZRPB4N36H9NMDJRMYXM7A", 1),
		sampleEvent("default", "acme", "o-9", "msg_2", 3),
	}
	sent[2].OrderItemId = "77"
	sent[2].EventId += ":77"
	for _, ev := range sent {
		e.publish(ev)
	}
	// A re-publish inside the duplicate window (a worker redelivery) is not stored again.
	e.publish(sent[0])

	c, rec := e.newConsumer("all")
	if c.Name() != "all" || c.FilterSubject() != "orders.*.*.status_changed" {
		t.Fatalf("Name %q, FilterSubject %q", c.Name(), c.FilterSubject())
	}
	e.run(c, rec.handler(nil))
	e.settled("all", uint64(len(sent)))
	eventually(t, 5*time.Second, "every result", func() bool { return rec.numResults() >= len(sent) })
	calls, results := rec.snapshot()
	if len(calls) != len(sent) {
		t.Fatalf("handler called %d times, want %d", len(calls), len(sent))
	}
	for i, cl := range calls {
		if !proto.Equal(cl.ev, sent[i]) {
			t.Errorf("call %d: got %v, want %v", i, cl.ev, sent[i])
		}
		want := consumer.Metadata{
			Subject: streams.OrderSubject(sent[i].TenantId, sent[i].Provider), Stream: streams.Orders,
			Consumer: "all", StreamSeq: uint64(i + 1), NumDelivered: 1,
		}
		m := cl.meta
		if !cl.metaOK || m.Subject != want.Subject || m.Stream != want.Stream || m.Consumer != want.Consumer ||
			m.StreamSeq != want.StreamSeq || m.NumDelivered != want.NumDelivered || m.Timestamp.IsZero() {
			t.Errorf("call %d: meta %+v (ok %v), want %+v", i, m, cl.metaOK, want)
		}
		if got := m.Header.Get(streams.HeaderMsgID); got != sent[i].EventId {
			t.Errorf("call %d: Nats-Msg-Id %q, want %q", i, got, sent[i].EventId)
		}
	}
	for i, r := range results {
		if r.Outcome != consumer.Acked || r.Err != nil || r.Event == nil {
			t.Errorf("result %d: %+v, want acked", i, r)
		}
	}
}

func TestHandlerErrorRedelivers(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		e.publish(sampleEvent("default", "petstore", "o-1", "e-"+strconv.Itoa(i), int64(i)))
	}
	failing := "petstore:default:e-2"
	c, rec := e.newConsumer("retry", consumer.WithBackoff(100*time.Millisecond), consumer.WithAckWait(time.Second))
	var failed sync.Once
	e.run(c, rec.handler(func(_ context.Context, ev *ordersv1.OrderStatusChanged, _ int) error {
		err := error(nil)
		if ev.EventId == failing {
			failed.Do(func() { err = errors.New("downstream database down") })
		}
		return err
	}))
	e.settled("retry", 3)
	// Longer than AckWait: an event left unacknowledged would be back by now.
	time.Sleep(1500 * time.Millisecond)
	calls, results := rec.snapshot()
	if len(calls) != 4 {
		t.Fatalf("handler called %d times, want 4 (3 events, one retried once)", len(calls))
	}
	acked := map[string]int{}
	var deliveries []uint64
	for _, r := range results {
		if r.Event.EventId == failing {
			deliveries = append(deliveries, r.Meta.NumDelivered)
		}
		if r.Outcome == consumer.Acked {
			acked[r.Event.EventId]++
		}
	}
	if !slices.Equal(deliveries, []uint64{1, 2}) {
		t.Errorf("deliveries of %s: %v, want [1 2]", failing, deliveries)
	}
	for i := 1; i <= 3; i++ {
		if id := "petstore:default:e-" + strconv.Itoa(i); acked[id] != 1 {
			t.Errorf("%s acked %d times, want 1", id, acked[id])
		}
	}
	var retried []consumer.Result
	for _, r := range results {
		if r.Outcome == consumer.Retried {
			retried = append(retried, r)
		}
	}
	if len(retried) != 1 || retried[0].Delay != 100*time.Millisecond || retried[0].Err == nil {
		t.Errorf("retried results %+v, want one with delay 100ms and the error", retried)
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t)
	for _, tp := range [][2]string{{"default", "petstore"}, {"default", "bunjang"}, {"t2", "petstore"}, {"t2", "bunjang"}} {
		e.publish(sampleEvent(tp[0], tp[1], "o-1", "e-1", 1))
	}
	tests := []struct {
		name string
		give []consumer.Option
		want []string // event ids
	}{
		{name: "tenant", give: []consumer.Option{consumer.WithTenant("default")},
			want: []string{"petstore:default:e-1", "bunjang:default:e-1"}},
		{name: "provider", give: []consumer.Option{consumer.WithProvider("bunjang")},
			want: []string{"bunjang:default:e-1", "bunjang:t2:e-1"}},
		{name: "both", give: []consumer.Option{consumer.WithTenant("t2"), consumer.WithProvider("petstore")},
			want: []string{"petstore:t2:e-1"}},
		{name: "unknown tenant", give: []consumer.Option{consumer.WithTenant("nobody")}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "filter-" + strconv.Itoa(i)
			c, rec := e.newConsumer(name, tt.give...)
			e.run(c, rec.handler(nil))
			eventually(t, 15*time.Second, "the events", func() bool { return rec.numResults() >= len(tt.want) })
			ci := e.quietInfo(name)
			calls, _ := rec.snapshot()
			var got []string
			for _, cl := range calls {
				got = append(got, cl.ev.EventId)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if ci.Config.FilterSubject != c.FilterSubject() {
				t.Errorf("server filter %q, consumer says %q", ci.Config.FilterSubject, c.FilterSubject())
			}
		})
	}
}
