package consumer_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consumer"
	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
)

// publishPoison stores three messages on ORDERS that are not canonical events and returns their
// stream sequences.
func publishPoison(e *env) []uint64 {
	e.t.Helper()
	subject := streams.OrderSubject("default", "petstore")
	noCT := nats.NewMsg(subject)
	noCT.Data = []byte(`{"eventId":"not-protobuf"}`)

	garbage := nats.NewMsg(subject)
	garbage.Data = []byte("\xff\xff\xff not protobuf")
	garbage.Header.Set(streams.HeaderContentType, streams.ContentTypeProtobuf)

	ev := sampleEvent("default", "petstore", "o-1", "e-x", 1)
	ev.EventId = ""
	data, err := proto.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	noID := nats.NewMsg(subject)
	noID.Data = data
	noID.Header.Set(streams.HeaderContentType, streams.ContentTypeProtobuf)
	noID.Header.Set("X-Trace", "t-1")

	return []uint64{e.publishMsg(noCT), e.publishMsg(garbage), e.publishMsg(noID)}
}

func TestPoisonDoesNotBlock(t *testing.T) {
	tests := []struct {
		name        string
		give        []consumer.Option
		wantOutcome consumer.Outcome
		wantDLQ     int
	}{
		{name: "dropped", wantOutcome: consumer.Dropped},
		{name: "dead-lettered", give: []consumer.Option{consumer.WithDeadLetter()}, wantOutcome: consumer.DeadLettered, wantDLQ: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			first := sampleEvent("default", "petstore", "o-1", "e-1", 1)
			last := sampleEvent("default", "petstore", "o-1", "e-2", 2)
			e.publish(first)
			poison := publishPoison(e)
			lastSeq := e.publish(last)

			// AckWait 1s: a poison message left unsettled would come back during the wait below.
			c, rec := e.newConsumer("poison", append(tt.give, consumer.WithAckWait(time.Second),
				consumer.WithBackoff(50*time.Millisecond))...)
			e.run(c, rec.handler(nil))
			e.settled("poison", lastSeq)
			eventually(t, 5*time.Second, "every result", func() bool { return rec.numResults() >= 5 })
			time.Sleep(1500 * time.Millisecond)

			calls, results := rec.snapshot()
			var got []string
			for _, cl := range calls {
				got = append(got, cl.ev.EventId)
			}
			if want := []string{first.EventId, last.EventId}; !slices.Equal(got, want) {
				t.Fatalf("handler saw %v, want %v", got, want)
			}
			if len(results) != 5 {
				t.Fatalf("%d results, want 5 (poison redelivered?)", len(results))
			}
			var seqs []uint64
			for _, r := range results {
				if r.Event != nil {
					continue
				}
				seqs = append(seqs, r.Meta.StreamSeq)
				if r.Outcome != tt.wantOutcome || r.Reason != consumer.ReasonPoison || !errors.Is(r.Err, consumer.ErrPoison) || r.Meta.NumDelivered != 1 {
					t.Errorf("poison result %+v, want %s, reason poison, ErrPoison, first delivery", r, tt.wantOutcome)
				}
			}
			if !slices.Equal(seqs, poison) {
				t.Errorf("poison results for seqs %v, want %v", seqs, poison)
			}

			dlq := e.dlq()
			if len(dlq) != tt.wantDLQ {
				t.Fatalf("%d DLQ messages, want %d", len(dlq), tt.wantDLQ)
			}
			if tt.wantDLQ == 0 {
				return
			}
			d := dlq[2]
			want := map[string]string{
				streams.HeaderDLQReason:     consumer.ReasonPoison,
				streams.HeaderDLQStreamSeq:  "4",
				streams.HeaderDLQDeliveries: "1",
				streams.HeaderDLQSubject:    streams.OrderSubject("default", "petstore"),
				streams.HeaderDLQStream:     streams.Orders,
				consumer.HeaderDLQConsumer:  "poison",
				streams.HeaderContentType:   streams.ContentTypeProtobuf,
				"X-Trace":                   "t-1",
			}
			for k, v := range want {
				if got := d.Header.Get(k); got != v {
					t.Errorf("DLQ header %s = %q, want %q", k, got, v)
				}
			}
			if d.Subject != streams.DLQSubject(streams.OrderSubject("default", "petstore")) {
				t.Errorf("DLQ subject %q", d.Subject)
			}
			if d.Header.Get(streams.HeaderDLQError) == "" {
				t.Errorf("DLQ message without %s", streams.HeaderDLQError)
			}
			if string(dlq[0].Data) != `{"eventId":"not-protobuf"}` {
				t.Errorf("DLQ body %q, want the original", dlq[0].Data)
			}
		})
	}
}

