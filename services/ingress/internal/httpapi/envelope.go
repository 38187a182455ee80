package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Envelope checks: each provider's required fields, decoded from the raw body. The ingress stores
// the raw body untouched; these structs only read what must be checked or copied into headers.

var (
	errNotJSON       = errors.New("body is not a JSON object")
	errMissingField  = errors.New("required field missing")
	errInvalidField  = errors.New("field has an invalid value")
	errStaleEnvelope = errors.New("timestamp outside the accepted window")
)

// event is what the handler needs from any envelope.
type event struct {
	ID   string
	Type string
}

// errDuplicateKey: a field the ingress reads appears twice; which one counts would be a guess.
var errDuplicateKey = errors.New("duplicate field")

// parsePetstore checks a Modern PetstoreAPI envelope; maxAge bounds |now - timestamp|.
func parsePetstore(body []byte, now time.Time, maxAge time.Duration) (event, error) {
	if !json.Valid(body) {
		return event{}, errNotJSON
	}
	f, dup, err := pick(body, "eventId", "id", "eventType", "timestamp", "data")
	if err != nil {
		return event{}, fmt.Errorf("%w: %w", errNotJSON, err)
	}
	if dup != "" {
		return event{}, fmt.Errorf("%w: %s", errDuplicateKey, dup)
	}
	eventID, legacyID, eventType, timestamp, data := f[0], f[1], f[2], f[3], f[4]
	var bad string
	str := func(name string, raw []byte) string {
		if raw == nil || string(raw) == "null" {
			return ""
		}
		v, ok := rawString(raw)
		if !ok && bad == "" {
			bad = name
		}
		return v
	}
	id, legacy, typ, ts := str("eventId", eventID), str("id", legacyID), str("eventType", eventType), str("timestamp", timestamp)
	if bad != "" {
		return event{}, fmt.Errorf("%w: %s is not a string", errInvalidField, bad)
	}
	if id == "" {
		id = legacy // older doc pages name it `id`
	}
	switch {
	case id == "":
		return event{}, fmt.Errorf("%w: eventId", errMissingField)
	case !validEventID(id):
		return event{}, fmt.Errorf("%w: eventId", errInvalidField)
	case typ == "":
		return event{}, fmt.Errorf("%w: eventType", errMissingField)
	case !validHeaderValue(typ):
		return event{}, fmt.Errorf("%w: eventType", errInvalidField)
	case ts == "":
		return event{}, fmt.Errorf("%w: timestamp", errMissingField)
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return event{}, fmt.Errorf("%w: timestamp is not RFC 3339", errInvalidField)
	}
	if len(data) > 0 && data[0] != '{' && string(data) != "null" {
		return event{}, fmt.Errorf("%w: data is not an object", errInvalidField)
	}
	if age := now.Sub(at); age > maxAge || age < -maxAge {
		return event{}, fmt.Errorf("%w: timestamp %s", errStaleEnvelope, ts)
	}
	return event{ID: id, Type: typ}, nil
}

