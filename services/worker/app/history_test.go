package app

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/nats-io/nats.go"
)

// historyView is the answer of GET /v1/orders/{provider}/{orderId}/history.
type historyView struct {
	TenantID string         `json:"tenantId"`
	Provider string         `json:"provider"`
	OrderID  string         `json:"orderId"`
	Events   []historyEntry `json:"events"`
}

type historyEntry struct {
	EventID          string `json:"eventId"`
	ItemID           string `json:"itemId"`
	Kind             string `json:"kind"`
	Status           string `json:"status"`
	ProviderStatus   string `json:"providerStatus"`
	Version          int64  `json:"version"`
	OccurredAt       string `json:"occurredAt"`
	ReceivedAt       string `json:"receivedAt"`
	AppliedAt        string `json:"appliedAt"`
	StreamSequence   uint64 `json:"streamSequence"`
	CanonicalEventID string `json:"canonicalEventId"`
}

// history reads the order's history via the query API.
func (w *worker) history(t testing.TB, provider, orderID string, hdr map[string]string) historyView {
	t.Helper()
	code, body := w.get(t, "/v1/orders/"+provider+"/"+orderID+"/history", hdr)
	if code != http.StatusOK {
		t.Fatalf("GET history %s/%s = %d %s", provider, orderID, code, body)
	}
	var v historyView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("history body %s: %v", body, err)
	}
	return v
}

// wantEntry is what a history entry must say.
type wantEntry struct {
	eventID, itemID, kind, status, providerStatus string
	version                                       int64
	seq                                           uint64
	canonical                                     string
}

func checkHistory(t *testing.T, got historyView, want []wantEntry) {
	t.Helper()
	if len(got.Events) != len(want) {
		t.Fatalf("history = %+v, want %d entries", got.Events, len(want))
	}
	for i, w := range want {
		g := got.Events[i]
		if g.EventID != w.eventID || g.ItemID != w.itemID || g.Kind != w.kind || g.Status != w.status ||
			g.ProviderStatus != w.providerStatus || g.Version != w.version || g.StreamSequence != w.seq ||
			g.CanonicalEventID != w.canonical {
			t.Errorf("entry %d = %+v\nwant %+v", i, g, w)
		}
		for _, ts := range []string{g.OccurredAt, g.ReceivedAt, g.AppliedAt} {
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				t.Errorf("entry %d time %q: %v", i, ts, err)
			}
		}
	}
}

