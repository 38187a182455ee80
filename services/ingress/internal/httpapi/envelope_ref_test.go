package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// The reference parsers: the ingress's first envelope checks, decoding with encoding/json into
// structs. The scanner-based parsers must reach the same outcome on every input except where
// they deliberately differ (duplicate keys are refused; keys match exactly, not case-folded).

type refPetstoreEnvelope struct {
	EventID   *string         `json:"eventId"`
	ID        *string         `json:"id"`
	EventType string          `json:"eventType"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// refParsePetstore was a Modern PetstoreAPI envelope; maxAge bounds |now - timestamp|.
func refParsePetstore(body []byte, now time.Time, maxAge time.Duration) (event, error) {
	var env refPetstoreEnvelope
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

type refBunjangEnvelope struct {
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

// refParseBunjang was a Bunjang Open API order.status.changed envelope.
func refParseBunjang(body []byte) (event, error) {
	var env refBunjangEnvelope
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

type refStandardEnvelope struct {
	Type string `json:"type"`
}

// refParseStandard was a Standard Webhooks body: any JSON object; its `type`, if present, is the
// event type. The event id is the webhook-id header.
func refParseStandard(body []byte, webhookID string) (event, error) {
	var env refStandardEnvelope
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

// outcome is what a caller sees: accepted (with id and type), 401 stale, or 400.
func outcome(ev event, err error) string {
	switch {
	case err == nil:
		return "ok " + ev.ID + " " + ev.Type
	case errors.Is(err, errStaleEnvelope):
		return "stale"
	default:
		return "malformed"
	}
}

var envelopeKeys = []string{"eventId", "id", "eventType", "timestamp", "data", "payloadVersion",
	"orderId", "orderItems", "orderItemId", "orderStatus", "type"}

// comparable reports whether body avoids the deliberate differences: no object with a key twice,
// and no key equal to one of ours but for case.
func comparable(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return true // invalid JSON: both parsers must say malformed
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			case '[':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
		default:
			if top != nil && top.object && top.expect {
				k, _ := t.(string)
				if top.keys[k] {
					return false
				}
				top.keys[k] = true
				for _, name := range envelopeKeys {
					if k != name && strings.EqualFold(k, name) {
						return false
					}
				}
				top.expect = false
			} else if top != nil && top.object {
				top.expect = true
			}
		}
	}
}

func FuzzEnvelopeMatchesReference(f *testing.F) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := now.Add(-time.Hour).Format(time.RFC3339)
	for _, seed := range []string{
		`{"eventId":"e1","eventType":"order.statusChanged","timestamp":"` + ts + `","data":{"order":{"id":"o"},"newStatus":"SHIPPED"}}`,
		`{"id":"e2","eventType":"payment.succeeded","timestamp":"` + ts + `","data":null}`,
		`{"eventId":"e3","eventType":"t","timestamp":"2020-01-01T00:00:00Z"}`,
		`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":5,"orderStatus":"SHIPPED"}]}}`,
		`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderId":"7","orderItems":[{"orderItemId":"1","orderStatus":"S"},null]}}`,
		`{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`,
		`{"event\u0049d":"x","eventType":"a\u002eb","timestamp":"` + ts + `"}`,
		`[1,2,3]`, `null`, `{"eventId":5}`, `{"data":[]}`, ` { } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !comparable(body) {
			t.Skip("duplicate or case-folded key: the parsers differ on purpose")
		}
		check := func(name string, got, want string) {
			if got != want {
				t.Fatalf("%s(%q): scanner %q, reference %q", name, body, got, want)
			}
		}
		check("petstore", outcome(parsePetstore(body, now, 72*time.Hour)), outcome(refParsePetstore(body, now, 72*time.Hour)))
		check("bunjang", outcome(parseBunjang(body)), outcome(refParseBunjang(body)))
		want := outcome(refParseStandard(body, "msg_1"))
		if string(bytes.TrimSpace(body)) == "null" {
			want = "malformed" // on purpose: the reference took a bare null for an empty object
		}
		check("standard", outcome(parseStandard(body, "msg_1")), want)
	})
}
