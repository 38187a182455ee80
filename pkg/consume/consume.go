// Package consume is Hookline's one message engine: it runs a JetStream pull consumer and
// settles every message from its handler's answer, the way the worker, the dispatcher and the
// consumer SDK all need it.
//
//   - nil: Ack.
//   - a *RetryError (Retry): NakWithDelay with its delay. One made by Unavailable (a dependency
//     is down) never counts towards MaxDeliver.
//   - a *DeadLetterError (DeadLetter, found with errors.As): copy to the DLQ stream with its
//     reason and the Hookline-Dlq-* headers, then Term.
//   - any other error: NakWithDelay with Backoff for this delivery; on the last allowed delivery
//     (MaxDeliver) the message is given up with reason ReasonMaxDeliveries instead, so nothing
//     ends in silence.
//
// If the DLQ publish fails the message is Nak'ed, never Term'ed. Long handlers are kept alive
// with InProgress. When Run's context ends the engine drains: it stops fetching, lets the
// messages in hand finish for up to DrainTimeout (then their context is cancelled), settles
// them and returns. Every retry and every message given up is logged once, here: handlers
// should not log them again.
package consume

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Handler handles one message. It must not ack, nak or term it.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// ValueHandler is a Handler that also returns a value (a decoded event, say) for Result.Value,
// so OnDone sees what the handler saw without decoding again.
type ValueHandler func(ctx context.Context, msg jetstream.Msg) (value any, err error)

// ErrMessagesEnded: the message flow ended while Run's context was live (the durable was
// deleted or the connection closed for good).
var ErrMessagesEnded = errors.New("messages ended")

