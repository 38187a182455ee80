package console

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestMaskHeaders(t *testing.T) {
	tests := []struct {
		give string
		want bool // masked
	}{
		{"X-Webhook-Signature", true},
		{"X-Bun-Webhook-Signature", true},
		{"Webhook-Signature", true},
		{"Svix-Signature", true},
		{"X-Shopify-Hmac-Sha256", true},
		{"Authorization", true},
		{"Cookie", true},
		{"X-Api-Key", true},
		{"X-Client-Secret", true},
		{"Hookline-Event-Id", false},
		{"Content-Type", false},
		{"Nats-Msg-Id", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := MaskHeaders(nats.Header{tt.give: {"s3cr3t-value"}})
			if len(got) != 1 {
				t.Fatalf("got %d headers, want 1", len(got))
			}
			if masked := got[0].Value == Masked; masked != tt.want {
				t.Fatalf("%s: value %q, masked %v, want %v", tt.give, got[0].Value, masked, tt.want)
			}
			if tt.want && got[0].Value == "s3cr3t-value" {
				t.Fatal("secret shown")
			}
		})
	}
}

func TestRates(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ss := []sample{
		{at: t0, inbound: 10, applied: 5},
		{at: t0.Add(2e9), inbound: 30, applied: 9},
		{at: t0.Add(4e9), inbound: 4, applied: 1}, // a restart: counters start over
	}
	got := rates(ss)
	if len(got) != 2 || got[0].Inbound != 10 || got[0].Applied != 2 || got[1].Inbound != 2 || got[1].Applied != 0.5 {
		t.Fatalf("rates = %+v", got)
	}
	r := newRing(2)
	for _, s := range ss {
		r.add(s)
	}
	if all := r.all(); len(all) != 2 || all[0].inbound != 30 || all[1].inbound != 4 {
		t.Fatalf("ring keeps %+v, want the last two oldest first", all)
	}
}
