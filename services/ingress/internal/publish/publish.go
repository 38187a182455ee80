// Package publish stores messages in JetStream for the ingress. Publishes are asynchronous so
// concurrent requests share the connection, and each request waits on its own ack future: the
// caller gets the PubAck (the message is stored) or ErrUnavailable within the timeout, never a
// guess.
package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

// ErrUnavailable means JetStream did not acknowledge the message in time, or NATS is down. The
// message may or may not be stored; a retry with the same msg id is deduplicated.
var ErrUnavailable = errors.New("jetstream unavailable")

// ErrTooLarge means the message with its headers is over the server's max_payload: it can never
// be stored, so a retry is pointless (the caller answers 413, not 503).
var ErrTooLarge = errors.New("message over the server's max_payload")

// Options tune the publisher.
type Options struct {
	// Timeout bounds the wait for a PubAck (default 2s).
	Timeout time.Duration
	// MaxPending caps publishes awaiting an ack; past it a publish waits up to Timeout for room
	// (default 4096).
	MaxPending int
}

// Publisher publishes to JetStream and waits for the ack.
type Publisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration
}

// New returns a publisher on nc.
func New(nc *nats.Conn, o Options) (*Publisher, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 4096
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(o.MaxPending),
		jetstream.WithPublishAsyncTimeout(o.Timeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Publisher{nc: nc, js: js, timeout: o.Timeout}, nil
}

// JetStream returns the publisher's JetStream context (for stream setup).
func (p *Publisher) JetStream() jetstream.JetStream { return p.js }

// Timeout is the ack wait; a 503's Retry-After is derived from it.
func (p *Publisher) Timeout() time.Duration { return p.timeout }

// Connected reports whether the NATS connection is up. While it is not, a Publish cannot be
// sent and only waits for the connection until its timeout.
func (p *Publisher) Connected() bool { return p.nc.IsConnected() }

// MaxPayload is the largest message (headers included) the connected server accepts; 0 before
// the first connection.
func (p *Publisher) MaxPayload() int64 { return p.nc.MaxPayload() }

// Publish stores msg with the given Nats-Msg-Id and returns once JetStream acknowledged it. A
// duplicate (same msg id within the stream's window) is acknowledged too, with Duplicate set.
// A message over the server's max_payload wraps ErrTooLarge; any other failure wraps
// ErrUnavailable.
//
// A publish that fails in a way a resend may fix (consume.Transient: no stream leader during an
// election, no ack from a leader that died, the client moving to another server of the cluster)
// is resent with the same msg id after a short pause, until the publish timeout: a leader
// election costs the provider a slower 2xx, not a 503. Each attempt waits at most
// consume.AttemptTimeout(timeout) for its ack.
//
// ctx's cancellation is ignored: once a message is sent, the caller waits for its true outcome
// (PubAck, error or the timeout) whatever the client does, so a client that hangs up right after
// its body is neither told nor counted "not stored" for a message that was stored.
func (p *Publisher) Publish(_ context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error) {
	per := consume.AttemptTimeout(p.timeout)
	opts := []jetstream.PublishOpt{jetstream.WithStallWait(per)}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	w := newWaiter()
	defer w.close()
	overall := time.NewTimer(p.timeout)
	defer overall.Stop()
	var lastErr error // the last failure reported; a silent attempt leaves it as it was
	outstanding := 0  // attempts sent whose outcome has not arrived
	pause := time.Duration(0)
	// final answers err once no attempt is in flight any more (or the time is up), so a 503
	// for a missing stream is not followed by an earlier attempt landing in the re-created one;
	// an ack that still arrives wins.
	final := func(err error) (*jetstream.PubAck, error) {
		for ; outstanding > 0; outstanding-- {
			okc, errc := w.chans()
			select {
			case ack := <-okc:
				return ack, nil
			case e := <-errc:
				w.answered()
				_ = e // one attempt failed; another one still in flight may be acked
			case <-overall.C:
				return nil, p.fail(msg, err)
			}
		}
		return nil, p.fail(msg, err)
	}
	for n := 1; ; n++ {
		if err := p.send(w, msg, opts); err != nil {
			if !consume.Transient(err) || p.streamMissing(msg.Subject, err, per) {
				return final(err)
			}
			lastErr = err
		} else {
			outstanding++
		}
		// Wait for any attempt's answer (a late ack of an earlier attempt counts: same msg id),
		// until this attempt's share of the time is up or it failed.
		next := time.NewTimer(per)
		for waiting := true; waiting; {
			okc, errc := w.chans()
			select {
			case ack := <-okc:
				next.Stop()
				return ack, nil
			case err := <-errc:
				w.answered()
				outstanding--
				if !consume.Transient(err) || p.streamMissing(msg.Subject, err, per) {
					next.Stop()
					return final(err)
				}
				lastErr = err
				pause = min(max(2*pause, 25*time.Millisecond), 500*time.Millisecond)
				next.Reset(pause) // resend shortly
			case <-next.C:
				// Silence: resend, unless no stream captures the subject any more (a resend
				// could land in the stream once it is re-created, after the caller's 503).
				if p.streamGone(msg.Subject, per) {
					return final(errors.Join(lastErr, fmt.Errorf("%w: %w", jetstream.ErrNoStreamResponse, errNoStream)))
				}
				waiting = false
			case <-overall.C:
				next.Stop()
				if lastErr == nil {
					lastErr = fmt.Errorf("no ack within %s", p.timeout)
				}
				return nil, p.fail(msg, fmt.Errorf("%d attempts: %w", n, lastErr))
			}
		}
	}
}

func (p *Publisher) fail(msg *nats.Msg, err error) error {
	if errors.Is(err, nats.ErrMaxPayload) {
		return fmt.Errorf("publish %s: %w: %w", msg.Subject, ErrTooLarge, err)
	}
	return fmt.Errorf("publish %s: %w: %w", msg.Subject, ErrUnavailable, err)
}

// streamMissing reports whether a "no responders" for subject means no stream captures it (a
// stream deleted, or a server back without its data) rather than a stream without a leader for
// the moment (an election). A missing stream is not waited for; the caller answers at once and
// the stream keeper re-creates it.
func (p *Publisher) streamMissing(subject string, err error, wait time.Duration) bool {
	if !errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, nats.ErrNoResponders) {
		return false
	}
	return p.streamGone(subject, wait)
}