// RetryError asks for redelivery after Delay.
type RetryError struct {
	Delay time.Duration
	Err   error
	// Unavailable marks the outage of a dependency (database down, broker unreachable): the
	// delivery does not count towards MaxDeliver, so an outage never dead-letters messages.
	Unavailable bool
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.Delay, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// Retry wraps err so the message is redelivered after delay.
func Retry(delay time.Duration, err error) error { return &RetryError{Delay: delay, Err: err} }

// Unavailable wraps err, the failure of a dependency the handler needs, so the message is
// redelivered after delay however many deliveries it already had: it is not dead-lettered at
// MaxDeliver while the dependency is down.
func Unavailable(delay time.Duration, err error) error {
	return &RetryError{Delay: delay, Err: err, Unavailable: true}
}

// DeadLetterError gives the message up at once: it goes to the DLQ with Reason and the extra
// Headers (unless Options.Drop), then it is terminated.
type DeadLetterError struct {
	Reason  string
	Headers map[string]string
	Err     error
}

func (e *DeadLetterError) Error() string { return fmt.Sprintf("dead letter (%s): %v", e.Reason, e.Err) }
func (e *DeadLetterError) Unwrap() error { return e.Err }

// DeadLetter wraps err so the message goes to the DLQ with reason and the extra headers.
func DeadLetter(reason string, err error, headers map[string]string) error {
	return &DeadLetterError{Reason: reason, Headers: headers, Err: err}
}

// Outcome is what the engine did with a message.
type Outcome string

// Outcomes: the one set of names, also used by the SDK.
const (
	// Acked: the handler succeeded and the message was acknowledged.
	Acked Outcome = "acked"
	// Retried: the message will be redelivered after Result.Delay.
	Retried Outcome = "retried"
	// DeadLettered: the message was copied to the DLQ, then terminated.
	DeadLettered Outcome = "dead_lettered"
	// Dropped: the message was given up and terminated without a DLQ copy (Options.Drop).
	Dropped Outcome = "dropped"
)

// ReasonMaxDeliveries is the DLQ reason for a message whose deliveries ran out.
const ReasonMaxDeliveries = "max_deliveries"

// Defaults for Options left zero.
const (
	DefaultDrainTimeout = 30 * time.Second
	dlqPublishTimeout   = 5 * time.Second
	maxErrorHeader      = 512
)

// Options configure a Loop.
type Options struct {
	// Workers is how many messages are handled at once (default 1).
	Workers int
	// Batch is how many messages the client buffers ahead (default 2×Workers).
	Batch int
	// MaxDeliver is how many deliveries a failing message gets before the engine gives it up;
	// <= 0 means unlimited. The engine enforces it, not the server: create the consumer with
	// MaxDeliver -1, or a message whose DLQ publish failed on its last delivery would never be
	// redelivered.
	MaxDeliver int
	// Backoff gives the delay after failed delivery n: see Backoff. Empty means 1s.
	Backoff []time.Duration
	// AckWait is the consumer's AckWait; a handler still running after half of it sends
	// InProgress, and again every half AckWait.
	AckWait time.Duration
	// DrainTimeout bounds the drain: once Run's context ends, handlers still running get this
	// long before their context is cancelled (default DefaultDrainTimeout).
	DrainTimeout time.Duration
	// Drop terminates messages given up without copying them to the DLQ (outcome Dropped).
	Drop bool
	// OnDone, if set, observes every settled message. It is called from the worker goroutines
	// and must not block for long.
	OnDone func(Result)
}

// Result describes one settled message.
type Result struct {
	Msg jetstream.Msg
	// Value is what a ValueHandler returned; nil for a Handler.
	Value   any
	Outcome Outcome
	// Reason is why the message was given up (DeadLettered or Dropped); empty otherwise.
	Reason string
	// Err is the handler's error (joined with the DLQ publish error when that failed); nil when
	// Acked.
	Err error
	// Delay is the redelivery delay when Retried.
	Delay time.Duration
	// Stream, Consumer, StreamSeq and Delivered come from the message metadata; Delivered is 1
	// when the metadata cannot be read.
	Stream, Consumer string
	StreamSeq        uint64
	Delivered        uint64
	// Took is how long the message took from receipt to settlement.
	Took time.Duration
}

// Loop consumes one durable consumer.
type Loop struct {
	cons jetstream.Consumer
	js   jetstream.JetStream
	h    ValueHandler
	log  Logger
	o    Options
}

// New returns a loop over cons; js publishes dead letters; log may be nil.
func New(cons jetstream.Consumer, js jetstream.JetStream, h Handler, log Logger, o Options) *Loop {
	return NewValue(cons, js, func(ctx context.Context, msg jetstream.Msg) (any, error) {
		return nil, h(ctx, msg)
	}, log, o)
}

// NewValue is New for a ValueHandler.
func NewValue(cons jetstream.Consumer, js jetstream.JetStream, h ValueHandler, log Logger, o Options) *Loop {
	if o.Workers < 1 {
		o.Workers = 1
	}
	if o.Batch < 1 {
		o.Batch = 2 * o.Workers
	}
	if len(o.Backoff) == 0 {
		o.Backoff = []time.Duration{time.Second}
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if log == nil {
		log = discard{}
	}
	return &Loop{cons: cons, js: js, h: h, log: log, o: o}
}

// BackoffFor returns the redelivery delay after delivery n (1-based).
func (l *Loop) BackoffFor(n uint64) time.Duration { return Backoff(l.o.Backoff, n) }

// Run handles messages until ctx ends, then drains (see the package doc) and returns nil. If
// the messages end while ctx is still live, Run finds out why: when the connection is closed
// for good or the durable no longer exists it returns an error wrapping ErrMessagesEnded;
// otherwise (its leader moved, a server of the cluster went away mid-pull, the durable was
// re-created) it opens a new message flow on the same durable after a short pause and goes on.
func (l *Loop) Run(ctx context.Context) error {
	// Handlers run on a context that outlives ctx by the drain timeout, so messages in hand can
	// finish and be settled on shutdown.
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var (
		timerMu    sync.Mutex
		drainTimer *time.Timer
		returned   bool
	)
	stopWatch := context.AfterFunc(ctx, func() {
		timerMu.Lock()
		defer timerMu.Unlock()
		if !returned {
			drainTimer = time.AfterFunc(l.o.DrainTimeout, cancelHandlers)
		}
	})
	defer func() {
		stopWatch()
		timerMu.Lock()
		returned = true
		if drainTimer != nil {
			drainTimer.Stop()
		}
		timerMu.Unlock()
	}()

	pause := resumeFirstPause
	for first := true; ; first = false {
		began := time.Now()
		endErr, err := l.flow(ctx, hctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && first:
			return err
		case err != nil:
			endErr = err
		}
		if !l.resumable(ctx, endErr) {
			return fmt.Errorf("consume: %w: %w", ErrMessagesEnded, endErr)
		}
		if time.Since(began) > resumeResetAfter {
			pause = resumeFirstPause
		}
		l.log.Warn("consume: message flow interrupted, resuming", "error", endErr, "in", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, resumeMaxPause)
	}
}

// Pacing of Run's resumptions after the message flow ended by itself.
const (
	resumeFirstPause = 100 * time.Millisecond
	resumeMaxPause   = 5 * time.Second
	resumeResetAfter = 10 * time.Second
	resumeInfoWait   = 5 * time.Second
)

// Pull requests of the message flow: each lives pullExpiry and asks the server for a heartbeat
// every pullHeartbeat while it waits. Two missed heartbeats end the flow and Run opens a new one,
// so a pull request lost with a server (a whole cluster restarting: the pull sent on
// reconnecting reaches a server whose durable has no leader yet) stalls the loop about 6 s, not
// the 30 s of nats.go's defaults (30 s expiry, 15 s heartbeat).
const (
	pullExpiry    = 10 * time.Second
	pullHeartbeat = 3 * time.Second
)

// flow runs the workers over one message iterator until it ends, and returns why it ended
// (endErr), or err when it could not be opened.
func (l *Loop) flow(ctx, hctx context.Context) (endErr, err error) {
	it, err := l.cons.Messages(jetstream.PullMaxMessages(l.o.Batch), jetstream.PullExpiry(pullExpiry),
		jetstream.PullHeartbeat(pullHeartbeat))
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	stopDrain := context.AfterFunc(ctx, it.Drain)
	defer stopDrain()
	var (
		wg      sync.WaitGroup
		endOnce sync.Once
	)
	for range l.o.Workers {
		wg.Go(func() {
			for {
				msg, err := it.Next()
				if err != nil {
					endOnce.Do(func() { endErr = err })
					if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
						l.log.Warn("consume: next message", "error", err)
						// One worker's error ends the flow for all of them.
						it.Stop()
					}
					return
				}
				l.handle(hctx, msg)
			}
		})
	}
	wg.Wait()
	return endErr, nil
}

// resumable reports whether a message flow that ended by itself with endErr can be opened
// again: not once the connection is closed for good, nor when the durable is gone. A durable
// whose state cannot be read (no leader during an election) counts as there.
func (l *Loop) resumable(ctx context.Context, endErr error) bool {
	if errors.Is(endErr, jetstream.ErrConnectionClosed) || errors.Is(endErr, nats.ErrConnectionClosed) ||
		l.js.Conn().IsClosed() {
		return false
	}
	ictx, cancel := context.WithTimeout(ctx, resumeInfoWait)
	defer cancel()
	_, err := l.cons.Info(ictx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false
	}
	if err != nil {
		l.log.Warn("consume: durable state unknown, resuming anyway", "error", err)
	}
	return true
}

func (l *Loop) handle(ctx context.Context, msg jetstream.Msg) {
	start := time.Now()
	r := Result{Msg: msg, Delivered: 1}
	if meta, err := msg.Metadata(); err == nil {
		r.Stream, r.Consumer = meta.Stream, meta.Consumer
		r.StreamSeq, r.Delivered = meta.Sequence.Stream, meta.NumDelivered
	}
	if ctx.Err() != nil {
		// Shutdown ran past the drain timeout: hand the message back at once, unhandled.
		r.Err = fmt.Errorf("not handled: %w", ctx.Err())
		l.retry(&r, 0)
	} else {
		stop := l.keepAlive(msg)
		r.Value, r.Err = l.h(ctx, msg)
		stop()
		l.settle(ctx, &r)
	}
	r.Took = time.Since(start)
	if l.o.OnDone != nil {
		l.o.OnDone(r)
	}
}

// keepAlive sends InProgress every AckWait/2 until the returned stop is called; after stop
// returns no more are sent.
func (l *Loop) keepAlive(msg jetstream.Msg) (stop func()) {
	if l.o.AckWait <= 0 {
		return func() {}
	}
	// The mutex orders the timer's assignment before its first tick, and stopped keeps a tick
	// that races with the end of the handler from re-arming the timer after the message is
	// settled (it would then send InProgress forever).
	var (
		mu      sync.Mutex
		t       *time.Timer
		stopped bool
	)
	every := l.o.AckWait / 2
	mu.Lock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		_ = msg.InProgress() // best effort: a lost InProgress at worst means a redelivery
		t.Reset(every)
	})
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

