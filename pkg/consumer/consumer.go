// Package consumer is the Go SDK for teams that consume Hookline's canonical order events: a
// durable JetStream pull consumer on the ORDERS stream that decodes every message into a typed
// *ordersv1.OrderStatusChanged and settles it from the handler's answer.
//
//   - The handler returns nil: the message is acknowledged.
//   - The handler returns an error: the message is redelivered after a backoff (WithBackoff),
//     forever unless WithMaxDeliver caps the deliveries.
//   - The handler returns Permanent(err): the message is given up at once.
//   - The message is not a canonical event (poison): it is given up at once, never handed to the
//     handler, so it cannot block the stream.
//
// A message given up is terminated (the server never redelivers it), logged, reported to
// WithOnResult and, with WithDeadLetter, copied to Hookline's DLQ stream first.
//
// Delivery is at least once: handlers must be idempotent, keyed by event_id. See
// docs/consumers.md for subjects, headers, ordering and the other guarantees.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go/jetstream"
)

// Sentinel errors.
var (
	// ErrInvalidName: the durable name is not one subject token of letters, digits, '-' or '_'.
	ErrInvalidName = errors.New("invalid durable name")
	// ErrInvalidFilter: a tenant or provider filter is not a subject token or "*".
	ErrInvalidFilter = errors.New("invalid filter")
	// ErrInvalidOption: an option value cannot work.
	ErrInvalidOption = errors.New("invalid option")
	// ErrNilJetStream: New was given no JetStream context.
	ErrNilJetStream = errors.New("nil jetstream")
	// ErrNilHandler: Run was given no handler.
	ErrNilHandler = errors.New("nil handler")
	// ErrMessagesEnded: the message flow ended while Run's context was live (the durable was
	// deleted or the connection closed for good).
	ErrMessagesEnded = consume.ErrMessagesEnded
	// ErrPermanent marks a handler error that no redelivery can fix; see Permanent.
	ErrPermanent = errors.New("permanent failure")
)

// Reasons a message is given up, reported in Result.Reason and the Hookline-Dlq-Reason header.
const (
	ReasonPoison        = "poison"
	ReasonPermanent     = "permanent"
	ReasonMaxDeliveries = consume.ReasonMaxDeliveries
)

// HeaderDLQConsumer names the durable that dead-lettered a message (WithDeadLetter).
const HeaderDLQConsumer = consume.HeaderDLQConsumer

// Handler processes one canonical event. It must be idempotent (keyed by ev.EventId): an event
// can be delivered more than once. It must not keep ev after it returns.
type Handler func(ctx context.Context, ev *ordersv1.OrderStatusChanged) error

// Permanent wraps err so the event is given up at once instead of redelivered; errors.Is(e,
// ErrPermanent) and errors.Is(e, err) both hold for the result.
func Permanent(err error) error {
	if err == nil {
		return ErrPermanent
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// Outcome is what Run did with one message: the consume engine's outcomes.
type Outcome = consume.Outcome

// Outcomes.
const (
	// Acked: the handler succeeded and the message was acknowledged.
	Acked = consume.Acked
	// Retried: the message will be redelivered after Result.Delay.
	Retried = consume.Retried
	// Dropped: the message was given up and terminated without a DLQ copy.
	Dropped = consume.Dropped
	// DeadLettered: the message was copied to the DLQ, then terminated.
	DeadLettered = consume.DeadLettered
)

// Result describes one settled message, for WithOnResult.
type Result struct {
	Meta Metadata
	// Event is nil when the message could not be decoded.
	Event   *ordersv1.OrderStatusChanged
	Outcome Outcome
	// Reason is ReasonPoison, ReasonPermanent or ReasonMaxDeliveries for Dropped and
	// DeadLettered, empty otherwise.
	Reason string
	// Err is the handler's or the decoder's error; nil when Acked.
	Err error
	// Delay is the redelivery delay when Retried.
	Delay time.Duration
	// Took is how long the message took from receipt to settlement.
	Took time.Duration
}

// Consumer is one durable consumer on the ORDERS stream. Several processes (or several Run
// calls) using the same durable name share its events: each event goes to one of them.
type Consumer struct {
	js     jetstream.JetStream
	cons   jetstream.Consumer
	name   string
	filter string
	s      settings
}

// New creates the durable pull consumer name on the ORDERS stream, or updates it when it exists
// (the start position of an existing durable is kept: it resumes where it left off). Pick one
// durable name per team and purpose, e.g. "billing-order-sync".
func New(ctx context.Context, js jetstream.JetStream, name string, opts ...Option) (*Consumer, error) {
	if !validToken(name) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	s := defaults()
	for _, opt := range opts {
		opt(&s)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	filter, err := FilterSubject(s.tenant, s.provider)
	if err != nil {
		return nil, err
	}
	if js == nil {
		return nil, ErrNilJetStream
	}
	cfg := s.consumerConfig(name, filter)
	cons, err := upsert(ctx, js, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", name, Stream, err)
	}
	return &Consumer{js: js, cons: cons, name: name, filter: filter, s: s}, nil
}

// upsert creates the durable or updates it while keeping its start position, which the server
// does not allow to change.
func upsert(ctx context.Context, js jetstream.JetStream, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	var err error
	// A second attempt covers a concurrent creation by another process.
	for range 2 {
		var existing jetstream.Consumer
		existing, err = js.Consumer(ctx, Stream, cfg.Durable)
		switch {
		case err == nil:
			cur := existing.CachedInfo().Config
			cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = cur.DeliverPolicy, cur.OptStartTime, cur.OptStartSeq
		case errors.Is(err, jetstream.ErrConsumerNotFound):
		default:
			return nil, fmt.Errorf("look up: %w", err)
		}
		var cons jetstream.Consumer
		cons, err = js.CreateOrUpdateConsumer(ctx, Stream, cfg)
		if err == nil {
			return cons, nil
		}
		if existing != nil || ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("create or update: %w", err)
}

// Name is the durable name.
func (c *Consumer) Name() string { return c.name }

// FilterSubject is the subject filter of the durable, e.g. orders.*.bunjang.status_changed.
func (c *Consumer) FilterSubject() string { return c.filter }

// FilterSubject returns the ORDERS subject filter for a tenant and a provider; empty or "*"
// stands for any.
func FilterSubject(tenant, provider string) (string, error) {
	t, err := filterToken("tenant", tenant)
	if err != nil {
		return "", err
	}
	p, err := filterToken("provider", provider)
	if err != nil {
		return "", err
	}
	return orderSubject(t, p), nil
}

func filterToken(what, v string) (string, error) {
	if v == "" || v == "*" {
		return "*", nil
	}
	if !validToken(v) {
		return "", fmt.Errorf("%w: %s %q", ErrInvalidFilter, what, v)
	}
	return v, nil
}
