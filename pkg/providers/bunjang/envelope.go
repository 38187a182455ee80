// Package bunjang is the Bunjang Open API provider: its envelope parser, used by both the ingress
// check and the worker decode.
package bunjang

import (
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/internal/jsonscan"
	"github.com/oklog/ulid/v2"
)

// Parse checks a Bunjang `order.status.changed` envelope (contract section 2): `eventId` a ULID
// (`id` is not read), `eventType`, `payloadVersion` (a string when present), `data.orderId` an
// integer, and a non-empty `data.orderItems[]` of `{orderItemId, orderStatus}` with integer item
// ids, each item listed once. The shape is required for every event type; types other than
// `order.status.changed` are KindOther. The occurrence time is the ULID's millisecond time.
func Parse(body []byte) (envelope.Envelope, error) {
	f, err := jsonscan.Top(body, "eventId", "eventType", "payloadVersion", "data")
	if err != nil {
		return envelope.Envelope{}, err
	}
	id, err := jsonscan.OptString(f[0], "eventId")
	if err != nil {
		return envelope.Envelope{}, err
	}
	typ, err := jsonscan.OptString(f[1], "eventType")
	if err != nil {
		return envelope.Envelope{}, err
	}
	if _, err := jsonscan.OptString(f[2], "payloadVersion"); err != nil {
		return envelope.Envelope{}, err
	}
	if id == "" {
		return envelope.Envelope{}, fmt.Errorf("%w: eventId", envelope.ErrMissingField)
	}
	at, ok := ULIDTime(id)
	switch {
	case !ok:
		return envelope.Envelope{}, fmt.Errorf("%w: eventId is not a ULID", envelope.ErrInvalidField)
	case typ == "":
		return envelope.Envelope{}, fmt.Errorf("%w: eventType", envelope.ErrMissingField)
	case !envelope.ValidHeaderValue(typ):
		return envelope.Envelope{}, fmt.Errorf("%w: eventType", envelope.ErrInvalidField)
	}
	isObject, err := jsonscan.Object(f[3], "data")
	if err != nil {
		return envelope.Envelope{}, err
	}
	if !isObject {
		return envelope.Envelope{}, fmt.Errorf("%w: data", envelope.ErrMissingField)
	}
	env := envelope.Envelope{EventID: id, EventType: typ, OccurredAt: at}
	if jsonscan.TypeIs(typ, "orderstatuschanged") {
		env.Kind = envelope.KindStatusChanged
	}
	d, err := jsonscan.Fields(f[3], "data.", "orderId", "orderItems")
	if err != nil {
		return envelope.Envelope{}, err
	}
	if env.OrderID, err = jsonscan.IntegerID(d[0], "data.orderId"); err != nil {
		return envelope.Envelope{}, err
	}
	items := d[1]
	switch {
	case env.OrderID == "":
		return envelope.Envelope{}, fmt.Errorf("%w: data.orderId", envelope.ErrMissingField)
	case jsonscan.IsNull(items) || string(items) == "[]":
		return envelope.Envelope{}, fmt.Errorf("%w: data.orderItems", envelope.ErrMissingField)
	case items[0] != '[':
		return envelope.Envelope{}, fmt.Errorf("%w: data.orderItems is not an array", envelope.ErrInvalidField)
	}
	var itemErr error
	_ = jsonscan.ArrayElems(items, func(it []byte) { // items is an array: checked above
		if itemErr != nil {
			return
		}
		var c envelope.Change
		c, err := item(it)
		if err != nil {
			itemErr = fmt.Errorf("item %d: %w", len(env.Changes), err)
			return
		}
		for _, prev := range env.Changes {
			if prev.ItemID == c.ItemID {
				// Two statuses for one item in one event: there is no telling which one holds.
				itemErr = fmt.Errorf("%w: data.orderItems[%d].orderItemId listed twice", envelope.ErrInvalidField, len(env.Changes))
				return
			}
		}
		env.Changes = append(env.Changes, c)
	})
	if itemErr != nil {
		return envelope.Envelope{}, itemErr
	}
	if len(env.Changes) == 0 {
		return envelope.Envelope{}, fmt.Errorf("%w: data.orderItems", envelope.ErrMissingField)
	}
	return env, nil
}

// item reads one element of data.orderItems; errors name the field without the index, which the
// caller adds.
func item(it []byte) (envelope.Change, error) {
	const prefix = "data.orderItems[]."
	if jsonscan.IsNull(it) {
		return envelope.Change{}, fmt.Errorf("%w: %sorderItemId", envelope.ErrMissingField, prefix)
	}
	if it[0] != '{' {
		return envelope.Change{}, fmt.Errorf("%w: data.orderItems[] is not an object", envelope.ErrInvalidField)
	}
	f, err := jsonscan.Fields(it, prefix, "orderItemId", "orderStatus")
	if err != nil {
		return envelope.Change{}, err
	}
	var c envelope.Change
	if c.ItemID, err = jsonscan.IntegerID(f[0], prefix+"orderItemId"); err != nil {
		return envelope.Change{}, err
	}
	if c.ItemID == "" {
		return envelope.Change{}, fmt.Errorf("%w: %sorderItemId", envelope.ErrMissingField, prefix)
	}
	if c.Status, err = jsonscan.Status(f[1], prefix+"orderStatus"); err != nil {
		return envelope.Change{}, err
	}
	if c.Status == "" {
		return envelope.Change{}, fmt.Errorf("%w: %sorderStatus", envelope.ErrMissingField, prefix)
	}
	return c, nil
}

// ULIDTime parses s as a ULID with oklog/ulid's strict parser (the ULID spec's Crockford
// alphabet, either case; I, L, O and U are refused, not mapped to 1 and 0, and a first character
// above 7 overflows) and returns its millisecond time.
func ULIDTime(s string) (time.Time, bool) {
	id, err := ulid.ParseStrict(s)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(id.Time()), true
}