func (l *Loop) settle(ctx context.Context, r *Result) {
	var dl *DeadLetterError
	var re *RetryError
	switch {
	case r.Err == nil:
		r.Outcome = Acked
		if err := r.Msg.Ack(); err != nil {
			l.log.Warn("consume: ack failed, the message will be redelivered", l.fields(r, "error", err)...)
		}
	case errors.As(r.Err, &dl):
		l.giveUp(ctx, r, dl.Reason, dl.Headers)
	case errors.As(r.Err, &re) && re.Unavailable:
		l.retry(r, re.Delay)
	case l.o.MaxDeliver > 0 && r.Delivered >= uint64(l.o.MaxDeliver):
		l.giveUp(ctx, r, ReasonMaxDeliveries, nil)
	case errors.As(r.Err, &re):
		l.retry(r, re.Delay)
	default:
		l.retry(r, l.BackoffFor(r.Delivered))
	}
}

// retry naks the message so it comes back after delay.
func (l *Loop) retry(r *Result, delay time.Duration) {
	r.Outcome, r.Delay = Retried, delay
	l.log.Warn("consume: message will be redelivered", l.fields(r, "delay", delay, "error", r.Err)...)
	if err := r.Msg.NakWithDelay(delay); err != nil {
		// The server redelivers after AckWait anyway.
		l.log.Warn("consume: nak failed", l.fields(r, "error", err)...)
	}
}

