// Package consume runs a JetStream pull consumer the way every Hookline service needs it: the
// handler returns an error and the loop decides what happens to the message.
//
//   - nil: Ack.
//   - a *RetryError (Retry): NakWithDelay with its delay. One made by Unavailable (a dependency
//     is down) never counts towards MaxDeliver.
//   - a *DeadLetterError (DeadLetter): copy to the DLQ stream with its reason, then Term.
//   - any other error: NakWithDelay with the backoff for this delivery; on the last allowed
//     delivery (MaxDeliver) the message goes to the DLQ instead, so nothing ends in silence.
//
// If the DLQ publish itself fails the message is Nak'ed, never Term'ed. Long handlers are kept
// alive with InProgress. Stop drains: no new messages are fetched, messages in hand finish and
// are acked, then Run returns.
package consume

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Handler handles one message. It must not ack, nak or term it.
type Handler func(ctx context.Context, msg jetstream.Msg) error

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

// DeadLetterError sends the message to the DLQ with Reason and extra Headers, then terms it.
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

// Outcome is what the loop did with a message.
type Outcome string

// Outcomes.
const (
	Acked        Outcome = "ack"
	Retried      Outcome = "retry"
	DeadLettered Outcome = "dlq"
)

// ReasonMaxDeliveries is the DLQ reason for a message whose deliveries ran out.
const ReasonMaxDeliveries = "max_deliveries"

// Options configure Run.
type Options struct {
	// Workers is how many messages are handled at once (default 1).
	Workers int
	// Batch is how many messages the client buffers ahead (default 2×Workers).
	Batch int
	// MaxDeliver is how many deliveries a failing message gets before the loop dead-letters it;
	// <= 0 means unlimited. The loop enforces it, not the server: create the consumer with
	// MaxDeliver -1, or a message whose DLQ publish failed on its last delivery would never be
	// redelivered.
	MaxDeliver int
	// Backoff gives the delay for delivery n (1-based) of a failed message: Backoff[n-1], the last
	// entry repeating. Empty means 1s.
	Backoff []time.Duration
	// AckWait is the consumer's AckWait; a handler still running after half of it sends InProgress.
	AckWait time.Duration
	// OnDone, if set, observes every handled message.
	OnDone func(msg jetstream.Msg, outcome Outcome, err error, took time.Duration)
}

// Loop consumes one durable consumer.
type Loop struct {
	cons jetstream.Consumer
	js   jetstream.JetStream
	h    Handler
	log  *zap.Logger
	o    Options
}

// New returns a loop over cons; js publishes dead letters.
func New(cons jetstream.Consumer, js jetstream.JetStream, h Handler, log *zap.Logger, o Options) *Loop {
	if o.Workers < 1 {
		o.Workers = 1
	}
	if o.Batch < 1 {
		o.Batch = 2 * o.Workers
	}
	if len(o.Backoff) == 0 {
		o.Backoff = []time.Duration{time.Second}
	}
	return &Loop{cons: cons, js: js, h: h, log: log, o: o}
}

// BackoffFor returns the redelivery delay after delivery n (1-based).
func (l *Loop) BackoffFor(n uint64) time.Duration {
	if n < 1 {
		n = 1
	}
	i := int(min(n, uint64(len(l.o.Backoff)))) - 1
	return l.o.Backoff[i]
}

// Run handles messages until ctx ends, then drains: it stops fetching, finishes the messages in
// hand (handlers see a context that is not cancelled, so they can ack), and returns nil. If the
// messages end while ctx is still live (consumer deleted, connection closed), Run returns an
// error.
func (l *Loop) Run(ctx context.Context) error {
	it, err := l.cons.Messages(jetstream.PullMaxMessages(l.o.Batch))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	// Handlers run on a context detached from ctx so that messages in hand finish on shutdown.
	hctx := context.WithoutCancel(ctx)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		endErr  error
	)
	for range l.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				msg, err := it.Next()
				if err != nil {
					if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
						l.log.Error("consume next", zap.Error(err))
					}
					errOnce.Do(func() { endErr = err })
					return
				}
				l.handle(hctx, msg)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() == nil {
		// The iterator ended by itself (consumer deleted, connection closed): not a shutdown.
		return fmt.Errorf("consume: messages ended: %w", endErr)
	}
	return nil
}