// parseBunjang checks a Bunjang Open API order.status.changed envelope.
func parseBunjang(body []byte) (event, error) {
	if !json.Valid(body) {
		return event{}, errNotJSON
	}
	f, dup, err := pick(body, "eventId", "eventType", "payloadVersion", "data")
	if err != nil {
		return event{}, fmt.Errorf("%w: %w", errNotJSON, err)
	}
	if dup != "" {
		return event{}, fmt.Errorf("%w: %s", errDuplicateKey, dup)
	}
	eventID, eventType, version, data := f[0], f[1], f[2], f[3]
	id, idOK := optString(eventID)
	typ, typOK := optString(eventType)
	_, verOK := optString(version)
	switch {
	case !idOK || !typOK || !verOK:
		return event{}, fmt.Errorf("%w: eventId, eventType and payloadVersion must be strings", errInvalidField)
	case id == "":
		return event{}, fmt.Errorf("%w: eventId", errMissingField)
	case !validULID(id):
		return event{}, fmt.Errorf("%w: eventId is not a ULID", errInvalidField)
	case typ == "":
		return event{}, fmt.Errorf("%w: eventType", errMissingField)
	case !validHeaderValue(typ):
		return event{}, fmt.Errorf("%w: eventType", errInvalidField)
	case data == nil || string(data) == "null":
		return event{}, fmt.Errorf("%w: data", errMissingField)
	case data[0] != '{':
		return event{}, fmt.Errorf("%w: data is not an object", errInvalidField)
	}
	d, dup, _ := pick(data, "orderId", "orderItems") // data is an object: checked above
	orderID, items := d[0], d[1]
	switch {
	case dup != "":
		return event{}, fmt.Errorf("%w: data.%s", errDuplicateKey, dup)
	case orderID == nil || string(orderID) == "null":
		return event{}, fmt.Errorf("%w: data.orderId", errMissingField)
	case !rawNumber(orderID):
		return event{}, fmt.Errorf("%w: data.orderId is not a number", errInvalidField)
	case items == nil || string(items) == "null" || string(items) == "[]":
		return event{}, fmt.Errorf("%w: data.orderItems", errMissingField)
	case items[0] != '[':
		return event{}, fmt.Errorf("%w: data.orderItems is not an array", errInvalidField)
	}
	var itemErr error
	n := 0
	_ = arrayElems(items, func(it []byte) { // items is an array: checked above
		i := n
		n++
		if itemErr != nil {
			return
		}
		if string(it) == "null" {
			itemErr = fmt.Errorf("%w: data.orderItems[%d].orderItemId", errMissingField, i)
			return
		}
		if it[0] != '{' {
			itemErr = fmt.Errorf("%w: data.orderItems[%d] is not an object", errInvalidField, i)
			return
		}
		f, dup, _ := pick(it, "orderItemId", "orderStatus") // it is an object: checked above
		itemID, status := f[0], f[1]
		st, stOK := optString(status)
		switch {
		case dup != "":
			itemErr = fmt.Errorf("%w: data.orderItems[%d].%s", errDuplicateKey, i, dup)
		case itemID == nil || string(itemID) == "null":
			itemErr = fmt.Errorf("%w: data.orderItems[%d].orderItemId", errMissingField, i)
		case !rawNumber(itemID):
			itemErr = fmt.Errorf("%w: data.orderItems[%d].orderItemId is not a number", errInvalidField, i)
		case !stOK:
			itemErr = fmt.Errorf("%w: data.orderItems[%d].orderStatus is not a string", errInvalidField, i)
		case st == "":
			itemErr = fmt.Errorf("%w: data.orderItems[%d].orderStatus", errMissingField, i)
		}
	})
	if itemErr != nil {
		return event{}, itemErr
	}
	return event{ID: id, Type: typ}, nil
}

// parseStandard checks a Standard Webhooks body: any JSON object; its `type`, if present, is the
// event type. The event id is the webhook-id header.
func parseStandard(body []byte, webhookID string) (event, error) {
	if !json.Valid(body) {
		return event{}, errNotJSON
	}
	f, dup, err := pick(body, "type")
	if err != nil {
		return event{}, fmt.Errorf("%w: %w", errNotJSON, err)
	}
	typeRaw := f[0]
	typ, ok := optString(typeRaw)
	switch {
	case dup != "":
		return event{}, fmt.Errorf("%w: type", errDuplicateKey)
	case !ok:
		return event{}, fmt.Errorf("%w: type is not a string", errInvalidField)
	case !validEventID(webhookID):
		return event{}, fmt.Errorf("%w: webhook-id", errInvalidField)
	case !validHeaderValue(typ):
		return event{}, fmt.Errorf("%w: type", errInvalidField)
	}
	return event{ID: webhookID, Type: typ}, nil
}

// optString reads an optional string field: absent or null is "", a non-string is not ok.
func optString(raw []byte) (string, bool) {
	if raw == nil || string(raw) == "null" {
		return "", true
	}
	return rawString(raw)
}

// validEventID: 1 to 256 printable ASCII characters, since the id goes into a message id and a
// header.
func validEventID(s string) bool {
	return s != "" && len(s) <= 256 && validHeaderValue(s)
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validULID reports whether s is a 26-character Crockford base32 ULID whose first character
// keeps it within 48 bits of milliseconds.
func validULID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U':
		case c >= 'a' && c <= 'z' && c != 'i' && c != 'l' && c != 'o' && c != 'u':
		default:
			return false
		}
	}
	return true
}
