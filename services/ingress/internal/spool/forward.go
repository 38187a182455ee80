package spool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Publisher stores a message and returns once JetStream acknowledged it (*publish.Publisher).
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error)
}

// WrapOptions tune the spooling publisher.
type WrapOptions struct {
	// Connected reports whether the NATS connection is up (*publish.Publisher.Connected). While
	// it is not, messages go to the spool at once instead of waiting HOOKLINE_PUBLISH_TIMEOUT for
	// a publish that cannot be sent; the forwarder probes NATS meanwhile. nil: always try.
	Connected func() bool
}

// Wrap returns a publisher that tries next and, when JetStream is unavailable, spools the
// message instead. A nil spool returns next unchanged.
//
// While the spool holds anything, new messages go straight to it, so JetStream receives them in
// arrival order once the forwarder catches up; so do they while the connection is known to be
// down (o.Connected). A publish that timed out may still have been stored: spooling it too is
// safe, because the forwarder republishes with the same Nats-Msg-Id (JetStream drops it within
// the duplicate window) and the worker dedupes by event id. After such a timeout the spool holds
// the message, so the next ones go straight to the spool until the forwarder has drained it,
// that is until JetStream answers again: one timeout is waited per outage, not one per request.
func (s *Spool) Wrap(next Publisher, o WrapOptions) Publisher {
	if s == nil {
		return next
	}
	if o.Connected == nil {
		o.Connected = func() bool { return true }
	}
	return &spooling{next: next, s: s, connected: o.Connected}
}

type spooling struct {
	next      Publisher
	s         *Spool
	connected func() bool
}

func (p *spooling) Publish(ctx context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error) {
	if p.s.Messages() == 0 && p.connected() {
		ack, err := p.next.Publish(ctx, msg, msgID)
		if err == nil || !errors.Is(err, publish.ErrUnavailable) {
			return ack, err
		}
	}
	if err := p.s.Put(msg, msgID); err != nil {
		return nil, fmt.Errorf("%w: %w", publish.ErrUnavailable, err)
	}
	// Spooled: not yet in JetStream. The ack carries no stream sequence.
	return &jetstream.PubAck{Stream: publish.SpooledStream}, nil
}

// AsyncPublisher is the part of jetstream.JetStream the forwarder uses.
type AsyncPublisher interface {
	PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

// ForwardOptions tune the forwarder.
type ForwardOptions struct {
	// Timeout bounds the wait for a batch's PubAcks (HOOKLINE_PUBLISH_TIMEOUT; default 2s).
	Timeout time.Duration
	// Batch is the number of records published before waiting for their acks (default 256).
	Batch int
	// Connected reports whether the NATS connection is up: while it is not, the forwarder reads
	// nothing and checks again every PollInterval (nil: always try, with backoff).
	Connected func() bool
	// PollInterval is how often a down connection is checked (default 100ms).
	PollInterval time.Duration
	// OnNoStream is called when JetStream has no stream for a subject (so the caller can
	// re-create the streams).
	OnNoStream func()
	// Log reports failed rounds (default: nop).
	Log *zap.Logger
}

// Forward publishes spooled records in arrival order until ctx ends, removing each only after
// its PubAck. A failed round is retried with backoff (250 ms doubling to 5 s); new records do
// not cut the backoff short (during an outage every commit would otherwise read and decode a
// batch for nothing). While o.Connected reports the connection down, nothing is read. A nil
// spool returns at once.
func (s *Spool) Forward(ctx context.Context, js AsyncPublisher, o ForwardOptions) {
	if s == nil {
		return
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 100 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	const minBackoff, maxBackoff = 250 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	failures := 0
	for ctx.Err() == nil {
		if s.Messages() == 0 {
			s.wait(ctx, time.Second)
			continue
		}
		if o.Connected != nil && !o.Connected() {
			sleep(ctx, o.PollInterval)
			continue
		}
		n, err := s.forwardRound(ctx, js, o)
		if err == nil {
			if failures > 0 {
				o.Log.Info("spool forwarding resumed", zap.Int64("spooled", s.Messages()))
			}
			failures, backoff = 0, minBackoff
			continue
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			if o.OnNoStream != nil {
				o.OnNoStream()
			}
		}
		if failures%20 == 0 {
			o.Log.Warn("spool forwarding failed, retrying", zap.Int("forwarded", n), zap.Int64("spooled", s.Messages()),
				zap.Duration("backoff", backoff), zap.Error(err))
		}
		failures++
		sleep(ctx, backoff)
		backoff = min(2*backoff, maxBackoff)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// forwardRound publishes the oldest records (up to o.Batch), waits for their acks and removes
// the acknowledged ones. It returns how many were removed and the first failure.
func (s *Spool) forwardRound(ctx context.Context, js AsyncPublisher, o ForwardOptions) (int, error) {
	items, err := s.oldest(o.Batch)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	futs := make([]jetstream.PubAckFuture, 0, len(items))
	var sendErr error
	for _, it := range items {
		f, err := js.PublishMsgAsync(it.rec.msg(), jetstream.WithMsgID(it.rec.MsgID), jetstream.WithStallWait(o.Timeout))
		if err != nil {
			sendErr = fmt.Errorf("forward %s: %w", it.rec.Subject, err)
			break // the rest wait for the next round, keeping the order
		}
		futs = append(futs, f)
	}
	timer := time.NewTimer(o.Timeout)
	defer timer.Stop()
	acked := make([]item, 0, len(futs))
	var ackErr error
wait:
	for i, f := range futs {
		select {
		case <-f.Ok():
			acked = append(acked, items[i])
		case err := <-f.Err():
			ackErr = fmt.Errorf("forward %s: %w", items[i].rec.Subject, err)
			// Later ones may be acked: they are removed too (a republish would only be a duplicate).
		case <-timer.C:
			ackErr = fmt.Errorf("forward: no ack within %s", o.Timeout)
			break wait
		case <-ctx.Done():
			ackErr = ctx.Err()
			break wait
		}
	}
	// A crash between the acks and this removal republishes them after the restart, under the
	// same Nats-Msg-Id.
	if err := s.remove(acked); err != nil {
		return 0, err
	}
	return len(acked), errors.Join(sendErr, ackErr)
}
