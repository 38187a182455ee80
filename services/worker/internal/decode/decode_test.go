package decode

import (
	"encoding/json"
	"errors"
	"github.com/hookline/hookline/pkg/providers/all"
	"os"
	"slices"
	"testing"
	"time"
)

var fallback = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// ts parses an RFC 3339 literal; a typo gives the zero time, which no case expects.
func ts(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		header   string // Hookline-Event-Id
		body     string
		want     Event
	}{
		{
			name:     "petstore status changed trusts newStatus and changedAt",
			provider: "petstore",
			body:     `{"eventId":"e-1","eventType":"order.statusChanged","timestamp":"2024-12-16T10:31:00Z","data":{"order":{"id":"o-1","status":"PLACED"},"previousStatus":"DELIVERED","newStatus":"APPROVED","changedAt":"2024-12-16T10:30:00.123Z"}}`,
			want:     Event{SourceEventID: "e-1", EventType: "order.statusChanged", OrderID: "o-1", OccurredAt: ts("2024-12-16T10:30:00.123Z"), Changes: []Change{{Status: "APPROVED"}}},
		},
		{
			name:     "petstore older doc page: id, lowercase status, no changedAt",
			provider: "petstore",
			body:     `{"id":"e-2","eventType":"order.statusChanged","timestamp":"2024-12-16T10:31:00Z","data":{"order":{"id":42},"newStatus":"shipped"}}`,
			want:     Event{SourceEventID: "e-2", EventType: "order.statusChanged", OrderID: "42", OccurredAt: ts("2024-12-16T10:31:00Z"), Changes: []Change{{Status: "shipped"}}},
		},
		{
			// Decision (issue 10): for Petstore and Bunjang the body is the truth, as at the ingress,
			// which copied the body's id into the header; a differing header is not read.
			name:     "petstore event id and type come from the body, not the headers",
			provider: "petstore",
			header:   "hdr-1",
			body:     `{"eventId":"e-3","eventType":"order.statusChanged","timestamp":"2024-12-16T10:31:00Z","data":{"order":{"id":"o-1"},"newStatus":"PLACED"}}`,
			want:     Event{SourceEventID: "e-3", EventType: "order.statusChanged", OrderID: "o-1", OccurredAt: ts("2024-12-16T10:31:00Z"), Changes: []Change{{Status: "PLACED"}}},
		},
		{
			name:     "petstore payment succeeded means approved, amount as number",
			provider: "petstore",
			body:     `{"eventId":"p-1","eventType":"payment.succeeded","timestamp":"2024-12-16T11:00:00Z","data":{"payment":{"id":"pay-1","amount":125.5,"currency":"USD"},"order":{"id":"o-1","totalAmount":125.5}}}`,
			want:     Event{SourceEventID: "p-1", EventType: "payment.succeeded", OrderID: "o-1", OccurredAt: ts("2024-12-16T11:00:00Z"), Changes: []Change{{Status: "APPROVED"}}},
		},
		{
			name:     "bunjang one change per item, time from the ULID",
			provider: "bunjang",
			body:     `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":503344,"orderStatus":"PAYMENT_RECEIVED"},{"orderItemId":"1002","pid":1,"orderStatus":"shipped"}]}}`,
			want: Event{SourceEventID: "01K0AZRPB4N36H9NMDJRMYXM7A", EventType: "order.status.changed", OrderID: "100",
				OccurredAt: time.UnixMilli(1752715516260), Changes: []Change{{ItemID: "1001", Status: "PAYMENT_RECEIVED"}, {ItemID: "1002", Status: "shipped"}}},
		},
		{
			name:     "standard webhooks source",
			provider: "acme",
			header:   "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
			body:     `{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`,
			want:     Event{SourceEventID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", EventType: "order.status.changed", OrderID: "A-1", OccurredAt: fallback, Changes: []Change{{Status: "SHIPPED"}}},
		},
		{
			name:     "standard webhooks source with timestamp",
			provider: "acme",
			header:   "msg_1",
			body:     `{"type":"order.status.changed","timestamp":"2025-01-01T00:00:00Z","data":{"orderId":"A-1","status":"PLACED"}}`,
			want:     Event{SourceEventID: "msg_1", EventType: "order.status.changed", OrderID: "A-1", OccurredAt: ts("2025-01-01T00:00:00Z"), Changes: []Change{{Status: "PLACED"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(all.Registry().For(tt.provider), Input{Provider: tt.provider, Tenant: "default", EventID: tt.header, Body: []byte(tt.body), Fallback: fallback})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			tt.want.Provider, tt.want.Tenant = tt.provider, "default"
			if got.Provider != tt.want.Provider || got.Tenant != tt.want.Tenant || got.SourceEventID != tt.want.SourceEventID ||
				got.EventType != tt.want.EventType || got.OrderID != tt.want.OrderID || !got.OccurredAt.Equal(tt.want.OccurredAt) ||
				!slices.Equal(got.Changes, tt.want.Changes) {
				t.Fatalf("Decode =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeSignatureVectors(t *testing.T) {
	// The repository's copy of the contract's signature vectors lives with the provider
	// registry in pkg/providers/all (each provider folder keeps its own entry).
	raw, err := os.ReadFile("../../../../pkg/providers/all/testdata/signature-vectors.json")
	if err != nil {
		t.Fatalf("signature vectors: %v", err)
	}
	var vectors map[string]json.RawMessage
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give       string
		provider   string
		header     string
		wantOrder  string
		wantStatus string
	}{
		{"petstore", "petstore", "", "019b4139-1234-7abc-8def-123456789abc", "APPROVED"},
		{"bunjang", "bunjang", "", "100", "PAYMENT_RECEIVED"},
		{"standardwebhooks", "acme", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "A-1", "SHIPPED"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			var v struct{ Body string }
			if err := json.Unmarshal(vectors[tt.give], &v); err != nil {
				t.Fatal(err)
			}
			got, err := Decode(all.Registry().For(tt.provider), Input{Provider: tt.provider, Tenant: "default", EventID: tt.header, Body: []byte(v.Body), Fallback: fallback})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.OrderID != tt.wantOrder || len(got.Changes) != 1 || got.Changes[0].Status != tt.wantStatus {
				t.Fatalf("Decode = %+v, want order %s status %s", got, tt.wantOrder, tt.wantStatus)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		header   string
		body     string
		want     error
	}{
		{"not json", "petstore", "", `{"eventId":`, ErrMalformed},
		{"json array", "petstore", "", `[1,2]`, ErrMalformed},
		{"petstore no event id", "petstore", "", `{"eventType":"order.statusChanged","data":{"order":{"id":"o"},"newStatus":"PLACED"}}`, ErrMalformed},
		{"petstore no type", "petstore", "", `{"eventId":"e","data":{"order":{"id":"o"},"newStatus":"PLACED"}}`, ErrMalformed},
		{"petstore no data", "petstore", "", `{"eventId":"e","eventType":"order.statusChanged"}`, ErrMalformed},
		{"petstore no order id", "petstore", "", `{"eventId":"e","eventType":"order.statusChanged","data":{"newStatus":"PLACED"}}`, ErrMalformed},
		{"petstore no status", "petstore", "", `{"eventId":"e","eventType":"order.statusChanged","data":{"order":{"id":"o"}}}`, ErrMalformed},
		{"petstore status not a string", "petstore", "", `{"eventId":"e","eventType":"order.statusChanged","data":{"order":{"id":"o"},"newStatus":{}}}`, ErrMalformed},
		{"petstore order id an object", "petstore", "", `{"eventId":"e","eventType":"order.statusChanged","data":{"order":{"id":{}},"newStatus":"PLACED"}}`, ErrMalformed},
		{"petstore payment without order", "petstore", "", `{"eventId":"e","eventType":"payment.succeeded","data":{"payment":{"amount":1}}}`, ErrMalformed},
		{"petstore other type", "petstore", "", `{"eventId":"e","eventType":"pet.adopted","timestamp":"2024-12-16T10:31:00Z","data":{}}`, ErrUnhandled},
		{"petstore without timestamp", "petstore", "", `{"eventId":"e","eventType":"order.statusChanged","data":{"order":{"id":"o"},"newStatus":"PLACED"}}`, ErrMalformed},
		{"bunjang id that is no ULID", "bunjang", "", `{"eventId":"not-a-ulid","eventType":"order.status.changed","data":{"orderId":"7","orderItems":[{"orderItemId":1,"orderStatus":"SHIPPED"}]}}`, ErrMalformed},
		{"bunjang no items", "bunjang", "", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","data":{"orderId":1,"orderItems":[]}}`, ErrMalformed},
		{"bunjang item without status", "bunjang", "", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","data":{"orderId":1,"orderItems":[{"orderItemId":2}]}}`, ErrMalformed},
		{"bunjang item twice", "bunjang", "", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","data":{"orderId":1,"orderItems":[{"orderItemId":2,"orderStatus":"SHIPPED"},{"orderItemId":2,"orderStatus":"DELIVERED"}]}}`, ErrMalformed},
		{"bunjang no order id", "bunjang", "", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","data":{"orderItems":[{"orderItemId":2,"orderStatus":"SHIPPED"}]}}`, ErrMalformed},
		{"bunjang other type", "bunjang", "", `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"product.updated","data":{"orderId":1,"orderItems":[{"orderItemId":2,"orderStatus":"SHIPPED"}]}}`, ErrUnhandled},
		{"standard other type", "acme", "msg_1", `{"type":"invoice.paid","data":{}}`, ErrUnhandled},
		{"standard no event id", "acme", "", `{"type":"order.status.changed","data":{"orderId":"A","status":"SHIPPED"}}`, ErrMalformed},
		{"standard no status", "acme", "msg_1", `{"type":"order.status.changed","data":{"orderId":"A"}}`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(all.Registry().For(tt.provider), Input{Provider: tt.provider, Tenant: "default", EventID: tt.header, Body: []byte(tt.body), Fallback: fallback})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStringsWithEscapes(t *testing.T) {
	body := `{"eventId":"e\"1","eventType":"order.statusChanged","timestamp":"2024-12-16T10:31:00Z","data":{"order":{"id":"o\u002d1"},"newStatus":"SHIP\u0050ED"}}`
	got, err := Decode(all.Registry().For("petstore"), Input{Provider: "petstore", Tenant: "default", Body: []byte(body), Fallback: fallback})
	if err != nil {
		t.Fatal(err)
	}
	if got.SourceEventID != `e"1` || got.OrderID != "o-1" || got.Changes[0].Status != "SHIPPED" {
		t.Fatalf("Decode = %+v", got)
	}
}
