package decode

import (
	"encoding/json"
)

// StatusApproved is the Petstore status a `payment.succeeded` event means.
const StatusApproved = "APPROVED"

type petstoreEnvelope struct {
	EventID   json.RawMessage `json:"eventId"`
	ID        json.RawMessage `json:"id"` // older doc pages
	EventType json.RawMessage `json:"eventType"`
	Type      json.RawMessage `json:"type"`
	Timestamp json.RawMessage `json:"timestamp"`
	Data      *struct {
		Order *struct {
			ID     json.RawMessage `json:"id"`
			Status json.RawMessage `json:"status"`
		} `json:"order"`
		OrderID   json.RawMessage `json:"orderId"`
		NewStatus json.RawMessage `json:"newStatus"`
		Status    json.RawMessage `json:"status"`
		ChangedAt json.RawMessage `json:"changedAt"`
		Payment   *struct {
			OrderID json.RawMessage `json:"orderId"`
			PaidAt  json.RawMessage `json:"paidAt"`
		} `json:"payment"`
	} `json:"data"`
}

// decodePetstore handles `order.statusChanged` (trusting newStatus and changedAt, never
// previousStatus) and `payment.succeeded` (the order is APPROVED).
func decodePetstore(in Input) (Event, error) {
	var env petstoreEnvelope
	if err := unmarshal(in.Body, &env); err != nil {
		return Event{}, err
	}
	bodyType, err := firstString(env.EventType, env.Type)
	if err != nil {
		return Event{}, malformed("eventType: %v", err)
	}
	typ := firstNonEmpty(in.EventType, bodyType)
	switch normType(typ) {
	case typeStatusChanged, typePaymentSucceeded:
	case "":
		return Event{}, malformed("eventType missing")
	default:
		return Event{}, errUnhandled(typ)
	}
	evID, err := eventID(in.EventID, env.EventID, env.ID)
	if err != nil {
		return Event{}, err
	}
	if env.Data == nil {
		return Event{}, malformed("data missing")
	}
	d := env.Data
	var orderIDRaw, orderStatusRaw json.RawMessage
	if d.Order != nil {
		orderIDRaw, orderStatusRaw = d.Order.ID, d.Order.Status
	}
	ev := Event{Provider: in.Provider, Tenant: in.Tenant, SourceEventID: evID, EventType: typ}
	var status string
	if normType(typ) == typePaymentSucceeded {
		var paymentOrder, paidAt json.RawMessage
		if d.Payment != nil {
			paymentOrder, paidAt = d.Payment.OrderID, d.Payment.PaidAt
		}
		if ev.OrderID, err = firstID(orderIDRaw, d.OrderID, paymentOrder); err != nil {
			return Event{}, malformed("data.order.id: %v", err)
		}
		status = StatusApproved
		ev.OccurredAt = firstTime(in.Fallback, d.ChangedAt, paidAt, env.Timestamp)
	} else {
		if ev.OrderID, err = firstID(orderIDRaw, d.OrderID); err != nil {
			return Event{}, malformed("data.order.id: %v", err)
		}
		// newStatus is the truth; the order object's status is a fallback for thin payloads.
		if status, err = firstString(d.NewStatus, d.Status, orderStatusRaw); err != nil {
			return Event{}, malformed("data.newStatus: %v", err)
		}
		ev.OccurredAt = firstTime(in.Fallback, d.ChangedAt, env.Timestamp)
	}
	if ev.OrderID == "" {
		return Event{}, malformed("data.order.id missing")
	}
	if status == "" {
		return Event{}, malformed("data.newStatus missing")
	}
	ev.Changes = []Change{{Status: status}}
	return ev, nil
}

func errUnhandled(typ string) error {
	return &unhandledError{typ: truncate(typ, 64)}
}

type unhandledError struct{ typ string }

func (e *unhandledError) Error() string { return ErrUnhandled.Error() + ": " + e.typ }
func (e *unhandledError) Unwrap() error { return ErrUnhandled }

// firstString returns the first non-empty JSON string among raws.
func firstString(raws ...json.RawMessage) (string, error) {
	for _, r := range raws {
		s, err := str(r)
		if err != nil {
			return "", err
		}
		if s != "" {
			return s, nil
		}
	}
	return "", nil
}

// firstID returns the first non-empty id (string or number) among raws.
func firstID(raws ...json.RawMessage) (string, error) {
	for _, r := range raws {
		s, err := id(r)
		if err != nil {
			return "", err
		}
		if s != "" {
			return s, nil
		}
	}
	return "", nil
}
