package consume_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/logging"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"
)

const subject = "webhooks.petstore.default"

// harness is one NATS server with the Hookline streams and a durable consumer on WEBHOOKS.
type harness struct {
	t    *testing.T
	js   jetstream.JetStream
	cons jetstream.Consumer
	ctx  context.Context

	mu    sync.Mutex
	calls []call
	done  []consume.Outcome
}

// call is one handler invocation.
type call struct {
	at        time.Time
	delivered uint64
	data      string
}

func newHarness(t *testing.T, ackWait time.Duration) *harness {
	t.Helper()
	js, ctx := testkit.StartNATSWithStreams(t)
	cons, err := js.CreateOrUpdateConsumer(ctx, streams.Webhooks, jetstream.ConsumerConfig{
		Durable:    "test",
		AckPolicy:  jetstream.AckExplicitPolicy,
		MaxDeliver: -1,
		AckWait:    ackWait,
	})
	if err != nil {
		t.Fatalf("create consumer: %v", err)
	}
	return &harness{t: t, js: js, cons: cons, ctx: ctx}
}

func (h *harness) publish(data string, opts ...jetstream.PublishOpt) {
	h.t.Helper()
	h.publishMsg(&nats.Msg{Subject: subject, Data: []byte(data)}, opts...)
}

func (h *harness) publishMsg(m *nats.Msg, opts ...jetstream.PublishOpt) {
	h.t.Helper()
	if _, err := h.js.PublishMsg(h.ctx, m, opts...); err != nil {
		h.t.Fatalf("publish: %v", err)
	}
}

// record wraps a handler so every call is recorded.
func (h *harness) record(next func(ctx context.Context, msg jetstream.Msg, n int) error) consume.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		var delivered uint64
		if meta, err := msg.Metadata(); err == nil {
			delivered = meta.NumDelivered
		}
		h.mu.Lock()
		h.calls = append(h.calls, call{at: time.Now(), delivered: delivered, data: string(msg.Data())})
		n := len(h.calls)
		h.mu.Unlock()
		return next(ctx, msg, n)
	}
}

func (h *harness) snapshot() ([]call, []consume.Outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]call(nil), h.calls...), append([]consume.Outcome(nil), h.done...)
}

func (h *harness) numCalls() int {
	c, _ := h.snapshot()
	return len(c)
}

// run starts a loop; the returned stop cancels it and waits for Run to return.
func (h *harness) run(handler consume.Handler, o consume.Options) (stop func(), returned <-chan error) {
	h.t.Helper()
	o.OnDone = func(r consume.Result) {
		h.mu.Lock()
		h.done = append(h.done, r.Outcome)
		h.mu.Unlock()
	}
	l := consume.New(h.cons, h.js, handler, logging.NewKV(zaptest.NewLogger(h.t)), o)
	return testkit.RunInBackground(h.t, l.Run)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, within, what, cond)
}

func (h *harness) info() *jetstream.ConsumerInfo {
	h.t.Helper()
	ci, err := h.cons.Info(h.ctx)
	if err != nil {
		h.t.Fatalf("consumer info: %v", err)
	}
	return ci
}

// settled waits until the consumer has nothing pending and nothing awaiting an ack.
func (h *harness) settled(ackFloor uint64) {
	h.t.Helper()
	var ci *jetstream.ConsumerInfo
	eventually(h.t, 10*time.Second, "consumer to settle", func() bool {
		ci = h.info()
		return ci.NumAckPending == 0 && ci.NumPending == 0 && ci.AckFloor.Stream == ackFloor
	})
}

// dlqMsgs returns the messages on the DLQ stream.
func (h *harness) dlqMsgs() []*jetstream.RawStreamMsg {
	h.t.Helper()
	return testkit.StreamMsgs(h.t, h.ctx, h.js, streams.DLQ)
}

