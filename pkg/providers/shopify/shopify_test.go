package shopify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/shopify"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerify(t *testing.T) {
	body := fixture(t, "orders-create.json")
	mac := hmac.New(sha256.New, []byte("s2"))
	mac.Write(body)
	sum := mac.Sum(nil)
	v, err := shopify.Provider{}.Verifier([][]byte{[]byte("s1"), []byte("s2")}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give string
		want error
	}{
		{"base64, second secret", base64.StdEncoding.EncodeToString(sum), nil},
		{"hex is not base64", hex.EncodeToString(sum), providers.ErrMalformedSignature},
		{"missing", "", providers.ErrMissingSignature},
		{"wrong secret", shopify.Sign([]byte("other"), body), providers.ErrSignatureMismatch},
		{"truncated", base64.StdEncoding.EncodeToString(sum)[:43], providers.ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.give != "" {
				h.Set(shopify.HeaderSignature, tt.give)
			}
			if err := v.Verify(h, body); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := (shopify.Provider{}).Verifier(nil, 0, nil); !errors.Is(err, providers.ErrNoSecrets) {
		t.Errorf("no secrets: %v", err)
	}
}

func TestParse(t *testing.T) {
	const id = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	tests := []struct {
		name, topic, file, body string
		wantStatus              string
		wantKind                envelope.Kind
		wantAt                  time.Time
	}{
		{name: "create", topic: "orders/create", file: "orders-create.json", wantStatus: "orders/create", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:00:00-05:00")},
		{name: "paid", topic: "orders/paid", file: "orders-paid.json", wantStatus: "orders/paid", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:05:00-05:00")},
		{name: "fulfilled", topic: "orders/fulfilled", file: "orders-fulfilled.json", wantStatus: "orders/fulfilled", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:10:00-05:00")},
		{name: "cancelled", topic: "orders/cancelled", file: "orders-cancelled.json", wantStatus: "orders/cancelled", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:20:00-05:00")},
		{name: "updated refunded", topic: "orders/updated", file: "orders-updated-refunded.json", wantStatus: "refunded", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:30:00-05:00")},
		{name: "updated cancelled wins", topic: "orders/updated", file: "orders-cancelled.json", wantStatus: "cancelled", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:20:00-05:00")},
		{name: "updated fulfilled", topic: "orders/updated", file: "orders-fulfilled.json", wantStatus: "fulfilled", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:10:00-05:00")},
		{name: "updated paid", topic: "orders/updated", file: "orders-paid.json", wantStatus: "paid", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:05:00-05:00")},
		{name: "updated pending", topic: "orders/updated", file: "orders-create.json", wantStatus: "placed", wantKind: envelope.KindStatusChanged, wantAt: at("2021-12-31T19:00:00-05:00")},
		{name: "other topic stored", topic: "products/create", body: `{"id":1}`, wantKind: envelope.KindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.file != "" {
				body = fixture(t, tt.file)
			}
			env, err := shopify.Parse(body, providers.Meta{EventID: id, EventType: tt.topic})
			if err != nil {
				t.Fatal(err)
			}
			if env.EventID != id || env.EventType != tt.topic || env.Kind != tt.wantKind {
				t.Fatalf("envelope %+v", env)
			}
			if tt.wantKind == envelope.KindOther {
				return
			}
			if env.OrderID != "820982911946154508" || len(env.Changes) != 1 || env.Changes[0].Status != tt.wantStatus || !env.OccurredAt.Equal(tt.wantAt) {
				t.Fatalf("order %q changes %+v at %s; want 820982911946154508 %s at %s", env.OrderID, env.Changes, env.OccurredAt, tt.wantStatus, tt.wantAt)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	body := fixture(t, "orders-create.json")
	tests := []struct {
		name string
		meta providers.Meta
		body string
		want error
	}{
		{"no topic", providers.Meta{EventID: "w1"}, string(body), envelope.ErrMissingField},
		{"no webhook id", providers.Meta{EventType: "orders/create"}, string(body), envelope.ErrMissingField},
		{"not json", providers.Meta{EventID: "w1", EventType: "orders/create"}, "id=1", envelope.ErrNotJSON},
		{"id missing", providers.Meta{EventID: "w1", EventType: "orders/create"}, `{"updated_at":"2021-12-31T19:00:00-05:00"}`, envelope.ErrMissingField},
		{"id a string", providers.Meta{EventID: "w1", EventType: "orders/create"}, `{"id":"1","updated_at":"2021-12-31T19:00:00-05:00"}`, envelope.ErrInvalidField},
		{"id a fraction", providers.Meta{EventID: "w1", EventType: "orders/create"}, `{"id":1.5,"updated_at":"2021-12-31T19:00:00-05:00"}`, envelope.ErrInvalidField},
		{"updated_at missing", providers.Meta{EventID: "w1", EventType: "orders/paid"}, `{"id":1}`, envelope.ErrMissingField},
		{"updated_at without offset", providers.Meta{EventID: "w1", EventType: "orders/paid"}, `{"id":1,"updated_at":"2021-12-31T19:00:00"}`, envelope.ErrInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := shopify.Parse([]byte(tt.body), tt.meta); !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

// Samples for send and bench parse and verify, and walk the lifecycle.
func TestSample(t *testing.T) {
	p := shopify.Provider{}
	v, err := p.Verifier([][]byte{[]byte("k")}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range append(p.Walk(), "CANCELLED", "REFUNDED") {
		s, err := p.Sample(providers.SampleSpec{OrderKey: "run-1-o1", Status: status, Shop: "acme.myshopify.com", EventID: "w-" + status})
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		sig, err := p.Sign([]byte("k"), s, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range append(s.Headers, sig...) {
			h.Set(kv[0], kv[1])
		}
		if err := v.Verify(h, s.Body); err != nil {
			t.Fatalf("%s: %v", status, err)
		}
		env, err := p.Parse(s.Body, p.Meta(h))
		if err != nil {
			t.Fatalf("%s: %v", status, err)
		}
		if env.EventID != "w-"+status || env.OrderID != s.OrderID || env.Changes[0].Status != s.Status || p.TenantKey(h) != "acme.myshopify.com" {
			t.Fatalf("%s: envelope %+v, sample %+v", status, env, s)
		}
	}
}