// errNoStream: JetStream says no stream captures the subject.
var errNoStream = errors.New("no stream for the subject")

// streamGone asks JetStream, within wait, whether no stream captures subject. An API that does
// not answer (no meta leader) is not a no.
func (p *Publisher) streamGone(subject string, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := p.js.StreamNameBySubject(ctx, subject)
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrStreamNotFound) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound)
}

// send publishes msg once; its outcome arrives on w.
func (p *Publisher) send(w *waiter, msg *nats.Msg, opts []jetstream.PublishOpt) error {
	if !p.nc.IsConnected() {
		return fmt.Errorf("%w (%s)", nats.ErrDisconnected, p.nc.Status())
	}
	// Each attempt sends its own copy: the client sets the msg id header on the message it is
	// given and may still read an earlier attempt's message (its ack or timeout handling).
	m := &nats.Msg{Subject: msg.Subject, Data: msg.Data, Header: make(nats.Header, len(msg.Header)+1)}
	for k, v := range msg.Header {
		m.Header[k] = v
	}
	fut, err := p.js.PublishMsgAsync(m, opts...)
	if err != nil {
		return err
	}
	w.watch(fut)
	return nil
}

// waiter collects the outcomes of one message's attempts. While one attempt is outstanding (the
// usual case: the first one, acked) its future is read directly, with no goroutine in between.
// Once a second one is, each watched future gets a goroutine that forwards its ack or error to
// ok and err, or ends when the waiter is closed; close joins them. Only the publishing goroutine
// calls watch, chans and answered.
type waiter struct {
	single    jetstream.PubAckFuture // the one outstanding attempt, read directly; nil otherwise
	singleOK  <-chan *jetstream.PubAck
	singleErr <-chan error
	many      bool // futures are forwarded to ok and err
	ok        chan *jetstream.PubAck
	err       chan error
	done      chan struct{}
	wg        sync.WaitGroup
}