func (h *harness) dlqCount() uint64 {
	h.t.Helper()
	s, err := h.js.Stream(h.ctx, streams.DLQ)
	if err != nil {
		return 0
	}
	info, err := s.Info(h.ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

func TestAck(t *testing.T) {
	h := newHarness(t, time.Second)
	for i := range 3 {
		h.publish("m" + strconv.Itoa(i))
	}
	h.run(h.record(func(context.Context, jetstream.Msg, int) error { return nil }), consume.Options{Workers: 2})
	eventually(t, 10*time.Second, "3 calls", func() bool { return h.numCalls() >= 3 })
	h.settled(3)
	// Nothing comes back after the ack wait.
	time.Sleep(1500 * time.Millisecond)
	calls, outcomes := h.snapshot()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3 (acked messages were redelivered)", len(calls))
	}
	for i, c := range calls {
		if c.delivered != 1 {
			t.Errorf("call %d: delivery %d, want 1", i, c.delivered)
		}
	}
	if len(outcomes) != 3 || outcomes[0] != consume.Acked || outcomes[1] != consume.Acked || outcomes[2] != consume.Acked {
		t.Errorf("outcomes %v, want 3× ack", outcomes)
	}
	if ci := h.info(); ci.NumRedelivered != 0 {
		t.Errorf("NumRedelivered %d", ci.NumRedelivered)
	}
}

func TestRetryDelay(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	h.publish("x")
	const delay = 1500 * time.Millisecond
	var firstDone time.Time
	h.run(h.record(func(_ context.Context, _ jetstream.Msg, n int) error {
		if n == 1 {
			h.mu.Lock()
			firstDone = time.Now()
			h.mu.Unlock()
			return consume.Retry(delay, errors.New("not yet"))
		}
		return nil
	}), consume.Options{
		Workers: 2,
		// Far longer than the test waits: the redelivery must follow the Retry delay.
		Backoff: []time.Duration{time.Minute},
	})
	eventually(t, 15*time.Second, "the redelivery", func() bool { return h.numCalls() >= 2 })
	h.settled(1)
	calls, outcomes := h.snapshot()
	h.mu.Lock()
	gap := calls[1].at.Sub(firstDone)
	h.mu.Unlock()
	if gap < delay-100*time.Millisecond {
		t.Errorf("redelivered %s after the retry, want at least about %s", gap, delay)
	}
	if calls[1].delivered != 2 {
		t.Errorf("second call is delivery %d, want 2", calls[1].delivered)
	}
	if len(outcomes) != 2 || outcomes[0] != consume.Retried || outcomes[1] != consume.Acked {
		t.Errorf("outcomes %v, want [retry ack]", outcomes)
	}
	if n := h.dlqCount(); n != 0 {
		t.Errorf("%d DLQ messages, want 0", n)
	}
}

func TestDeadLetter(t *testing.T) {
	h := newHarness(t, time.Second)
	m := nats.NewMsg(subject)
	m.Data = []byte(`{"eventId":"e1"}`)
	m.Header.Set(streams.HeaderProvider, "petstore")
	m.Header.Set(streams.HeaderEventID, "e1")
	m.Header["X-Multi"] = []string{"a", "b"}
	// The ingress publishes with a msg id and may pin the stream; neither may break the DLQ copy.
	h.publishMsg(m, jetstream.WithMsgID("petstore:default:e1"), jetstream.WithExpectStream(streams.Webhooks))

	h.run(h.record(func(context.Context, jetstream.Msg, int) error {
		return consume.DeadLetter("poison", errors.New("bad envelope"), map[string]string{"Hookline-Dlq-Detail": "eventType missing"})
	}), consume.Options{Workers: 2, Backoff: []time.Duration{100 * time.Millisecond}})

	eventually(t, 10*time.Second, "the DLQ copy", func() bool { return h.dlqCount() >= 1 })
	h.settled(1)
	time.Sleep(1500 * time.Millisecond) // longer than AckWait: a non-termed message would be back
	calls, outcomes := h.snapshot()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1 (the dead-lettered message came back)", len(calls))
	}
	if len(outcomes) != 1 || outcomes[0] != consume.DeadLettered {
		t.Errorf("outcomes %v, want [dlq]", outcomes)
	}
	msgs := h.dlqMsgs()
	if len(msgs) != 1 {
		t.Fatalf("%d DLQ messages, want 1", len(msgs))
	}
	d := msgs[0]
	if d.Subject != streams.DLQSubject(subject) {
		t.Errorf("DLQ subject %q", d.Subject)
	}
	if string(d.Data) != `{"eventId":"e1"}` {
		t.Errorf("DLQ body %q", d.Data)
	}
	want := map[string]string{
		streams.HeaderProvider:      "petstore",
		streams.HeaderEventID:       "e1",
		streams.HeaderDLQReason:     "poison",
		streams.HeaderDLQStreamSeq:  "1",
		streams.HeaderDLQDeliveries: "1",
		"Hookline-Dlq-Detail":       "eventType missing",
	}
	for k, v := range want {
		if got := d.Header.Get(k); got != v {
			t.Errorf("DLQ header %s = %q, want %q", k, got, v)
		}
	}
	if got := d.Header.Values("X-Multi"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("DLQ header X-Multi = %v, want [a b]", got)
	}
	if got := d.Header.Get(streams.HeaderDLQError); !strings.Contains(got, "bad envelope") {
		t.Errorf("DLQ error header %q", got)
	}
}

