// Package decode turns a WEBHOOKS message into order status changes with the provider's one
// envelope parser (pkg/providers/…), the same the ingress checked the body with: Petstore
// `order.statusChanged` and `payment.succeeded`, Bunjang `order.status.changed` (one change per
// order item), and `order.status.changed` from any other (Standard Webhooks) source. The
// accept/refuse decision is the parser's; decode only maps its envelope to an Event.
package decode

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

// Built-in providers; every other name is a Standard Webhooks source.
const (
	ProviderPetstore = "petstore"
	ProviderBunjang  = "bunjang"
)

var (
	// ErrMalformed marks a payload that cannot be turned into status changes: the provider's
	// parser refused it. Such a message is dead-lettered.
	ErrMalformed = errors.New("malformed payload")
	// ErrUnhandled marks an event type the worker does not act on. Such a message is acked and
	// counted.
	ErrUnhandled = errors.New("unhandled event type")
)

// Input is one message from the WEBHOOKS stream.
type Input struct {
	Provider string // from the subject
	Tenant   string // from the subject
	// EventID is the ingress's Hookline-Event-Id header: the webhook-id of a Standard Webhooks
	// source, whose body carries no id. Petstore and Bunjang ids come from the body, which the
	// ingress copied into the header.
	EventID string
	Body    []byte
	// Fallback is the occurrence time for a payload that carries none (the receive time).
	Fallback time.Time
}

// Change is one status change of an order, or of one order item.
type Change = envelope.Change

// Event is a decoded provider event.
type Event struct {
	Provider      string
	Tenant        string
	SourceEventID string
	EventType     string
	OrderID       string
	OccurredAt    time.Time
	Changes       []Change
}

// Decode decodes in. Errors wrap ErrMalformed or ErrUnhandled.
func Decode(in Input) (Event, error) {
	var env envelope.Envelope
	var err error
	switch in.Provider {
	case ProviderPetstore:
		env, err = petstore.Parse(in.Body)
	case ProviderBunjang:
		env, err = bunjang.Parse(in.Body)
	default:
		env, err = standardwebhooks.Parse(in.Body, in.EventID)
	}
	if err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if env.Kind == envelope.KindOther {
		return Event{}, &unhandledError{typ: truncate(env.EventType, 64)}
	}
	ev := Event{
		Provider: in.Provider, Tenant: in.Tenant, SourceEventID: env.EventID, EventType: env.EventType,
		OrderID: env.OrderID, OccurredAt: env.OccurredAt, Changes: env.Changes,
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = in.Fallback
	}
	return ev, nil
}

type unhandledError struct{ typ string }

func (e *unhandledError) Error() string { return ErrUnhandled.Error() + ": " + e.typ }
func (e *unhandledError) Unwrap() error { return ErrUnhandled }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
