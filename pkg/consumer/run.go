package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// dlqPublishTimeout bounds one DLQ copy.
const dlqPublishTimeout = 5 * time.Second

// Run calls h for every event until ctx ends, then drains: it stops fetching, lets the handlers
// finish the events in hand (their context is cancelled only WithDrainTimeout after ctx ends),
// settles them and returns nil. It returns an error wrapping ErrMessagesEnded when the messages
// end while ctx is live (durable deleted, connection closed). Run may be called several times,
// also at once: the calls share the durable's events.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return ErrNilHandler
	}
	it, err := c.cons.Messages(jetstream.PullMaxMessages(2 * c.s.concurrency))
	if err != nil {
		return fmt.Errorf("consumer %s: messages: %w", c.name, err)
	}
	stopDrain := context.AfterFunc(ctx, it.Drain)
	defer stopDrain()

	// Handlers run on a context that outlives ctx by the drain timeout, so events in hand can
	// finish and be acknowledged on shutdown.
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
			drainTimer = time.AfterFunc(c.s.drainTimeout, cancelHandlers)
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

	var (
		wg      sync.WaitGroup
		endOnce sync.Once
		endErr  error
	)
	for range c.s.concurrency {
		wg.Go(func() {
			for {
				msg, err := it.Next()
				if err != nil {
					endOnce.Do(func() { endErr = err })
					return
				}
				c.handle(hctx, msg, h)
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		return fmt.Errorf("consumer %s: %w: %w", c.name, ErrMessagesEnded, endErr)
	}
	return nil
}

// handle decodes, runs the handler and settles one message.
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg, h Handler) {
	start := time.Now()
	r := Result{Meta: metadataOf(msg)}
	ev, err := Decode(msg.Headers(), msg.Data())
	switch {
	case err != nil:
		r.Err = err
		c.giveUp(ctx, msg, &r, ReasonPoison)
	case ctx.Err() != nil:
		// Shutdown ran past the drain timeout: hand the event back at once, unhandled.
		r.Event, r.Err = ev, fmt.Errorf("not handled: %w", context.Cause(ctx))
		c.retry(msg, &r, 0)
	default:
		r.Event = ev
		stopKeepAlive := keepAlive(msg, c.s.ackWait/2)
		r.Err = h(withMeta(ctx, r.Meta), ev)
		stopKeepAlive()
		c.settle(ctx, msg, &r)
	}
	r.Took = time.Since(start)
	if c.s.onResult != nil {
		c.s.onResult(r)
	}
}

// settle acks, retries or gives up on a handled message according to r.Err.
func (c *Consumer) settle(ctx context.Context, msg jetstream.Msg, r *Result) {
	switch {
	case r.Err == nil:
		r.Outcome = Acked
		if err := msg.Ack(); err != nil {
			c.s.log.Warn("hookline consumer: ack failed, the event will be redelivered",
				c.attrs(r, slog.Any("error", err))...)
		}
	case errors.Is(r.Err, ErrPermanent):
		c.giveUp(ctx, msg, r, ReasonPermanent)
	case c.s.maxDeliver > 0 && r.Meta.NumDelivered >= uint64(c.s.maxDeliver):
		c.giveUp(ctx, msg, r, ReasonMaxDeliveries)
	default:
		c.retry(msg, r, c.s.backoffFor(r.Meta.NumDelivered))
	}
}

// retry naks the message so it comes back after delay.
func (c *Consumer) retry(msg jetstream.Msg, r *Result, delay time.Duration) {
	r.Outcome, r.Delay = Retried, delay
	c.s.log.Warn("hookline consumer: event will be redelivered",
		c.attrs(r, slog.Duration("delay", delay), slog.Any("error", r.Err))...)
	if err := msg.NakWithDelay(delay); err != nil {
		// The server redelivers after AckWait anyway.
		c.s.log.Warn("hookline consumer: nak failed", c.attrs(r, slog.Any("error", err))...)
	}
}

// giveUp terminates a message the consumer will not process, after copying it to the DLQ when
// configured. A failed DLQ copy retries the message instead: nothing is dropped that was meant
// to be kept.
func (c *Consumer) giveUp(ctx context.Context, msg jetstream.Msg, r *Result, reason string) {
	r.Reason = reason
	r.Outcome = Dropped
	if c.s.deadLetter {
		if err := c.deadLetter(ctx, msg, r); err != nil {
			r.Err = errors.Join(r.Err, err)
			r.Reason = ""
			c.retry(msg, r, c.s.backoffFor(r.Meta.NumDelivered))
			return
		}
		r.Outcome = DeadLettered
	}
	c.s.log.Error("hookline consumer: message given up, it will not be redelivered",
		c.attrs(r, slog.String("reason", reason), slog.String("outcome", string(r.Outcome)), slog.Any("error", r.Err))...)
	if err := msg.Term(); err != nil {
		c.s.log.Warn("hookline consumer: term failed", c.attrs(r, slog.Any("error", err))...)
	}
}

// deadLetter copies msg to dlq.<subject> with the Hookline-Dlq-* headers.
func (c *Consumer) deadLetter(ctx context.Context, msg jetstream.Msg, r *Result) error {
	m := r.Meta
	dlq := nats.NewMsg(streams.DLQSubject(m.Subject))
	dlq.Data = msg.Data()
	for k, v := range msg.Headers() {
		// Nats-* headers direct the original publish (msg id, expectations): copied, they would
		// dedupe or fail the DLQ publish.
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		dlq.Header[k] = append([]string(nil), v...)
	}
	dlq.Header.Set(streams.HeaderDLQReason, r.Reason)
	dlq.Header.Set(streams.HeaderDLQStreamSeq, strconv.FormatUint(m.StreamSeq, 10))
	dlq.Header.Set(streams.HeaderDLQDeliveries, strconv.FormatUint(m.NumDelivered, 10))
	dlq.Header.Set(streams.HeaderDLQSubject, m.Subject)
	dlq.Header.Set(streams.HeaderDLQStream, streams.Orders)
	dlq.Header.Set(streams.HeaderDLQAt, time.Now().UTC().Format(time.RFC3339Nano))
	dlq.Header.Set(HeaderDLQConsumer, c.name)
	if r.Err != nil {
		dlq.Header.Set(streams.HeaderDLQError, truncate(r.Err.Error(), 512))
	}
	pctx, cancel := context.WithTimeout(ctx, dlqPublishTimeout)
	defer cancel()
	// One id per durable and stream sequence: a second copy of the same message by the same
	// durable is dropped by the DLQ's duplicate window; other durables still get theirs.
	id := "dlq:" + streams.Orders + ":" + strconv.FormatUint(m.StreamSeq, 10) + ":" + c.name
	if _, err := c.js.PublishMsg(pctx, dlq, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	return nil
}

// keepAlive sends InProgress every interval until the returned stop is called; after stop
// returns no more are sent.
func keepAlive(msg jetstream.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress() // best effort: a lost one at worst causes a redelivery
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func (c *Consumer) attrs(r *Result, extra ...any) []any {
	a := []any{
		slog.String("consumer", c.name),
		slog.String("subject", r.Meta.Subject),
		slog.Uint64("stream_seq", r.Meta.StreamSeq),
		slog.Uint64("delivery", r.Meta.NumDelivered),
	}
	if r.Event != nil {
		a = append(a, slog.String("event_id", r.Event.GetEventId()))
	}
	return append(a, extra...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
