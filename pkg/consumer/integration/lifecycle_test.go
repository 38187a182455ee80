package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consumer"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRunDrainsOnCancel: Run returns after its context ends, but only once the event in hand is
// finished and acknowledged; the handler's context stays live meanwhile.
func TestRunDrainsOnCancel(t *testing.T) {
	e := newEnv(t)
	seq := e.publish(sampleEvent("default", "petstore", "o-1", "e-1", 1))
	c, rec := e.newConsumer("drain")
	entered, release := make(chan struct{}), make(chan struct{})
	var handlerCtxErr error
	h := rec.handler(func(ctx context.Context, _ *ordersv1.OrderStatusChanged, _ int) error {
		close(entered)
		<-release
		handlerCtxErr = ctx.Err()
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, h) }()

	<-entered
	cancel()
	select {
	case err := <-errc:
		t.Fatalf("Run returned (%v) while a handler was still running", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its handler finished")
	}
	if handlerCtxErr != nil {
		t.Errorf("handler context ended during the drain: %v", handlerCtxErr)
	}
	_, results := rec.snapshot()
	if len(results) != 1 || results[0].Outcome != consumer.Acked {
		t.Errorf("results %+v, want one acked", results)
	}
	e.settled("drain", seq)
}

// TestDrainTimeout: a handler still running WithDrainTimeout after shutdown sees its context
// cancelled, and its event is retried rather than lost.
func TestDrainTimeout(t *testing.T) {
	e := newEnv(t)
	e.publish(sampleEvent("default", "petstore", "o-1", "e-1", 1))
	c, rec := e.newConsumer("drain-timeout", consumer.WithDrainTimeout(200*time.Millisecond))
	entered := make(chan struct{})
	h := rec.handler(func(ctx context.Context, _ *ordersv1.OrderStatusChanged, _ int) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, h) }()
	<-entered
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return: the drain timeout did not cancel the handler")
	}
	_, results := rec.snapshot()
	if len(results) != 1 || results[0].Outcome != consumer.Retried || !errors.Is(results[0].Err, context.Canceled) {
		t.Fatalf("results %+v, want one retried with context.Canceled", results)
	}
	cons, err := e.js.Consumer(e.ctx, streams.Orders, "drain-timeout")
	if err != nil {
		t.Fatal(err)
	}
	if ci := cons.CachedInfo(); ci.AckFloor.Stream != 0 || ci.NumAckPending != 1 {
		t.Errorf("ack floor %d, %d unacknowledged: want the unfinished event waiting for redelivery",
			ci.AckFloor.Stream, ci.NumAckPending)
	}
}

func TestRunReturnsWhenCancelledBeforeStart(t *testing.T) {
	e := newEnv(t)
	c, rec := e.newConsumer("cancelled")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, rec.handler(nil)) }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := c.Run(context.Background(), nil); !errors.Is(err, consumer.ErrNilHandler) {
		t.Errorf("Run(nil handler) = %v, want ErrNilHandler", err)
	}
}