func TestGiveUp(t *testing.T) {
	e := newEnv(t)
	permanent := sampleEvent("default", "petstore", "o-1", "e-perm", 1)
	flaky := sampleEvent("default", "petstore", "o-2", "e-flaky", 1)
	e.publish(permanent)
	lastSeq := e.publish(flaky)

	c, rec := e.newConsumer("giveup", consumer.WithDeadLetter(), consumer.WithMaxDeliver(3),
		consumer.WithBackoff(50*time.Millisecond, 100*time.Millisecond))
	e.run(c, rec.handler(func(_ context.Context, ev *ordersv1.OrderStatusChanged, _ int) error {
		if ev.EventId == permanent.EventId {
			return consumer.Permanent(errors.New("unknown SKU"))
		}
		return errors.New("still failing")
	}))
	e.settled("giveup", lastSeq)
	eventually(t, 5*time.Second, "every result", func() bool { return rec.numResults() >= 4 })

	calls, results := rec.snapshot()
	perCall := map[string][]uint64{}
	for _, cl := range calls {
		perCall[cl.ev.EventId] = append(perCall[cl.ev.EventId], cl.meta.NumDelivered)
	}
	if got := perCall[permanent.EventId]; !slices.Equal(got, []uint64{1}) {
		t.Errorf("permanent failure delivered %v, want [1]", got)
	}
	if got := perCall[flaky.EventId]; !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("failing event delivered %v, want [1 2 3]", got)
	}
	var outcomes []string
	for _, r := range results {
		outcomes = append(outcomes, r.Event.EventId+"="+string(r.Outcome)+"/"+r.Reason)
	}
	slices.Sort(outcomes)
	want := []string{
		flaky.EventId + "=dead_lettered/max_deliveries",
		flaky.EventId + "=retried/",
		flaky.EventId + "=retried/",
		permanent.EventId + "=dead_lettered/permanent",
	}
	if !slices.Equal(outcomes, want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}

	dlq := e.dlq()
	if len(dlq) != 2 {
		t.Fatalf("%d DLQ messages, want 2", len(dlq))
	}
	got := map[string][2]string{}
	for _, d := range dlq {
		ev, err := consumer.Decode(d.Header, d.Data)
		if err != nil {
			t.Fatalf("DLQ copy is no longer a canonical event: %v", err)
		}
		got[ev.EventId] = [2]string{d.Header.Get(streams.HeaderDLQReason), d.Header.Get(streams.HeaderDLQDeliveries)}
		// The original Nats-Msg-Id (the event_id) is replaced by the DLQ copy's own id.
		wantID := "dlq:ORDERS:" + d.Header.Get(streams.HeaderDLQStreamSeq) + ":giveup"
		if id := d.Header.Get(streams.HeaderMsgID); id != wantID {
			t.Errorf("DLQ copy Nats-Msg-Id %q, want %q", id, wantID)
		}
	}
	if got[permanent.EventId] != [2]string{consumer.ReasonPermanent, "1"} || got[flaky.EventId] != [2]string{consumer.ReasonMaxDeliveries, "3"} {
		t.Errorf("DLQ reasons and deliveries %v", got)
	}
}

// TestDeadLetterFailureRetries: with WithDeadLetter, a message whose DLQ copy cannot be stored is
// retried, never terminated.
func TestDeadLetterFailureRetries(t *testing.T) {
	e := newEnv(t)
	if err := e.js.DeleteStream(e.ctx, streams.DLQ); err != nil {
		t.Fatalf("delete DLQ: %v", err)
	}
	seq := e.publishMsg(&nats.Msg{Subject: streams.OrderSubject("default", "petstore"), Data: []byte("poison")})
	c, rec := e.newConsumer("dlqdown", consumer.WithDeadLetter(), consumer.WithBackoff(100*time.Millisecond))
	e.run(c, rec.handler(nil))
	eventually(t, 15*time.Second, "two failed DLQ attempts", func() bool { return rec.numResults() >= 2 })
	if err := streams.Ensure(e.ctx, e.js, streams.Options{}); err != nil {
		t.Fatalf("recreate streams: %v", err)
	}
	e.settled("dlqdown", seq)
	eventually(t, 5*time.Second, "the final result", func() bool {
		_, res := rec.snapshot()
		return res[len(res)-1].Outcome == consumer.DeadLettered
	})
	_, results := rec.snapshot()
	for _, r := range results[:len(results)-1] {
		if r.Outcome != consumer.Retried || r.Err == nil {
			t.Errorf("result before the DLQ came back: %+v, want retried with an error", r)
		}
	}
	if dlq := e.dlq(); len(dlq) != 1 {
		t.Errorf("%d DLQ messages, want 1", len(dlq))
	}
}
