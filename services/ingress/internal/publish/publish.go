// Package publish stores messages in JetStream for the ingress. Publishes are asynchronous so
// concurrent requests share the connection, and each request waits on its own ack future: the
// caller gets the PubAck (the message is stored) or ErrUnavailable within the timeout, never a
// guess.
package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	opts := []jetstream.PublishOpt{jetstream.WithStallWait(consume.AttemptTimeout(p.timeout))}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	ack, err := consume.RetryPublish(ctx, consume.AttemptTimeout(p.timeout), func(actx context.Context) (*jetstream.PubAck, error) {
		return p.attempt(actx, msg, opts)
	})
	switch {
	case err == nil:
		return ack, nil
	case errors.Is(err, nats.ErrMaxPayload):
		return nil, fmt.Errorf("publish %s: %w: %w", msg.Subject, ErrTooLarge, err)
	default:
		return nil, fmt.Errorf("publish %s: %w: %w", msg.Subject, ErrUnavailable, err)
	}
}

// attempt sends msg once and waits for its ack until ctx ends.
func (p *Publisher) attempt(ctx context.Context, msg *nats.Msg, opts []jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if !p.nc.IsConnected() {
		return nil, fmt.Errorf("%w (%s)", nats.ErrDisconnected, p.nc.Status())
	}
	fut, err := p.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		return nil, err
	}
	select {
	case ack := <-fut.Ok():
		return ack, nil
	case err := <-fut.Err():
		return nil, err
	case <-ctx.Done():
		return nil, fmt.Errorf("no ack: %w", ctx.Err())
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
