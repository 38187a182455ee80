package console

import (
	"context"
	"errors"
	"fmt"

	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// canonicalEvent is one ORDERS message of an order.
type canonicalEvent struct {
	ev   *ordersv1.OrderStatusChanged
	json string
}

// canonicalEvents returns the order's canonical events still in ORDERS, keyed by event id,
// scanning at most the last scanLimit messages of the stream on the tenant's and provider's
// subject.
func canonicalEvents(ctx context.Context, js jetstream.JetStream, tenant, provider, orderID string) (map[string]canonicalEvent, error) {
	out := map[string]canonicalEvent{}
	s, err := js.Stream(ctx, streams.Orders)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streams.Orders, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streams.Orders, err)
	}
	if info.State.Msgs == 0 {
		return out, nil
	}
	start := info.State.FirstSeq
	if info.State.LastSeq > scanLimit && info.State.LastSeq-scanLimit > start {
		start = info.State.LastSeq - scanLimit
	}
	cons, err := js.OrderedConsumer(ctx, streams.Orders, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.OrderSubject(tenant, provider)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: start,
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", streams.Orders, err)
	}
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return out, nil
	}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", streams.Orders, err)
		}
		n, done := 0, false
		for m := range batch.Messages() {
			n++
			if md, err := m.Metadata(); err == nil && (md.NumPending == 0) {
				done = true
			}
			if m.Headers().Get(streams.HeaderOrderID) != orderID {
				continue
			}
			ev := &ordersv1.OrderStatusChanged{}
			if proto.Unmarshal(m.Data(), ev) != nil || ev.GetOrderId() != orderID {
				continue
			}
			b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(ev)
			if err != nil {
				continue
			}
			out[ev.GetEventId()] = canonicalEvent{ev: ev, json: string(b)}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("scan %s: %w", streams.Orders, err)
		}
		if done || n == 0 || ctx.Err() != nil {
			return out, nil //nolint:nilerr // what was found before the bound or the end of the stream
		}
	}
}
