package petstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookline/hookline/pkg/providers/envelope"
)

const ts = `"timestamp":"2024-12-16T10:30:00Z"`

// TestParseDecisions writes down the rules of issue 10 (one parser for the ingress and the
// worker) where the two used to disagree or the contract was silent.
func TestParseDecisions(t *testing.T) {
	long := strings.Repeat("x", envelope.MaxIDLen+1)
	tests := []struct {
		name      string
		give      string
		wantOrder string
		wantErr   error
	}{
		{"status change", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"order":{"id":"o-1"},"newStatus":"SHIPPED"}}`, "o-1", nil},
		{"integer order id is its decimal text", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"order":{"id":42},"newStatus":"SHIPPED"}}`, "42", nil},
		{"order id with a fraction", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"order":{"id":42.0},"newStatus":"SHIPPED"}}`, "", envelope.ErrInvalidField},
		{"order id with an exponent", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"order":{"id":4e1},"newStatus":"SHIPPED"}}`, "", envelope.ErrInvalidField},
		{"statusChanged without data", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `}`, "", envelope.ErrMissingField},
		{"statusChanged with null data", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":null}`, "", envelope.ErrMissingField},
		{"payment without data", `{"eventId":"e","eventType":"payment.succeeded",` + ts + `}`, "", envelope.ErrMissingField},
		{"payment without an order id", `{"eventId":"e","eventType":"payment.succeeded",` + ts + `,"data":{"payment":{"amount":1}}}`, "", envelope.ErrMissingField},
		{"other type needs no data", `{"eventId":"e","eventType":"pet.adopted",` + ts + `}`, "", nil},
		{"`type` is not read for eventType", `{"eventId":"e","type":"order.statusChanged",` + ts + `,"data":{"order":{"id":"o"},"newStatus":"S"}}`, "", envelope.ErrMissingField},
		{"numeric eventId", `{"eventId":5,"eventType":"t",` + ts + `}`, "", envelope.ErrInvalidField},
		{"eventId with a leading space: refused, never trimmed", `{"eventId":" e","eventType":"t",` + ts + `}`, "", envelope.ErrInvalidField},
		{"eventId with a trailing space", `{"eventId":"e ","eventType":"t",` + ts + `}`, "", envelope.ErrInvalidField},
		{"eventId longer than 256", `{"eventId":"` + long + `","eventType":"t",` + ts + `}`, "", envelope.ErrInvalidField},
		{"order id longer than 256", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"order":{"id":"` + long + `"},"newStatus":"S"}}`, "", envelope.ErrInvalidField},
		{"order id with surrounding spaces", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"orderId":" o","newStatus":"S"}}`, "", envelope.ErrInvalidField},
		{"order id not UTF-8", "{\"eventId\":\"e\",\"eventType\":\"order.statusChanged\"," + ts + ",\"data\":{\"orderId\":\"o\xff\",\"newStatus\":\"S\"}}", "", envelope.ErrInvalidField},
		{"newStatus not UTF-8", "{\"eventId\":\"e\",\"eventType\":\"order.statusChanged\"," + ts + ",\"data\":{\"orderId\":\"o\",\"newStatus\":\"S\xc3\"}}", "", envelope.ErrInvalidField},
		{"changedAt not UTF-8", "{\"eventId\":\"e\",\"eventType\":\"order.statusChanged\"," + ts + ",\"data\":{\"orderId\":\"o\",\"newStatus\":\"S\",\"changedAt\":\"\xff\"}}", "", envelope.ErrInvalidField},
		{"order id a lone surrogate escape", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"orderId":"o\udc00","newStatus":"S"}}`, "", envelope.ErrInvalidField},
		{"order id a surrogate pair", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"orderId":"o\ud83d\ude00","newStatus":"S"}}`, "o\U0001F600", nil},
		{"duplicate key inside data", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"orderId":"a","orderId":"b","newStatus":"S"}}`, "", envelope.ErrDuplicateKey},
		{"duplicate key inside data.order", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"order":{"id":"a","id":"b"},"newStatus":"S"}}`, "", envelope.ErrDuplicateKey},
		{"duplicate top-level key", `{"eventId":"e","eventId":"f","eventType":"t",` + ts + `}`, "", envelope.ErrDuplicateKey},
		{"unread duplicate key is no business of ours", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"orderId":"o","newStatus":"S","note":1,"note":2}}`, "o", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse = %v, want %v", err, tt.wantErr)
			}
			if env.OrderID != tt.wantOrder {
				t.Fatalf("order = %q, want %q", env.OrderID, tt.wantOrder)
			}
		})
	}
}