func TestRunEndsWhenDurableDeleted(t *testing.T) {
	e := newEnv(t)
	c, rec := e.newConsumer("deleted")
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background(), rec.handler(nil)) }()
	// Once an event went through, Run is pulling from the durable.
	e.publish(sampleEvent("default", "petstore", "o-1", "e-1", 1))
	eventually(t, 15*time.Second, "the first event", func() bool { return rec.numResults() == 1 })
	if err := e.js.DeleteConsumer(e.ctx, streams.Orders, "deleted"); err != nil {
		t.Fatalf("delete consumer: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, consumer.ErrMessagesEnded) {
			t.Fatalf("Run = %v, want ErrMessagesEnded", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not notice its durable was deleted")
	}
}

func TestStartPosition(t *testing.T) {
	e := newEnv(t)
	e.publish(sampleEvent("default", "petstore", "o-1", "e-1", 1))
	secondSeq := e.publish(sampleEvent("default", "petstore", "o-1", "e-2", 2))
	stored, err := e.js.Stream(e.ctx, streams.Orders)
	if err != nil {
		t.Fatal(err)
	}
	second, err := stored.GetMsg(e.ctx, secondSeq)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		give []consumer.Option
		want []string
	}{
		{name: "all", want: []string{"petstore:default:e-1", "petstore:default:e-2", "petstore:default:e-3"}},
		{name: "since", give: []consumer.Option{consumer.WithStartTime(second.Time)}, want: []string{"petstore:default:e-2", "petstore:default:e-3"}},
		{name: "new", give: []consumer.Option{consumer.WithDeliverNew()}, want: []string{"petstore:default:e-3"}},
	}
	type started struct {
		c   *consumer.Consumer
		rec *recorder
	}
	var cs []started
	for _, tt := range tests {
		c, rec := e.newConsumer("start-"+tt.name, tt.give...)
		cs = append(cs, started{c, rec})
	}
	e.publish(sampleEvent("default", "petstore", "o-1", "e-3", 3))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.run(cs[i].c, cs[i].rec.handler(nil))
			eventually(t, 15*time.Second, "the events", func() bool { return cs[i].rec.numResults() >= len(tt.want) })
			e.quietInfo("start-" + tt.name)
			calls, _ := cs[i].rec.snapshot()
			var got []string
			for _, cl := range calls {
				got = append(got, cl.ev.EventId)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNewExistingDurable: New on an existing durable updates what may change and keeps the start
// position, which the server cannot change, so a restart with other start options still works.
func TestNewExistingDurable(t *testing.T) {
	e := newEnv(t)
	if _, err := consumer.New(e.ctx, e.js, "existing", consumer.WithDeliverNew(), consumer.WithAckWait(30*time.Second)); err != nil {
		t.Fatalf("first New: %v", err)
	}
	c, err := consumer.New(e.ctx, e.js, "existing", consumer.WithStartTime(time.Now().Add(-time.Hour)),
		consumer.WithAckWait(10*time.Second), consumer.WithMaxAckPending(7))
	if err != nil {
		t.Fatalf("second New: %v", err)
	}
	ci := e.quietInfo(c.Name())
	if ci.Config.DeliverPolicy != jetstream.DeliverNewPolicy || ci.Config.OptStartTime != nil {
		t.Errorf("deliver policy %v, start %v; want the original DeliverNew", ci.Config.DeliverPolicy, ci.Config.OptStartTime)
	}
	if ci.Config.AckWait != 10*time.Second || ci.Config.MaxAckPending != 7 {
		t.Errorf("AckWait %s, MaxAckPending %d; want the updated 10s and 7", ci.Config.AckWait, ci.Config.MaxAckPending)
	}
}

func TestNewWithoutStream(t *testing.T) {
	n := testkit.StartNATS(t)
	_, js := n.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := consumer.New(ctx, js, "nostream")
	if !errors.Is(err, jetstream.ErrStreamNotFound) || c != nil {
		t.Fatalf("New = %v, %v; want jetstream.ErrStreamNotFound", c, err)
	}
}

// TestSharedDurable: two processes with the same durable name share its events, each handled once.
func TestSharedDurable(t *testing.T) {
	e := newEnv(t)
	const total = 20
	var want []string
	for i := range total {
		ev := sampleEvent("default", "petstore", fmt.Sprintf("o-%d", i), fmt.Sprintf("e-%d", i), 1)
		want = append(want, ev.EventId)
		e.publish(ev)
	}
	var (
		mu  sync.Mutex
		got []string
	)
	h := func(_ context.Context, ev *ordersv1.OrderStatusChanged) error {
		mu.Lock()
		got = append(got, ev.EventId)
		mu.Unlock()
		return nil
	}
	for range 2 {
		c, _ := e.newConsumer("shared", consumer.WithConcurrency(2))
		e.run(c, h)
	}
	e.settled("shared", total)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("handled %d events %v, want each of the %d exactly once", len(got), got, total)
	}
}
