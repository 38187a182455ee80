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

type petstoreEnvelope struct {
	EventID   *string         `json:"eventId"`
	ID        *string         `json:"id"`
	EventType string          `json:"eventType"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// parsePetstore checks a Modern PetstoreAPI envelope; maxAge bounds |now - timestamp|.
func parsePetstore(body []byte, now time.Time, maxAge time.Duration) (event, error) {
	var env petstoreEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return event{}, fmt.Errorf("%w: %w", errNotJSON, err)
	}
	var id string
	switch {
	case env.EventID != nil && *env.EventID != "":
		id = *env.EventID
	case env.ID != nil && *env.ID != "":
		id = *env.ID // older doc pages name it `id`
	default:
		return event{}, fmt.Errorf("%w: eventId", errMissingField)
	}
	if !validEventID(id) {
		return event{}, fmt.Errorf("%w: eventId", errInvalidField)
	}
	if env.EventType == "" {
		return event{}, fmt.Errorf("%w: eventType", errMissingField)
	}
	if !validHeaderValue(env.EventType) {
		return event{}, fmt.Errorf("%w: eventType", errInvalidField)
	}
	if env.Timestamp == "" {
		return event{}, fmt.Errorf("%w: timestamp", errMissingField)
	}
	ts, err := time.Parse(time.RFC3339, env.Timestamp)
	if err != nil {
		return event{}, fmt.Errorf("%w: timestamp is not RFC 3339", errInvalidField)
	}
	if len(env.Data) > 0 && env.Data[0] != '{' && string(env.Data) != "null" {
		return event{}, fmt.Errorf("%w: data is not an object", errInvalidField)
	}
	if age := now.Sub(ts); age > maxAge || age < -maxAge {
		return event{}, fmt.Errorf("%w: timestamp %s", errStaleEnvelope, env.Timestamp)
	}
	return event{ID: id, Type: env.EventType}, nil
}

type bunjangEnvelope struct {
	EventID        string `json:"eventId"`
	EventType      string `json:"eventType"`
	PayloadVersion string `json:"payloadVersion"`
	Data           *struct {
		OrderID    *json.Number `json:"orderId"`
		OrderItems []struct {
			OrderItemID *json.Number `json:"orderItemId"`
			OrderStatus string       `json:"orderStatus"`
		} `json:"orderItems"`
	} `json:"data"`
}

// parseBunjang checks a Bunjang Open API order.status.changed envelope.
func parseBunjang(body []byte) (event, error) {
	var env bunjangEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return event{}, fmt.Errorf("%w: %w", errNotJSON, err)
	}
	switch {
	case env.EventID == "":
		return event{}, fmt.Errorf("%w: eventId", errMissingField)
	case !validULID(env.EventID):
		return event{}, fmt.Errorf("%w: eventId is not a ULID", errInvalidField)
	case env.EventType == "":
		return event{}, fmt.Errorf("%w: eventType", errMissingField)
	case !validHeaderValue(env.EventType):
		return event{}, fmt.Errorf("%w: eventType", errInvalidField)
	case env.Data == nil:
		return event{}, fmt.Errorf("%w: data", errMissingField)
	case env.Data.OrderID == nil:
		return event{}, fmt.Errorf("%w: data.orderId", errMissingField)
	case len(env.Data.OrderItems) == 0:
		return event{}, fmt.Errorf("%w: data.orderItems", errMissingField)
	}
	for i, it := range env.Data.OrderItems {
		if it.OrderItemID == nil {
			return event{}, fmt.Errorf("%w: data.orderItems[%d].orderItemId", errMissingField, i)
		}
		if it.OrderStatus == "" {
			return event{}, fmt.Errorf("%w: data.orderItems[%d].orderStatus", errMissingField, i)
		}
	}
	return event{ID: env.EventID, Type: env.EventType}, nil
}

type standardEnvelope struct {
	Type string `json:"type"`
}

// parseStandard checks a Standard Webhooks body: any JSON object; its `type`, if present, is the
// event type. The event id is the webhook-id header.
func parseStandard(body []byte, webhookID string) (event, error) {
	var env standardEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return event{}, fmt.Errorf("%w: %w", errNotJSON, err)
	}
	if !validEventID(webhookID) {
		return event{}, fmt.Errorf("%w: webhook-id", errInvalidField)
	}
	if !validHeaderValue(env.Type) {
		return event{}, fmt.Errorf("%w: type", errInvalidField)
	}
	return event{ID: webhookID, Type: env.Type}, nil
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
