// Package decode turns a provider's raw webhook body into order status changes: Petstore
// `order.statusChanged` and `payment.succeeded`, Bunjang `order.status.changed` (one change per
// order item), and `order.status.changed` from any other (Standard Webhooks) source. It is lenient
// on the documented drift: `id` for `eventId`, lowercase statuses, numbers where strings are
// documented and the other way round.
package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Built-in providers; every other name is a Standard Webhooks source.
const (
	ProviderPetstore = "petstore"
	ProviderBunjang  = "bunjang"
)

// maxIDLen bounds event, order and item ids, which end up in Redis keys and subjects' payloads.
const maxIDLen = 256

var (
	// ErrMalformed marks a payload that cannot be turned into status changes: not JSON, or a
	// required field missing or of the wrong kind. Such a message is dead-lettered.
	ErrMalformed = errors.New("malformed payload")
	// ErrUnhandled marks an event type the worker does not act on. Such a message is acked and
	// counted.
	ErrUnhandled = errors.New("unhandled event type")
)

// Input is one message from the WEBHOOKS stream.
type Input struct {
	Provider string // from the subject
	Tenant   string // from the subject
	// EventID and EventType are the ingress's Hookline-Event-Id and Hookline-Event-Type headers;
	// either may be empty, and the body's own fields are used then.
	EventID   string
	EventType string
	Body      []byte
	// Fallback is the occurrence time for a payload that carries none (the receive time).
	Fallback time.Time
}

// Change is one status change of an order, or of one order item.
type Change struct {
	ItemID string // the order item (Bunjang); empty for a whole order
	Status string // the provider's status string as sent, trimmed
}

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
	switch in.Provider {
	case ProviderPetstore:
		return decodePetstore(in)
	case ProviderBunjang:
		return decodeBunjang(in)
	default:
		return decodeStandard(in)
	}
}

// Normalized event types: lowercase with '.', '_' and '-' removed, so `order.statusChanged`,
// `order.status_changed` and `order.status.changed` all match.
const (
	typeStatusChanged    = "orderstatuschanged"
	typePaymentSucceeded = "paymentsucceeded"
)

func normType(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch r {
		case '.', '_', '-', ' ':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return malformed("not a JSON object: %v", err)
	}
	return nil
}

// plainString returns the content of a JSON string without escapes, and false for anything else
// (which then goes through encoding/json).
func plainString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	return string(in), true
}

// id reads a JSON string or number as an id; null and absent are "".
func id(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	s, plain := plainString(raw)
	switch {
	case plain:
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("want a string or a number, got %s", truncate(string(raw), 32))
		}
		s = n.String()
	}
	s = strings.TrimSpace(s)
	if len(s) > maxIDLen {
		return "", fmt.Errorf("longer than %d bytes", maxIDLen)
	}
	return s, nil
}

// str reads a JSON string; null and absent are "".
func str(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	s, plain := plainString(raw)
	if !plain {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("want a string, got %s", truncate(string(raw), 32))
		}
	}
	return strings.TrimSpace(s), nil
}

// timeOf reads an RFC 3339 string, or Unix seconds (milliseconds when that large) as a number or
// a string of digits. ok is false for absent or unreadable values.
func timeOf(raw json.RawMessage) (time.Time, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false
	}
	s, plain := plainString(raw)
	switch {
	case plain:
	case raw[0] == '"':
		if json.Unmarshal(raw, &s) != nil {
			return time.Time{}, false
		}
	default:
		s = string(raw)
	}
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	if n >= 1e12 { // milliseconds
		return time.UnixMilli(int64(n)), true
	}
	sec := int64(n)
	return time.Unix(sec, int64((n-float64(sec))*1e9)), true
}

// firstTime returns the first readable time, else fallback.
func firstTime(fallback time.Time, raws ...json.RawMessage) time.Time {
	for _, r := range raws {
		if t, ok := timeOf(r); ok {
			return t
		}
	}
	return fallback
}

// eventID prefers the ingress's header, then the body's fields in order.
func eventID(header string, raws ...json.RawMessage) (string, error) {
	if h := strings.TrimSpace(header); h != "" {
		if len(h) > maxIDLen {
			return "", malformed("event id longer than %d bytes", maxIDLen)
		}
		return h, nil
	}
	for _, r := range raws {
		v, err := id(r)
		if err != nil {
			return "", malformed("event id: %v", err)
		}
		if v != "" {
			return v, nil
		}
	}
	return "", malformed("event id missing")
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