func TestMaxDeliveries(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	h.publish("always fails")
	backoff := []time.Duration{300 * time.Millisecond, 600 * time.Millisecond}
	h.run(h.record(func(context.Context, jetstream.Msg, int) error {
		return errors.New("boom")
	}), consume.Options{Workers: 2, MaxDeliver: 3, Backoff: backoff})

	eventually(t, 15*time.Second, "the DLQ copy", func() bool { return h.dlqCount() >= 1 })
	h.settled(1)
	time.Sleep(1200 * time.Millisecond) // twice the longest backoff: no fourth delivery
	calls, outcomes := h.snapshot()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
	for i, c := range calls {
		if c.delivered != uint64(i+1) {
			t.Errorf("call %d is delivery %d", i, c.delivered)
		}
	}
	for i, min := range backoff {
		if gap := calls[i+1].at.Sub(calls[i].at); gap < min-50*time.Millisecond {
			t.Errorf("delivery %d came %s after delivery %d, want at least %s", i+2, gap, i+1, min)
		}
	}
	if len(outcomes) != 3 || outcomes[0] != consume.Retried || outcomes[1] != consume.Retried || outcomes[2] != consume.DeadLettered {
		t.Errorf("outcomes %v, want [retry retry dlq]", outcomes)
	}
	msgs := h.dlqMsgs()
	if len(msgs) != 1 {
		t.Fatalf("%d DLQ messages, want 1", len(msgs))
	}
	if r := msgs[0].Header.Get(streams.HeaderDLQReason); r != consume.ReasonMaxDeliveries {
		t.Errorf("reason %q, want %q", r, consume.ReasonMaxDeliveries)
	}
	if d := msgs[0].Header.Get(streams.HeaderDLQDeliveries); d != "3" {
		t.Errorf("deliveries %q, want 3", d)
	}
	if string(msgs[0].Data) != "always fails" {
		t.Errorf("body %q", msgs[0].Data)
	}
}

func TestDeadLetterPublishFailsIsNotTermed(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	if err := h.js.DeleteStream(h.ctx, streams.DLQ); err != nil {
		t.Fatalf("delete DLQ: %v", err)
	}
	h.publish("poison")
	h.run(h.record(func(ctx context.Context, _ jetstream.Msg, n int) error {
		if n == 2 {
			// The DLQ is back for the second delivery.
			if err := streams.Ensure(ctx, h.js, streams.Options{}); err != nil {
				t.Errorf("recreate streams: %v", err)
			}
		}
		return consume.DeadLetter("poison", errors.New("bad"), nil)
	}), consume.Options{Workers: 2, Backoff: []time.Duration{200 * time.Millisecond}})

	eventually(t, 15*time.Second, "the second delivery to reach the DLQ", func() bool { return h.dlqCount() >= 1 })
	h.settled(1)
	calls, outcomes := h.snapshot()
	if len(calls) != 2 || calls[1].delivered != 2 {
		t.Fatalf("calls %+v, want a second delivery", calls)
	}
	if len(outcomes) != 2 || outcomes[0] != consume.Retried || outcomes[1] != consume.DeadLettered {
		t.Errorf("outcomes %v, want [retry dlq]", outcomes)
	}
	msgs := h.dlqMsgs()
	if len(msgs) != 1 || msgs[0].Header.Get(streams.HeaderDLQDeliveries) != "2" {
		t.Fatalf("DLQ holds %d messages, want 1 with 2 deliveries", len(msgs))
	}
}

