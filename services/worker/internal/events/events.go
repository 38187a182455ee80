// Package events builds the canonical hookline.orders.v1.OrderStatusChanged events and publishes
// them to the ORDERS stream, waiting for JetStream to store them.
package events

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Source is what a canonical event says about the provider event behind it.
type Source struct {
	Tenant, Provider, OrderID, SourceEventID string
	ItemID                                   string // empty for a whole order
	OccurredAt, ReceivedAt                   time.Time
}

// Applied is the recorded outcome of an applied transition.
type Applied struct {
	PreviousStatus    string
	PreviousCanonical ordersv1.OrderStatus
	Status            string
	Canonical         ordersv1.OrderStatus
	Version           int64
	Skipped           []ordersv1.OrderStatus
	AppliedAt         time.Time
	Seq               uint64
}

// EventID is `<provider>:<tenant>:<source event id>[:<order item id>]`.
func EventID(provider, tenant, sourceEventID, itemID string) string {
	id := provider + ":" + tenant + ":" + sourceEventID
	if itemID != "" {
		id += ":" + itemID
	}
	return id
}

// Build returns the canonical event for an applied transition. The same inputs give the same
// event, so a redelivery republishes byte-identical bytes.
func Build(src Source, a Applied) *ordersv1.OrderStatusChanged {
	return &ordersv1.OrderStatusChanged{
		EventId:                EventID(src.Provider, src.Tenant, src.SourceEventID, src.ItemID),
		TenantId:               src.Tenant,
		Provider:               src.Provider,
		SourceEventId:          src.SourceEventID,
		OrderId:                src.OrderID,
		OrderItemId:            src.ItemID,
		PreviousStatus:         a.PreviousCanonical,
		Status:                 a.Canonical,
		ProviderPreviousStatus: a.PreviousStatus,
		ProviderStatus:         a.Status,
		Version:                a.Version,
		Skipped:                a.Skipped,
		OccurredAt:             timestamppb.New(src.OccurredAt),
		ReceivedAt:             timestamppb.New(src.ReceivedAt),
		AppliedAt:              timestamppb.New(a.AppliedAt),
		SourceStreamSequence:   a.Seq,
	}
}

// ErrNotEncodable marks a transition the canonical encoding cannot carry (protobuf refuses a
// string field that is not valid UTF-8).
var ErrNotEncodable = errors.New("not encodable as a canonical event")

// Check refuses, before it is applied, a transition whose canonical event could never be
// published: protobuf refuses a string field that is not valid UTF-8, and that is the only way
// encoding an OrderStatusChanged can fail (numbers, enums and timestamps always encode). So Check
// validates the strings the event would carry (event_id is made of them) instead of encoding the
// whole event; TestCheckAgreesWithEncoding holds it to the encoder. provider_previous_status
// comes from the order's state, which only ever holds a status that passed this check.
func Check(src Source, status string) error {
	fields := [...]struct{ name, v string }{
		{"tenant_id", src.Tenant}, {"provider", src.Provider}, {"order_id", src.OrderID},
		{"source_event_id", src.SourceEventID}, {"order_item_id", src.ItemID}, {"provider_status", status},
	}
	for _, f := range fields {
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrNotEncodable, f.name)
		}
	}
	return nil
}

// Msg encodes ev for the ORDERS stream: subject orders.<tenant>.<provider>.status_changed,
// Nats-Msg-Id = event_id (JetStream drops a re-publish), Content-Type application/protobuf.
func Msg(ev *ordersv1.OrderStatusChanged) (*nats.Msg, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.GetEventId(), err)
	}
	m := nats.NewMsg(streams.OrderSubject(ev.GetTenantId(), ev.GetProvider()))
	m.Data = data
	m.Header.Set(streams.HeaderMsgID, ev.GetEventId())
	m.Header.Set(streams.HeaderContentType, streams.ContentTypeProtobuf)
	m.Header.Set(streams.HeaderTenant, ev.GetTenantId())
	m.Header.Set(streams.HeaderProvider, ev.GetProvider())
	m.Header.Set(streams.HeaderEventID, ev.GetSourceEventId())
	m.Header.Set(streams.HeaderOrderID, ev.GetOrderId())
	return m, nil
}

// ErrNotStored marks a publish JetStream did not confirm.
var ErrNotStored = errors.New("canonical event not stored")

// asyncPublisher is the part of jetstream.JetStream the Publisher uses.
type asyncPublisher interface {
	PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

var _ asyncPublisher = (jetstream.JetStream)(nil)

// Publisher publishes canonical events asynchronously and waits for their PubAcks, so many
// handlers' publishes share the connection's write batches.
type Publisher struct {
	js      asyncPublisher
	timeout time.Duration
}

// NewPublisher returns a publisher that gives JetStream timeout to store each batch.
func NewPublisher(js asyncPublisher, timeout time.Duration) *Publisher {
	return &Publisher{js: js, timeout: timeout}
}

// Publish sends msgs and returns once JetStream stored every one (a duplicate counts as stored).
// A batch that fails in a way a resend may fix (consume.Transient: a leader election, a leader
// that died before acking) is sent again, whole, until the timeout: every event carries its
// Nats-Msg-Id, so the copies already stored are dropped as duplicates.
func (p *Publisher) Publish(ctx context.Context, msgs []*nats.Msg) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err := consume.RetryPublish(ctx, consume.AttemptTimeout(p.timeout), func(actx context.Context) (struct{}, error) {
		return struct{}{}, p.publishOnce(actx, msgs)
	})
	return err
}

func (p *Publisher) publishOnce(ctx context.Context, msgs []*nats.Msg) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := p.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("%w: publish %s: %w", ErrNotStored, m.Header.Get(streams.HeaderMsgID), err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("%w: %s: %w", ErrNotStored, f.Msg().Header.Get(streams.HeaderMsgID), err)
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %w", ErrNotStored, f.Msg().Header.Get(streams.HeaderMsgID), ctx.Err())
		}
	}
	return nil
}
