package standardwebhooks

import (
	"errors"
	"testing"

	"github.com/hookline/hookline/pkg/providers/envelope"
)

// TestParseDecisions writes down the rules of issue 10 for Standard Webhooks sources.
func TestParseDecisions(t *testing.T) {
	tests := []struct {
		name     string
		give     string
		giveID   string
		wantKind envelope.Kind
		wantErr  error
	}{
		{"status change", `{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`, "msg_1", envelope.KindStatusChanged, nil},
		{"untyped object", `{"data":{}}`, "msg_1", envelope.KindOther, nil},
		{"other type: anything goes", `{"type":"invoice.paid","data":[1]}`, "msg_1", envelope.KindOther, nil},
		{"status change without data", `{"type":"order.status.changed"}`, "msg_1", 0, envelope.ErrMissingField},
		{"status change without status", `{"type":"order.status.changed","data":{"orderId":"A"}}`, "msg_1", 0, envelope.ErrMissingField},
		{"`eventType` is not read for type", `{"eventType":"order.status.changed","data":{"orderId":"A","status":"S"}}`, "msg_1", envelope.KindOther, nil},
		{"webhook-id with a leading space", `{}`, " msg_1", 0, envelope.ErrInvalidField},
		{"orderId not UTF-8", "{\"type\":\"order.status.changed\",\"data\":{\"orderId\":\"A\xff\",\"status\":\"S\"}}", "msg_1", 0, envelope.ErrInvalidField},
		{"duplicate key in data", `{"type":"order.status.changed","data":{"orderId":"A","status":"S","status":"T"}}`, "msg_1", 0, envelope.ErrDuplicateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse([]byte(tt.give), tt.giveID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse = %v, want %v", err, tt.wantErr)
			}
			if env.Kind != tt.wantKind {
				t.Fatalf("kind = %d, want %d", env.Kind, tt.wantKind)
			}
		})
	}
}