func TestMaxDeliveriesDLQDownKeepsMessage(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	if err := h.js.DeleteStream(h.ctx, streams.DLQ); err != nil {
		t.Fatalf("delete DLQ: %v", err)
	}
	h.publish("x")
	h.run(h.record(func(context.Context, jetstream.Msg, int) error { return errors.New("boom") }),
		consume.Options{Workers: 1, MaxDeliver: 1, Backoff: []time.Duration{100 * time.Millisecond}})
	// MaxDeliver is reached at once, the DLQ is down, so the message keeps coming back.
	eventually(t, 15*time.Second, "redeliveries", func() bool { return h.numCalls() >= 3 })
	_, outcomes := h.snapshot()
	for i, o := range outcomes {
		if o != consume.Retried {
			t.Fatalf("outcome %d = %s, want retry while the DLQ is down", i, o)
		}
	}
}

func TestDrainOnCancel(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	for i := range 3 {
		h.publish("m" + strconv.Itoa(i))
	}
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	var ctxErr error
	stop, returned := h.run(h.record(func(ctx context.Context, _ jetstream.Msg, _ int) error {
		started <- struct{}{}
		<-release
		h.mu.Lock()
		if ctxErr == nil {
			ctxErr = ctx.Err()
		}
		h.mu.Unlock()
		return nil
	}), consume.Options{Workers: 1, Batch: 3})

	<-started
	// All three messages are with the client: one in hand, two buffered.
	eventually(t, 10*time.Second, "3 messages delivered", func() bool { return h.info().NumAckPending == 3 })
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-returned:
		t.Fatal("Run returned while a handler was still running")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(35 * time.Second):
		t.Fatal("Run did not return after the handlers finished")
	}
	calls, outcomes := h.snapshot()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want the one in hand and the two buffered", len(calls))
	}
	for i, o := range outcomes {
		if o != consume.Acked {
			t.Errorf("outcome %d = %s, want ack", i, o)
		}
	}
	h.settled(3)
	h.mu.Lock()
	defer h.mu.Unlock()
	if ctxErr != nil {
		t.Errorf("handlers saw a cancelled context during drain: %v", ctxErr)
	}
}

func TestDrainTwoWorkers(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	h.publish("a")
	h.publish("b")
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	stop, _ := h.run(h.record(func(context.Context, jetstream.Msg, int) error {
		started <- struct{}{}
		<-release
		return nil
	}), consume.Options{Workers: 2, Batch: 2})
	<-started
	<-started
	go func() { time.Sleep(200 * time.Millisecond); close(release) }()
	stop()
	if n := h.numCalls(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	h.settled(2)
}

func TestInProgressKeepsSlowHandlerAlive(t *testing.T) {
	const ackWait = 2 * time.Second
	h := newHarness(t, ackWait)
	h.publish("slow")
	h.run(h.record(func(context.Context, jetstream.Msg, int) error {
		time.Sleep(2*ackWait + 500*time.Millisecond)
		return nil
	}), consume.Options{Workers: 2, AckWait: ackWait})

	eventually(t, 30*time.Second, "the slow handler to finish", func() bool {
		_, outcomes := h.snapshot()
		return len(outcomes) >= 1
	})
	h.settled(1)
	time.Sleep(ackWait + 500*time.Millisecond)
	calls, _ := h.snapshot()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1: the message was redelivered while its handler ran", len(calls))
	}
	if ci := h.info(); ci.NumRedelivered != 0 {
		t.Fatalf("NumRedelivered %d, want 0", ci.NumRedelivered)
	}
}

func TestRunEndsWithErrorWhenConsumerDeleted(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	h.publish("a")
	l := consume.New(h.cons, h.js, h.record(func(context.Context, jetstream.Msg, int) error { return nil }),
		logging.NewKV(zaptest.NewLogger(t)), consume.Options{Workers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx) }()
	eventually(t, 10*time.Second, "the first message", func() bool { return h.numCalls() == 1 })
	if err := h.js.DeleteConsumer(h.ctx, streams.Webhooks, "test"); err != nil {
		t.Fatalf("delete consumer: %v", err)
	}
	select {
	case err := <-errc:
		// Returning nil here would look like a clean shutdown while nothing is consumed any more.
		if err == nil {
			t.Fatal("Run returned nil after its consumer was deleted, want an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still running 30s after its consumer was deleted")
	}
}

// flakyFlow is a real consumer whose first message flow breaks at its first Next, the way a
// pull breaks when the consumer's leader moves or its server goes away.
type flakyFlow struct {
	jetstream.Consumer
	mu     sync.Mutex
	opened int
}

func (f *flakyFlow) Messages(opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
	it, err := f.Consumer.Messages(opts...)
	f.mu.Lock()
	f.opened++
	first := f.opened == 1
	f.mu.Unlock()
	if err != nil || !first {
		return it, err
	}
	return &breakingIter{MessagesContext: it}, nil
}

func (f *flakyFlow) numOpened() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opened
}

