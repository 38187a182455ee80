package decode

import (
	"encoding/json"
	"strings"
	"time"
)

type bunjangEnvelope struct {
	EventID        json.RawMessage `json:"eventId"`
	ID             json.RawMessage `json:"id"`
	EventType      json.RawMessage `json:"eventType"`
	PayloadVersion json.RawMessage `json:"payloadVersion"`
	Data           *struct {
		OrderID    json.RawMessage `json:"orderId"`
		OrderItems []struct {
			OrderItemID json.RawMessage `json:"orderItemId"`
			OrderStatus json.RawMessage `json:"orderStatus"`
		} `json:"orderItems"`
	} `json:"data"`
}

// decodeBunjang handles `order.status.changed`: one change per order item, occurring at the
// millisecond time inside the ULID event id (the receive time when the id is no ULID).
func decodeBunjang(in Input) (Event, error) {
	var env bunjangEnvelope
	if err := unmarshal(in.Body, &env); err != nil {
		return Event{}, err
	}
	bodyType, err := str(env.EventType)
	if err != nil {
		return Event{}, malformed("eventType: %v", err)
	}
	typ := firstNonEmpty(in.EventType, bodyType)
	switch normType(typ) {
	case typeStatusChanged:
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
	ev := Event{Provider: in.Provider, Tenant: in.Tenant, SourceEventID: evID, EventType: typ}
	if ev.OrderID, err = id(env.Data.OrderID); err != nil {
		return Event{}, malformed("data.orderId: %v", err)
	}
	if ev.OrderID == "" {
		return Event{}, malformed("data.orderId missing")
	}
	if len(env.Data.OrderItems) == 0 {
		return Event{}, malformed("data.orderItems empty")
	}
	seen := make(map[string]bool, len(env.Data.OrderItems))
	for i, it := range env.Data.OrderItems {
		itemID, err := id(it.OrderItemID)
		if err != nil {
			return Event{}, malformed("data.orderItems[%d].orderItemId: %v", i, err)
		}
		if itemID == "" {
			return Event{}, malformed("data.orderItems[%d].orderItemId missing", i)
		}
		if seen[itemID] {
			// Two statuses for one item in one event: there is no telling which one holds.
			return Event{}, malformed("data.orderItems: item %s listed twice", itemID)
		}
		seen[itemID] = true
		status, err := str(it.OrderStatus)
		if err != nil {
			return Event{}, malformed("data.orderItems[%d].orderStatus: %v", i, err)
		}
		if status == "" {
			return Event{}, malformed("data.orderItems[%d].orderStatus missing", i)
		}
		ev.Changes = append(ev.Changes, Change{ItemID: itemID, Status: status})
	}
	ev.OccurredAt = in.Fallback
	if t, ok := ULIDTime(evID); ok {
		ev.OccurredAt = t
	}
	return ev, nil
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// crockfordValue maps a Crockford base32 character to its value, -1 if it is none. It accepts
// lowercase and the usual confusables (I and L for 1, O for 0).
func crockfordValue(c byte) int {
	switch c {
	case 'i', 'I', 'l', 'L':
		return 1
	case 'o', 'O':
		return 0
	}
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	return strings.IndexByte(crockford, c)
}

// ULIDTime returns the millisecond timestamp in a ULID's first 10 characters.
func ULIDTime(s string) (time.Time, bool) {
	if len(s) != 26 {
		return time.Time{}, false
	}
	var ms uint64
	for i := 0; i < 26; i++ {
		v := crockfordValue(s[i])
		if v < 0 {
			return time.Time{}, false
		}
		if i < 10 {
			ms = ms<<5 | uint64(v)
		}
	}
	if ms >= 1<<48 { // the first character of a valid ULID is at most 7
		return time.Time{}, false
	}
	return time.UnixMilli(int64(ms)), true
}
