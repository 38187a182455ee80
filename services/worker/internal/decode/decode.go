// Package decode turns a WEBHOOKS message into order status changes with the provider's one
// envelope parser (providers.Provider.Parse), the same the ingress checked the body with. The
// accept/refuse decision is the parser's; decode only maps its envelope to an Event.
package decode

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/envelope"
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
	// EventID and EventType are the ingress's Hookline-Event-Id and Hookline-Event-Type
	// headers: what the request's headers said (providers.Provider.Meta) for providers whose body
	// does not say it (a Standard Webhooks webhook-id, a Shopify webhook id and topic). Petstore
	// and Bunjang ids come from the body, which the ingress copied into the headers.
	EventID   string
	EventType string
	Body      []byte
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

// Decode decodes in with p, the provider of in.Provider (providers.Registry.For). Errors wrap
// ErrMalformed or ErrUnhandled.
func Decode(p providers.Provider, in Input) (Event, error) {
	env, err := p.Parse(in.Body, providers.Meta{EventID: in.EventID, EventType: in.EventType})
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
