package dlq

import (
	"testing"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestDescribeDeadLetter(t *testing.T) {
	tests := []struct {
		name         string
		give         jetstream.RawStreamMsg
		wantProvider string
		wantTenant   string
		wantOriginal string
	}{
		{"webhook", jetstream.RawStreamMsg{Subject: "dlq.webhooks.bunjang.default", Header: nats.Header{}},
			"bunjang", "default", "webhooks.bunjang.default"},
		{"callback", jetstream.RawStreamMsg{Subject: "dlq.callbacks.6f1c2a3b-4d5e-4f70-8a9b-0c1d2e3f4a5b", Header: nats.Header{}},
			"callbacks", "6f1c2a3b-4d5e-4f70-8a9b-0c1d2e3f4a5b", "callbacks.6f1c2a3b-4d5e-4f70-8a9b-0c1d2e3f4a5b"},
		{"headers win", jetstream.RawStreamMsg{Subject: "dlq.webhooks.acme.default", Header: nats.Header{
			streams.HeaderDLQSubject: {"webhooks.acme.default"}, streams.HeaderProvider: {"acme"}, streams.HeaderTenant: {"default"}}},
			"acme", "default", "webhooks.acme.default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Describe(&tt.give)
			if d.Provider != tt.wantProvider || d.Tenant != tt.wantTenant || d.Original != tt.wantOriginal {
				t.Fatalf("got %s %s %s, want %s %s %s", d.Provider, d.Tenant, d.Original, tt.wantProvider, tt.wantTenant, tt.wantOriginal)
			}
			if !(Filter{Provider: tt.wantProvider}).Match(d) || (Filter{Provider: "nope"}).Match(d) {
				t.Fatal("provider filter does not select by provider")
			}
		})
	}
}
