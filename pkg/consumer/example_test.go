package consumer_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/hookline/hookline/pkg/consumer"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errUnknownOrder stands for a condition no redelivery can fix.
var errUnknownOrder = errors.New("order unknown to billing")

// applyToBilling stands for the team's own idempotent write, keyed by event_id.
func applyToBilling(context.Context, *ordersv1.OrderStatusChanged) error { return nil }

// A downstream team's consumer: every Petstore status change, each event handled at least once.
func Example() {
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// One durable name per team and purpose; every replica of the service uses the same name
	// and they share the events.
	c, err := consumer.New(ctx, js, "billing-order-sync",
		consumer.WithProvider("petstore"),
		consumer.WithConcurrency(4),
		consumer.WithMaxDeliver(20),
		consumer.WithDeadLetter(),
	)
	if err != nil {
		log.Fatal(err)
	}
	err = c.Run(ctx, func(ctx context.Context, ev *ordersv1.OrderStatusChanged) error {
		if m, ok := consumer.Meta(ctx); ok && m.NumDelivered > 1 {
			log.Printf("redelivery %d of %s", m.NumDelivered, ev.GetEventId())
		}
		err := applyToBilling(ctx, ev) // upsert keyed by event_id; compare ev.Version
		if errors.Is(err, errUnknownOrder) {
			return consumer.Permanent(err) // give up on this event now (DLQ), no retries
		}
		return err // nil acks; any other error retries with backoff
	})
	if err != nil {
		log.Fatal(err)
	}
}