// giveUp terminates a message that will not be processed, after copying it to the DLQ unless
// Options.Drop. A failed DLQ copy retries the message instead: nothing meant to be kept is
// dropped.
func (l *Loop) giveUp(ctx context.Context, r *Result, reason string, extra map[string]string) {
	r.Reason, r.Outcome = reason, Dropped
	if !l.o.Drop {
		if err := l.publishDLQ(ctx, r, extra); err != nil {
			r.Err, r.Reason = errors.Join(r.Err, err), ""
			l.retry(r, l.BackoffFor(r.Delivered))
			return
		}
		r.Outcome = DeadLettered
	}
	l.log.Error("consume: message given up, it will not be redelivered",
		l.fields(r, "reason", reason, "outcome", string(r.Outcome), "error", r.Err)...)
	if err := r.Msg.Term(); err != nil {
		l.log.Warn("consume: term failed", l.fields(r, "error", err)...)
	}
}

// publishDLQ copies the message to DLQSubject(subject): the original body and headers (but the
// Nats-* publish directives) plus the Hookline-Dlq-* headers, then the handler's extra ones.
func (l *Loop) publishDLQ(ctx context.Context, r *Result, extra map[string]string) error {
	msg := r.Msg
	dlq := nats.NewMsg(DLQSubject(msg.Subject()))
	dlq.Data = msg.Data()
	for k, v := range msg.Headers() {
		// Nats-* headers are directives for the original publish (msg id, expected stream or
		// sequence, rollup, TTL...): copied, they would dedupe or fail the DLQ publish.
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		dlq.Header[k] = append([]string(nil), v...)
	}
	dlq.Header.Set(HeaderDLQReason, r.Reason)
	dlq.Header.Set(HeaderDLQStreamSeq, strconv.FormatUint(r.StreamSeq, 10))
	dlq.Header.Set(HeaderDLQDeliveries, strconv.FormatUint(r.Delivered, 10))
	dlq.Header.Set(HeaderDLQSubject, msg.Subject())
	dlq.Header.Set(HeaderDLQAt, time.Now().UTC().Format(time.RFC3339Nano))
	if r.Stream != "" {
		dlq.Header.Set(HeaderDLQStream, r.Stream)
	}
	if r.Consumer != "" {
		dlq.Header.Set(HeaderDLQConsumer, r.Consumer)
	}
	if r.Err != nil {
		dlq.Header.Set(HeaderDLQError, truncate(r.Err.Error(), maxErrorHeader))
	}
	for k, v := range extra {
		dlq.Header.Set(k, v)
	}
	pctx, cancel := context.WithTimeout(ctx, dlqPublishTimeout)
	defer cancel()
	id := DLQMsgID(r.Stream, r.StreamSeq, r.Consumer)
	// During a DLQ leader election the publish waits for the new leader rather than handing the
	// message back at once; the msg id makes a resend that was stored after all a duplicate.
	_, err := RetryPublish(pctx, AttemptTimeout(dlqPublishTimeout), func(actx context.Context) (*jetstream.PubAck, error) {
		return l.js.PublishMsg(actx, dlq, jetstream.WithMsgID(id))
	})
	if err != nil {
		return fmt.Errorf("publish dlq: %w", err)
	}
	return nil
}

// fields are the key-value pairs every log line about r carries, then extra.
func (l *Loop) fields(r *Result, extra ...any) []any {
	return append([]any{
		"subject", r.Msg.Subject(), "stream", r.Stream, "consumer", r.Consumer,
		"stream_seq", r.StreamSeq, "delivery", r.Delivered,
	}, extra...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
