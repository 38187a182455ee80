package httpapi

import (
	"errors"
	"github.com/hookline/hookline/pkg/providers/envelope"
	"strings"
	"testing"
	"time"
)

func TestParsePetstore(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := now.Add(-time.Hour).Format(time.RFC3339)
	tests := []struct {
		name    string
		give    string
		wantID  string
		wantErr error
	}{
		{"eventId", `{"eventId":"e1","eventType":"order.statusChanged","timestamp":"` + ts + `","data":{"order":{"id":"o"},"newStatus":"SHIPPED"}}`, "e1", nil},
		{"older docs: id", `{"id":"e2","eventType":"payment.succeeded","timestamp":"` + ts + `","data":{"order":{"id":"o"}}}`, "e2", nil},
		{"eventId wins over id", `{"eventId":"e3","id":"x","eventType":"t","timestamp":"` + ts + `"}`, "e3", nil},
		{"not json", `{"eventId":`, "", envelope.ErrNotJSON},
		{"array", `[1,2]`, "", envelope.ErrNotJSON},
		{"no id", `{"eventType":"t","timestamp":"` + ts + `"}`, "", envelope.ErrMissingField},
		{"empty id", `{"eventId":"","eventType":"t","timestamp":"` + ts + `"}`, "", envelope.ErrMissingField},
		{"id with newline", `{"eventId":"a\nb","eventType":"t","timestamp":"` + ts + `"}`, "", envelope.ErrInvalidField},
		{"no type", `{"eventId":"e","timestamp":"` + ts + `"}`, "", envelope.ErrMissingField},
		{"no timestamp", `{"eventId":"e","eventType":"t"}`, "", envelope.ErrMissingField},
		{"bad timestamp", `{"eventId":"e","eventType":"t","timestamp":"yesterday"}`, "", envelope.ErrInvalidField},
		{"data not an object", `{"eventId":"e","eventType":"t","timestamp":"` + ts + `","data":[1]}`, "", envelope.ErrInvalidField},
		{"too old", `{"eventId":"e","eventType":"t","timestamp":"` + now.Add(-73*time.Hour).Format(time.RFC3339) + `"}`, "", errStaleEnvelope},
		{"too far ahead", `{"eventId":"e","eventType":"t","timestamp":"` + now.Add(73*time.Hour).Format(time.RFC3339) + `"}`, "", errStaleEnvelope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parsePetstore([]byte(tt.give), now, 72*time.Hour)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if ev.ID != tt.wantID {
				t.Fatalf("id = %q, want %q", ev.ID, tt.wantID)
			}
		})
	}
}

