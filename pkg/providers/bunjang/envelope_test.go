package bunjang

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/envelope"
)

func body(eventID, data string) string {
	return `{"eventId":"` + eventID + `","eventType":"order.status.changed","payloadVersion":"v1","data":` + data + `}`
}

const okULID = "01K0AZRPB4N36H9NMDJRMYXM7A"

// TestParseDecisions writes down the rules of issue 10 for Bunjang.
func TestParseDecisions(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantOrder string
		wantItems []string
		wantErr   error
	}{
		{"vector shape", body(okULID, `{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":5,"orderStatus":"SHIPPED"}]}`), "100", []string{"1001"}, nil},
		{"integer ids as strings are the same ids", body(okULID, `{"orderId":"100","orderItems":[{"orderItemId":"1001","orderStatus":"S"}]}`), "100", []string{"1001"}, nil},
		{"orderId with an exponent", body(okULID, `{"orderId":1e2,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"orderId with a fraction", body(okULID, `{"orderId":1.0,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"orderId a string with an exponent", body(okULID, `{"orderId":"1e2","orderItems":[{"orderItemId":1,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"orderId with a leading zero", body(okULID, `{"orderId":"0100","orderItems":[{"orderItemId":1,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"orderId minus zero", body(okULID, `{"orderId":-0,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"orderId with spaces", body(okULID, `{"orderId":" 100","orderItems":[{"orderItemId":1,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"orderItemId with a fraction", body(okULID, `{"orderId":1,"orderItems":[{"orderItemId":2.5,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"orderId longer than 256 digits", body(okULID, `{"orderId":1`+strings.Repeat("0", 256)+`,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"item listed twice", body(okULID, `{"orderId":1,"orderItems":[{"orderItemId":2,"orderStatus":"S"},{"orderItemId":"2","orderStatus":"D"}]}`), "", nil, envelope.ErrInvalidField},
		{"duplicate key in an item", body(okULID, `{"orderId":1,"orderItems":[{"orderItemId":2,"orderStatus":"S","orderStatus":"D"}]}`), "", nil, envelope.ErrDuplicateKey},
		{"duplicate key in data", body(okULID, `{"orderId":1,"orderId":2,"orderItems":[{"orderItemId":2,"orderStatus":"S"}]}`), "", nil, envelope.ErrDuplicateKey},
		{"orderStatus not UTF-8", body(okULID, "{\"orderId\":1,\"orderItems\":[{\"orderItemId\":2,\"orderStatus\":\"S\xff\"}]}"), "", nil, envelope.ErrInvalidField},
		{"`id` is not read for eventId", `{"id":"` + okULID + `","eventType":"order.status.changed","data":{"orderId":1,"orderItems":[{"orderItemId":2,"orderStatus":"S"}]}}`, "", nil, envelope.ErrMissingField},
		{"eventId not a ULID", body("not-a-ulid", `{"orderId":1,"orderItems":[{"orderItemId":2,"orderStatus":"S"}]}`), "", nil, envelope.ErrInvalidField},
		{"lowercase ULID accepted, kept verbatim", body(strings.ToLower(okULID), `{"orderId":1,"orderItems":[{"orderItemId":2,"orderStatus":"S"}]}`), "1", []string{"2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse = %v, want %v", err, tt.wantErr)
			}
			var items []string
			for _, c := range env.Changes {
				items = append(items, c.ItemID)
			}
			if env.OrderID != tt.wantOrder || !slices.Equal(items, tt.wantItems) {
				t.Fatalf("order %q items %q, want %q %q", env.OrderID, items, tt.wantOrder, tt.wantItems)
			}
		})
	}
}

// TestULIDTime: oklog/ulid's strict parse. Decision (issue 10): I, L, O and U are refused, not
// read as 1, 1, 0 (Crockford's decoding rule): the ULID spec excludes them from the alphabet,
// the ingress always refused them, and the id is used verbatim, so "01I…" and "011…" would be
// two event ids with one time.
func TestULIDTime(t *testing.T) {
	tests := []struct {
		give   string
		want   time.Time
		wantOK bool
	}{
		{okULID, time.UnixMilli(1752715516260), true},
		{strings.ToLower(okULID), time.UnixMilli(1752715516260), true},
		{"00000000000000000000000000", time.UnixMilli(0), true},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", time.UnixMilli(1<<48 - 1), true},
		{"80000000000000000000000000", time.Time{}, false},
		{"01K0AZRPB4N36H9NMDJRMYXM7", time.Time{}, false},
		{"01K0AZRPB4N36H9NMDJRMYXM7U", time.Time{}, false},
		{"01K0AZRPB4N36H9NMDJRMYXM7I", time.Time{}, false},
		{"01K0AZRPB4N36H9NMDJRMYXM7L", time.Time{}, false},
		{"01K0AZRPB4N36H9NMDJRMYXM7O", time.Time{}, false},
		{"01K0AZRPB4N36H9NMDJRMYXM7o", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := ULIDTime(tt.give)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Fatalf("ULIDTime = %v %t, want %v %t", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
