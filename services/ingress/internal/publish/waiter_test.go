package publish

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// future is a PubAckFuture the test answers.
type future struct {
	ok  chan *jetstream.PubAck
	err chan error
}

func newFuture() *future {
	return &future{ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
}

func (f *future) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *future) Err() <-chan error            { return f.err }
func (f *future) Msg() *nats.Msg               { return nil }

// next reads the waiter's next outcome, or fails after a while.
func next(t *testing.T, w *waiter) (*jetstream.PubAck, error) {
	t.Helper()
	okc, errc := w.chans()
	select {
	case ack := <-okc:
		return ack, nil
	case err := <-errc:
		w.answered()
		return nil, err
	case <-time.After(5 * time.Second):
		t.Fatal("no outcome")
		return nil, nil
	}
}

func TestWaiterOneAttemptIsReadDirectly(t *testing.T) {
	w := newWaiter()
	defer w.close()
	f := newFuture()
	w.watch(f)
	if w.many {
		t.Fatal("one attempt forwarded through goroutines")
	}
	f.ok <- &jetstream.PubAck{Sequence: 7}
	if ack, err := next(t, w); err != nil || ack.Sequence != 7 {
		t.Fatalf("outcome = %v, %v; want the ack of seq 7", ack, err)
	}
}

// TestWaiterLateAckOfEarlierAttempt: a second attempt while the first is silent; the first's
// late ack still arrives.
func TestWaiterLateAckOfEarlierAttempt(t *testing.T) {
	w := newWaiter()
	first, second := newFuture(), newFuture()
	w.watch(first)
	w.watch(second)
	if !w.many {
		t.Fatal("two outstanding attempts not forwarded")
	}
	first.ok <- &jetstream.PubAck{Sequence: 1}
	if ack, err := next(t, w); err != nil || ack.Sequence != 1 {
		t.Fatalf("outcome = %v, %v; want the first attempt's ack", ack, err)
	}
	w.close() // joins the goroutine still waiting on the second attempt
}

// TestWaiterFailedThenResent: the first attempt fails, the resend is again the only one out and
// is read directly.
func TestWaiterFailedThenResent(t *testing.T) {
	w := newWaiter()
	defer w.close()
	first, second := newFuture(), newFuture()
	w.watch(first)
	boom := errors.New("no responders")
	first.err <- boom
	if _, err := next(t, w); !errors.Is(err, boom) {
		t.Fatalf("outcome = %v, want the first attempt's error", err)
	}
	if okc, errc := w.chans(); okc != nil || errc != nil {
		t.Fatal("channels of an answered attempt still watched")
	}
	w.watch(second)
	if w.many {
		t.Fatal("a single outstanding resend forwarded through goroutines")
	}
	second.ok <- &jetstream.PubAck{Sequence: 2}
	if ack, err := next(t, w); err != nil || ack.Sequence != 2 {
		t.Fatalf("outcome = %v, %v; want the resend's ack", ack, err)
	}
}

// TestWaiterErrorsThenAck: with several attempts out, errors and an ack come through in turn.
func TestWaiterErrorsThenAck(t *testing.T) {
	w := newWaiter()
	defer w.close()
	a, b, c := newFuture(), newFuture(), newFuture()
	w.watch(a)
	w.watch(b)
	w.watch(c)
	a.err <- errors.New("a")
	if _, err := next(t, w); err == nil || err.Error() != "a" {
		t.Fatalf("outcome = %v, want a's error", err)
	}
	c.ok <- &jetstream.PubAck{Sequence: 3}
	if ack, err := next(t, w); err != nil || ack.Sequence != 3 {
		t.Fatalf("outcome = %v, %v; want c's ack", ack, err)
	}
}