type breakingIter struct {
	jetstream.MessagesContext
	once sync.Once
}

func (i *breakingIter) Next(opts ...jetstream.NextOpt) (jetstream.Msg, error) {
	broke := false
	i.once.Do(func() { broke = true })
	if broke {
		i.Stop()
		return nil, jetstream.ErrConsumerDeleted
	}
	return i.MessagesContext.Next(opts...)
}

// A message flow that ends while the durable still exists is opened again: Run goes on
// consuming instead of returning ErrMessagesEnded.
func TestRunResumesWhenTheFlowBreaks(t *testing.T) {
	h := newHarness(t, 30*time.Second)
	h.publish("a")
	h.publish("b")
	flaky := &flakyFlow{Consumer: h.cons}
	l := consume.New(flaky, h.js, h.record(func(context.Context, jetstream.Msg, int) error { return nil }),
		logging.NewKV(zaptest.NewLogger(t)), consume.Options{Workers: 2})
	stop, errc := testkit.RunInBackground(t, l.Run)
	h.settled(2)
	if n := flaky.numOpened(); n < 2 {
		t.Fatalf("message flow opened %d times, want a second time after it broke", n)
	}
	select {
	case err := <-errc:
		t.Fatalf("Run returned %v after the flow broke, want it to go on", err)
	default:
	}
	h.publish("c")
	h.settled(3)
	stop()
	if n := h.numCalls(); n != 3 {
		t.Fatalf("%d handler calls, want 3", n)
	}
}

// The whole NATS cluster goes down and comes back: the pull request the loop had parked, and
// the one it sends on reconnecting (to a server without JetStream quorum yet), are lost with the
// servers. The loop must notice from the missing heartbeats and pull again, every few seconds
// until the cluster answers, instead of after nats.go's default of twice a 15 s heartbeat (seen
// in scripts/chaos-cluster.sh: the workers idle 30 s after NATS came back). Whether the pull is
// lost depends on timing, so this does not always show the old stall; the bound stays under it.
func TestRunResumesAfterTheWholeClusterRestarts(t *testing.T) {
	c := testkit.StartNATSCluster(t, 3)
	_, js := c.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cons jetstream.Consumer
	eventually(t, 30*time.Second, "R3 streams and a durable", func() bool {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		if streams.Ensure(actx, js, streams.Options{Replicas: 3}) != nil {
			return false
		}
		var err error
		cons, err = js.CreateOrUpdateConsumer(actx, streams.Webhooks, jetstream.ConsumerConfig{
			Durable: "test", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: -1, AckWait: 30 * time.Second,
		})
		return err == nil
	})
	h := &harness{t: t, js: js, cons: cons, ctx: ctx}
	stop, _ := h.run(h.record(func(context.Context, jetstream.Msg, int) error { return nil }), consume.Options{Workers: 2})
	defer stop()
	publish := func(data string) {
		eventually(t, 30*time.Second, "publish "+data, func() bool {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			defer pcancel()
			_, err := js.Publish(pctx, subject, []byte(data))
			return err == nil
		})
	}
	publish("before")
	eventually(t, 10*time.Second, "the message before the outage handled", func() bool { return h.numCalls() == 1 })

	c.KillAll()
	time.Sleep(time.Second)
	// One server first: the loop's connection reconnects to it and pulls while there is no
	// JetStream quorum, so that pull request is lost.
	c.StartServer("n1")
	time.Sleep(3 * time.Second)
	c.RestartAll()
	c.WaitForCurrent(js, streams.Webhooks, "test", 30*time.Second)
	publish("after")
	// A lost pull is noticed after two missed heartbeats, with the loop's 3 s heartbeat within
	// 6 s, again while NATS 2.9 is still settling its leaders; the bound leaves room for a busy
	// machine.
	eventually(t, 22*time.Second, "the message after the outage handled", func() bool { return h.numCalls() == 2 })
}