func TestParseBunjang(t *testing.T) {
	const ok = `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":5,"orderStatus":"SHIPPED"}]}}`
	tests := []struct {
		name    string
		give    string
		wantErr error
	}{
		{"vector shape", ok, nil},
		{"numbers as strings", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderId":"100","orderItems":[{"orderItemId":"1001","orderStatus":"SHIPPED"}]}}`, nil},
		{"not json", `nope`, envelope.ErrNotJSON},
		{"no eventId", `{"eventType":"e","data":{"orderId":1,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}}`, envelope.ErrMissingField},
		{"eventId not a ULID", `{"eventId":"abc","eventType":"e","data":{"orderId":1,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}}`, envelope.ErrInvalidField},
		{"ULID overflow", `{"eventId":"81K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderId":1,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}}`, envelope.ErrInvalidField},
		{"no data", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e"}`, envelope.ErrMissingField},
		{"no orderId", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}}`, envelope.ErrMissingField},
		{"orderId not a number", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderId":"x1","orderItems":[{"orderItemId":1,"orderStatus":"S"}]}}`, envelope.ErrInvalidField},
		{"duplicate eventId", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventId":"01K0AZRPB4N36H9NMDJRMYXM7B","eventType":"e","data":{"orderId":1,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}}`, envelope.ErrDuplicateKey},
		{"escaped key", `{"event\u0049d":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderId":1,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}}`, nil},
		{"empty items", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderId":1,"orderItems":[]}}`, envelope.ErrMissingField},
		{"item without status", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderId":1,"orderItems":[{"orderItemId":1}]}}`, envelope.ErrMissingField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBunjang([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestParseStandard(t *testing.T) {
	tests := []struct {
		name     string
		give     string
		giveID   string
		wantType string
		wantErr  error
	}{
		{"typed", `{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`, "msg_1", "order.status.changed", nil},
		{"other type, no data", `{"type":"invoice.paid"}`, "msg_1", "invoice.paid", nil},
		{"untyped object", `{"data":{}}`, "msg_1", "", nil},
		{"not json", `<xml/>`, "msg_1", "", envelope.ErrNotJSON},
		{"id with control character", `{}`, "msg\x01", "", envelope.ErrInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseStandard([]byte(tt.give), tt.giveID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (ev.Type != tt.wantType || ev.ID != tt.giveID) {
				t.Fatalf("got %+v, want type %q id %q", ev, tt.wantType, tt.giveID)
			}
		})
	}
}

// TestIssue10Refused: bodies the ingress answered 2xx and the worker then dead-lettered (issue 10
// items 1 and 3) are now 400 at the ingress, by the same parser the worker decodes with.
func TestIssue10Refused(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := `"timestamp":"` + now.Add(-time.Hour).Format(time.RFC3339) + `"`
	const u = "01K0AZRPB4N36H9NMDJRMYXM7A"
	long := strings.Repeat("x", 257)
	tests := []struct {
		name     string
		provider string
		give     string
	}{
		{"petstore orderId not UTF-8", "petstore", "{\"eventId\":\"e\",\"eventType\":\"order.statusChanged\"," + ts + ",\"data\":{\"orderId\":\"o\xff\",\"newStatus\":\"S\"}}"},
		{"petstore newStatus not UTF-8", "petstore", "{\"eventId\":\"e\",\"eventType\":\"order.statusChanged\"," + ts + ",\"data\":{\"orderId\":\"o\",\"newStatus\":\"\xffS\"}}"},
		{"bunjang orderStatus not UTF-8", "bunjang", "{\"eventId\":\"" + u + "\",\"eventType\":\"order.status.changed\",\"data\":{\"orderId\":1,\"orderItems\":[{\"orderItemId\":2,\"orderStatus\":\"S\xff\"}]}}"},
		{"petstore statusChanged without data", "petstore", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `}`},
		{"petstore order id over 256", "petstore", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"orderId":"` + long + `","newStatus":"S"}}`},
		{"petstore eventId with a leading space", "petstore", `{"eventId":" x","eventType":"order.statusChanged",` + ts + `,"data":{"orderId":"o","newStatus":"S"}}`},
		{"petstore duplicate key in data", "petstore", `{"eventId":"e","eventType":"order.statusChanged",` + ts + `,"data":{"orderId":"o","newStatus":"S","newStatus":"T"}}`},
		{"bunjang item listed twice", "bunjang", `{"eventId":"` + u + `","eventType":"order.status.changed","data":{"orderId":1,"orderItems":[{"orderItemId":2,"orderStatus":"S"},{"orderItemId":2,"orderStatus":"T"}]}}`},
		{"bunjang orderId 1e2", "bunjang", `{"eventId":"` + u + `","eventType":"order.status.changed","data":{"orderId":1e2,"orderItems":[{"orderItemId":2,"orderStatus":"S"}]}}`},
		{"bunjang orderId 1.0", "bunjang", `{"eventId":"` + u + `","eventType":"order.status.changed","data":{"orderId":1.0,"orderItems":[{"orderItemId":2,"orderStatus":"S"}]}}`},
		{"bunjang item id over 256", "bunjang", `{"eventId":"` + u + `","eventType":"order.status.changed","data":{"orderId":1,"orderItems":[{"orderItemId":"1` + strings.Repeat("0", 256) + `","orderStatus":"S"}]}}`},
		{"standard typed without data", "acme", `{"type":"order.status.changed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			switch tt.provider {
			case "petstore":
				_, err = parsePetstore([]byte(tt.give), now, 72*time.Hour)
			case "bunjang":
				_, err = parseBunjang([]byte(tt.give))
			default:
				_, err = parseStandard([]byte(tt.give), "msg_1")
			}
			if err == nil || errors.Is(err, errStaleEnvelope) {
				t.Fatalf("parse = %v, want a malformed payload", err)
			}
			if msg := malformedMessage(err); msg == "malformed payload" {
				t.Fatalf("message %q does not name the field", msg)
			}
		})
	}
}
