package decode

import "encoding/json"

type standardEnvelope struct {
	Type      json.RawMessage `json:"type"`
	EventType json.RawMessage `json:"eventType"`
	ID        json.RawMessage `json:"id"`
	EventID   json.RawMessage `json:"eventId"`
	Timestamp json.RawMessage `json:"timestamp"`
	Data      *struct {
		OrderID   json.RawMessage `json:"orderId"`
		Status    json.RawMessage `json:"status"`
		NewStatus json.RawMessage `json:"newStatus"`
		ChangedAt json.RawMessage `json:"changedAt"`
	} `json:"data"`
}

// decodeStandard handles `order.status.changed` from an extra Standard Webhooks source:
// {"type":"order.status.changed","timestamp":"…","data":{"orderId":"A-1","status":"SHIPPED"}}.
// The event id is the webhook-id (the ingress's Hookline-Event-Id); the occurrence time is
// data.changedAt, else timestamp, else the receive time.
func decodeStandard(in Input) (Event, error) {
	var env standardEnvelope
	if err := unmarshal(in.Body, &env); err != nil {
		return Event{}, err
	}
	bodyType, err := firstString(env.Type, env.EventType)
	if err != nil {
		return Event{}, malformed("type: %v", err)
	}
	typ := firstNonEmpty(in.EventType, bodyType)
	switch normType(typ) {
	case typeStatusChanged:
	case "":
		return Event{}, malformed("type missing")
	default:
		return Event{}, errUnhandled(typ)
	}
	evID, err := eventID(in.EventID, env.ID, env.EventID)
	if err != nil {
		return Event{}, err
	}
	if env.Data == nil {
		return Event{}, malformed("data missing")
	}
	d := env.Data
	ev := Event{Provider: in.Provider, Tenant: in.Tenant, SourceEventID: evID, EventType: typ}
	if ev.OrderID, err = id(d.OrderID); err != nil {
		return Event{}, malformed("data.orderId: %v", err)
	}
	if ev.OrderID == "" {
		return Event{}, malformed("data.orderId missing")
	}
	status, err := firstString(d.Status, d.NewStatus)
	if err != nil {
		return Event{}, malformed("data.status: %v", err)
	}
	if status == "" {
		return Event{}, malformed("data.status missing")
	}
	ev.Changes = []Change{{Status: status}}
	ev.OccurredAt = firstTime(in.Fallback, d.ChangedAt, env.Timestamp)
	return ev, nil
}