// Acceptance 1 (issue 13): a lifecycle with a stale, a rejected and a re-sent (duplicate) event
// shows each with the right kind and version, oldest first.
func TestIntegrationHistoryLifecycle(t *testing.T) {
	e := newEnv(t, false)
	const ttl = 3 * time.Hour // HOOKLINE_DEDUPE_TTL
	w := e.startWorker(e.config(func(c *Config) { c.Worker.DedupeTTL = ttl }))
	resent := petstoreStatus("h-2", "order-h", "SHIPPED", t0.Add(2*time.Minute))
	resent.msgID = "petstore:default:h-2:again" // a provider's re-send: a new message, the same event id
	received := t0.Add(time.Hour)
	steps := []inbound{
		petstoreStatus("h-1", "order-h", "PLACED", t0),
		petstoreStatus("h-2", "order-h", "SHIPPED", t0.Add(2*time.Minute)),
		petstoreStatus("h-3", "order-h", "APPROVED", t0.Add(time.Minute)), // older: stale
		resent,
		petstoreStatus("h-4", "order-h", "DELIVERED", t0.Add(3*time.Minute)),
		petstoreStatus("h-5", "order-h", "CANCELLED", t0.Add(4*time.Minute)), // out of terminal: rejected
	}
	for _, in := range steps {
		in.receivedAt = received
		e.publish(in.msg())
		eventually(t, 20*time.Second, "event "+in.eventID+" acked", e.allAcked)
	}
	got := w.history(t, "petstore", "order-h", nil)
	if got.TenantID != "default" || got.Provider != "petstore" || got.OrderID != "order-h" {
		t.Fatalf("history header = %+v", got)
	}
	checkHistory(t, got, []wantEntry{
		{"h-1", "", "applied", "PLACED", "PLACED", 1, 1, "petstore:default:h-1"},
		{"h-2", "", "applied", "SHIPPED", "SHIPPED", 2, 2, "petstore:default:h-2"},
		{"h-3", "", "stale", "APPROVED", "APPROVED", 2, 3, ""},
		{"h-2", "", "duplicate", "SHIPPED", "SHIPPED", 2, 4, ""},
		{"h-4", "", "applied", "DELIVERED", "DELIVERED", 3, 5, "petstore:default:h-4"},
		{"h-5", "", "rejected", "CANCELLED", "CANCELLED", 3, 6, ""},
	})
	if r, o := got.Events[0].ReceivedAt, got.Events[1].OccurredAt; r != received.Format(time.RFC3339Nano) ||
		o != t0.Add(2*time.Minute).Format(time.RFC3339Nano) {
		t.Errorf("receivedAt %s, occurredAt %s; want %s and %s", r, o, received.Format(time.RFC3339Nano), t0.Add(2*time.Minute).Format(time.RFC3339Nano))
	}
	if code, body := w.get(t, "/v1/orders/petstore/no-such-order/history", nil); code != http.StatusNotFound {
		t.Fatalf("history of an unknown order = %d %s, want 404", code, body)
	}
	// The history expires with HOOKLINE_DEDUPE_TTL (contract section 7), renewed by each event.
	left, err := e.rdb.PTTL(context.Background(), orders.HistoryKey("default", "petstore", "order-h")).Result()
	if err != nil || left <= ttl-time.Minute || left > ttl {
		t.Fatalf("history TTL = %s, %v; want about %s (HOOKLINE_DEDUPE_TTL)", left, err, ttl)
	}
}

// Bunjang: one entry per item; X-Tenant-ID selects the tenant's order.
func TestIntegrationHistoryBunjangItemsAndTenant(t *testing.T) {
	e := newEnv(t, false)
	w := e.startWorker(e.config())
	const tenant = "4f9a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c"
	first, second := ulid(t0, 1), ulid(t0.Add(time.Minute), 2)
	var msgs []*nats.Msg
	for _, in := range []inbound{
		bunjangStatus(first, 100, bunjangItem{1001, "PAYMENT_RECEIVED"}, bunjangItem{1002, "SHIPPED"}),
		bunjangStatus(second, 100, bunjangItem{1001, "SHIPPED"}, bunjangItem{1002, "PAYMENT_RECEIVED"}),
	} {
		in.tenant = tenant
		msgs = append(msgs, in.msg())
	}
	for _, m := range msgs {
		e.publish(m)
		eventually(t, 20*time.Second, "bunjang event acked", e.allAcked)
	}
	got := w.history(t, "bunjang", "100", map[string]string{"X-Tenant-ID": tenant})
	if got.TenantID != tenant {
		t.Fatalf("tenantId = %q, want %q", got.TenantID, tenant)
	}
	checkHistory(t, got, []wantEntry{
		{first, "1001", "applied", "APPROVED", "PAYMENT_RECEIVED", 1, 1, "bunjang:" + tenant + ":" + first + ":1001"},
		{first, "1002", "applied", "SHIPPED", "SHIPPED", 1, 1, "bunjang:" + tenant + ":" + first + ":1002"},
		{second, "1001", "applied", "SHIPPED", "SHIPPED", 2, 2, "bunjang:" + tenant + ":" + second + ":1001"},
		{second, "1002", "stale", "APPROVED", "PAYMENT_RECEIVED", 1, 2, ""},
	})
	if code, body := w.get(t, "/v1/orders/bunjang/100/history", nil); code != http.StatusNotFound {
		t.Fatalf("history without the tenant header = %d %s, want 404", code, body)
	}
	if n := e.streamMsgs(streams.Orders); n != 3 {
		t.Fatalf("ORDERS holds %d events, want 3 (one per applied entry)", n)
	}
}
