package consumer

import (
	"context"
	"errors"
	"fmt"

	"github.com/hookline/hookline/pkg/consume"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go/jetstream"
)

// Run calls h for every event until ctx ends, then drains: it stops fetching, lets the handlers
// finish the events in hand (their context is cancelled only WithDrainTimeout after ctx ends),
// settles them and returns nil. It returns an error wrapping ErrMessagesEnded when the messages
// end while ctx is live (durable deleted, connection closed). Run may be called several times,
// also at once: the calls share the durable's events.
//
// Settling is the consume engine's (github.com/hookline/hookline/pkg/consume), the same one
// Hookline's own services run; the SDK only decodes events and maps Permanent and poison
// messages to dead letters.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return ErrNilHandler
	}
	loop := consume.NewValue(c.cons, c.js, typed(h), c.s.log, consume.Options{
		Workers:      c.s.concurrency,
		MaxDeliver:   c.s.maxDeliver,
		Backoff:      c.s.backoff,
		AckWait:      c.s.ackWait,
		DrainTimeout: c.s.drainTimeout,
		Drop:         !c.s.deadLetter,
		OnDone:       c.report,
	})
	if err := loop.Run(ctx); err != nil {
		return fmt.Errorf("consumer %s: %w", c.name, err)
	}
	return nil
}

// typed decodes a message for h: a message that is not a canonical event is given up as poison
// without reaching h, and Permanent errors are given up at once.
func typed(h Handler) consume.ValueHandler {
	return func(ctx context.Context, msg jetstream.Msg) (any, error) {
		ev, err := Decode(msg.Headers(), msg.Data())
		if err != nil {
			return nil, consume.DeadLetter(ReasonPoison, err, nil)
		}
		err = h(withMeta(ctx, metadataOf(msg)), ev)
		if errors.Is(err, ErrPermanent) {
			return ev, consume.DeadLetter(ReasonPermanent, err, nil)
		}
		return ev, err
	}
}

// report hands the engine's result to WithOnResult.
func (c *Consumer) report(r consume.Result) {
	if c.s.onResult == nil {
		return
	}
	ev, _ := r.Value.(*ordersv1.OrderStatusChanged)
	c.s.onResult(Result{
		Meta: metadataOf(r.Msg), Event: ev, Outcome: r.Outcome, Reason: r.Reason,
		Err: r.Err, Delay: r.Delay, Took: r.Took,
	})
}
