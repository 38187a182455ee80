package consumer

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Metadata describes the message an event arrived in.
type Metadata struct {
	// Subject is orders.<tenant>.<provider>.status_changed.
	Subject string
	// Header holds the message headers (Nats-Msg-Id, Content-Type, ...). Do not modify it.
	Header nats.Header
	// Stream and Consumer name the stream (ORDERS) and the durable.
	Stream, Consumer string
	// StreamSeq is the event's sequence in the stream: stable across redeliveries.
	StreamSeq uint64
	// ConsumerSeq counts deliveries by this durable, redeliveries included.
	ConsumerSeq uint64
	// NumDelivered is 1 on the first delivery, 2 on the first redelivery, ...
	NumDelivered uint64
	// NumPending is how many matching events were still waiting to be delivered.
	NumPending uint64
	// Timestamp is when the stream stored the event.
	Timestamp time.Time
}

type metaKey struct{}

// Meta returns the metadata of the message being handled; ok is false outside a Handler.
func Meta(ctx context.Context) (m Metadata, ok bool) {
	m, ok = ctx.Value(metaKey{}).(Metadata)
	return m, ok
}

func withMeta(ctx context.Context, m Metadata) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// metadataOf reads what a delivered message says about itself. A message whose reply subject
// cannot be parsed still gets its subject and headers, and counts as a first delivery.
func metadataOf(msg jetstream.Msg) Metadata {
	m := Metadata{Subject: msg.Subject(), Header: msg.Headers(), NumDelivered: 1}
	if md, err := msg.Metadata(); err == nil {
		m.Stream, m.Consumer = md.Stream, md.Consumer
		m.StreamSeq, m.ConsumerSeq = md.Sequence.Stream, md.Sequence.Consumer
		m.NumDelivered, m.NumPending = md.NumDelivered, md.NumPending
		m.Timestamp = md.Timestamp
	}
	return m
}