func newWaiter() *waiter {
	return &waiter{}
}

func (w *waiter) watch(fut jetstream.PubAckFuture) {
	if !w.many && w.single == nil {
		w.single, w.singleOK, w.singleErr = fut, fut.Ok(), fut.Err()
		return
	}
	if !w.many {
		// A second attempt while the first is still out: forward both from now on.
		w.many = true
		w.ok, w.err, w.done = make(chan *jetstream.PubAck), make(chan error), make(chan struct{})
		w.forward(w.single)
		w.single, w.singleOK, w.singleErr = nil, nil, nil
	}
	w.forward(fut)
}

// chans are where the next outcome arrives.
func (w *waiter) chans() (<-chan *jetstream.PubAck, <-chan error) {
	if w.many {
		return w.ok, w.err
	}
	return w.singleOK, w.singleErr // nil channels (never ready) when nothing is outstanding
}

// answered: the outcome just read from chans was an error; that attempt is no longer out.
func (w *waiter) answered() {
	if !w.many {
		w.single, w.singleOK, w.singleErr = nil, nil, nil
	}
}

func (w *waiter) forward(fut jetstream.PubAckFuture) {
	w.wg.Go(func() {
		select {
		case ack := <-fut.Ok():
			select {
			case w.ok <- ack:
			case <-w.done:
			}
		case err := <-fut.Err():
			select {
			case w.err <- err:
			case <-w.done:
			}
		case <-w.done:
		}
	})
}

func (w *waiter) close() {
	if w.many {
		close(w.done)
		w.wg.Wait()
	}
}

// Flush waits until every pending publish is acknowledged or failed, or ctx ends.
func (p *Publisher) Flush(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush publishes (%d pending): %w", p.js.PublishAsyncPending(), ctx.Err())
	}
}

// Publish outcomes (a stored request's hookline.outcome).
const (
	OutcomeStored    = "stored"
	OutcomeDuplicate = "duplicate"
	OutcomeSpooled   = "spooled"
)

// SpooledStream is the stream name in the PubAck of a message the outage spool took instead of
// JetStream.
const SpooledStream = "spool"

// Outcome names what a publish's ack says: stored, duplicate (JetStream had the msg id) or
// spooled (in the outage spool, not yet in JetStream); "" without an ack.
func Outcome(ack *jetstream.PubAck) string {
	switch {
	case ack == nil:
		return ""
	case ack.Stream == SpooledStream:
		return OutcomeSpooled
	case ack.Duplicate:
		return OutcomeDuplicate
	}
	return OutcomeStored
}

// EndSpan records a publish on its (producer) span and ends it: the subject, the stream
// sequence when JetStream stored it, the outcome, or the error.
func EndSpan(span trace.Span, subject string, ack *jetstream.PubAck, outcome string, err error) {
	if span.IsRecording() {
		span.SetAttributes(tracing.AttrMessagingSystem.String("nats"), tracing.AttrMessagingDest.String(subject))
		if outcome != "" {
			span.SetAttributes(tracing.AttrOutcome.String(outcome))
		}
		if ack != nil && ack.Sequence > 0 {
			span.SetAttributes(tracing.AttrStreamSequence.Int64(int64(ack.Sequence))) //nolint:gosec // a stream sequence fits
		}
		tracing.Fail(span, err)
	}
	span.End()
}