func (l *Loop) handle(ctx context.Context, msg jetstream.Msg) {
	start := time.Now()
	// The mutex orders the timer's assignment before its first tick, and stopped keeps a tick
	// that races with the end of the handler from re-arming the timer after the message is
	// settled (it would then send InProgress forever).
	var (
		kaMu      sync.Mutex
		keepAlive *time.Timer
		stopped   bool
	)
	if l.o.AckWait > 0 {
		kaMu.Lock()
		keepAlive = time.AfterFunc(l.o.AckWait/2, func() {
			kaMu.Lock()
			defer kaMu.Unlock()
			if stopped {
				return
			}
			_ = msg.InProgress() // best effort: a lost InProgress at worst means a redelivery
			keepAlive.Reset(l.o.AckWait / 2)
		})
		kaMu.Unlock()
	}
	err := l.h(ctx, msg)
	if keepAlive != nil {
		kaMu.Lock()
		stopped = true
		keepAlive.Stop()
		kaMu.Unlock()
	}
	outcome := l.settle(ctx, msg, err)
	if l.o.OnDone != nil {
		l.o.OnDone(msg, outcome, err, time.Since(start))
	}
}

func (l *Loop) settle(ctx context.Context, msg jetstream.Msg, err error) Outcome {
	meta, metaErr := msg.Metadata()
	var delivered uint64 = 1
	var seq uint64
	if metaErr == nil {
		delivered = meta.NumDelivered
		seq = meta.Sequence.Stream
	}
	if err == nil {
		if aerr := msg.Ack(); aerr != nil {
			l.log.Warn("ack", zap.Uint64("seq", seq), zap.Error(aerr))
		}
		return Acked
	}
	var dl *DeadLetterError
	var re *RetryError
	switch {
	case errors.As(err, &dl):
		return l.deadLetter(ctx, msg, seq, delivered, dl.Reason, dl.Headers, err)
	case errors.As(err, &re) && re.Unavailable:
		l.nak(msg, seq, re.Delay, err)
	case l.o.MaxDeliver > 0 && delivered >= uint64(l.o.MaxDeliver):
		return l.deadLetter(ctx, msg, seq, delivered, ReasonMaxDeliveries, nil, err)
	case errors.As(err, &re):
		l.nak(msg, seq, re.Delay, err)
	default:
		l.nak(msg, seq, l.BackoffFor(delivered), err)
	}
	return Retried
}

func (l *Loop) nak(msg jetstream.Msg, seq uint64, delay time.Duration, cause error) {
	l.log.Warn("message retried", zap.String("subject", msg.Subject()), zap.Uint64("seq", seq),
		zap.Duration("delay", delay), zap.Error(cause))
	if err := msg.NakWithDelay(delay); err != nil {
		l.log.Warn("nak", zap.Uint64("seq", seq), zap.Error(err))
	}
}

func (l *Loop) deadLetter(ctx context.Context, msg jetstream.Msg, seq, delivered uint64, reason string, extra map[string]string, cause error) Outcome {
	dlq := nats.NewMsg(streams.DLQSubject(msg.Subject()))
	dlq.Data = msg.Data()
	for k, v := range msg.Headers() {
		// Nats-* headers are directives for the original publish (msg id, expected stream or
		// sequence, rollup, TTL...): copied, they would dedupe or fail the DLQ publish.
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		dlq.Header[k] = append([]string(nil), v...)
	}
	dlq.Header.Set(streams.HeaderDLQReason, reason)
	dlq.Header.Set(streams.HeaderDLQStreamSeq, strconv.FormatUint(seq, 10))
	dlq.Header.Set(streams.HeaderDLQDeliveries, strconv.FormatUint(delivered, 10))
	dlq.Header.Set(streams.HeaderDLQSubject, msg.Subject())
	dlq.Header.Set(streams.HeaderDLQAt, time.Now().UTC().Format(time.RFC3339Nano))
	if cause != nil {
		dlq.Header.Set(streams.HeaderDLQError, truncate(cause.Error(), 512))
	}
	for k, v := range extra {
		dlq.Header.Set(k, v)
	}
	stream := ""
	if meta, err := msg.Metadata(); err == nil {
		stream = meta.Stream
		dlq.Header.Set(streams.HeaderDLQStream, stream)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The msg id makes a second dead-lettering of the same delivery a no-op.
	if _, err := l.js.PublishMsg(pctx, dlq, jetstream.WithMsgID("dlq:"+stream+":"+strconv.FormatUint(seq, 10))); err != nil {
		l.nak(msg, seq, l.BackoffFor(delivered), fmt.Errorf("publish dlq: %w", err))
		return Retried
	}
	l.log.Warn("message dead-lettered", zap.String("subject", msg.Subject()), zap.Uint64("seq", seq),
		zap.String("reason", reason), zap.Uint64("deliveries", delivered), zap.Error(cause))
	if err := msg.Term(); err != nil {
		l.log.Warn("term", zap.Uint64("seq", seq), zap.Error(err))
	}
	return DeadLettered
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
