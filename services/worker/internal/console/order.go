package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/services/worker/internal/events"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/hookline/hookline/services/worker/internal/query"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// OrderReader reads an order's current state (orders.Store).
type OrderReader interface {
	Read(ctx context.Context, tenant, provider, orderID string) (orders.View, error)
}

// HistoryEntry is one event handled for one unit of an order (contract section 7, the history
// endpoint's events).
type HistoryEntry struct {
	EventID          string    `json:"eventId"`
	ItemID           string    `json:"itemId,omitempty"`
	Kind             string    `json:"kind"` // applied, stale, rejected, duplicate
	Status           string    `json:"status"`
	ProviderStatus   string    `json:"providerStatus"`
	Version          int64     `json:"version"`
	OccurredAt       time.Time `json:"occurredAt"`
	ReceivedAt       time.Time `json:"receivedAt"`
	AppliedAt        time.Time `json:"appliedAt"`
	StreamSequence   uint64    `json:"streamSequence"`
	CanonicalEventID string    `json:"canonicalEventId,omitempty"`
}

// HistoryReader reads an order's history, oldest first; orders.ErrNotFound for an order never
// seen.
type HistoryReader interface {
	History(ctx context.Context, tenant, provider, orderID string) ([]HistoryEntry, error)
}

// Webhook is a WEBHOOKS message as the order page shows it: headers masked.
type Webhook struct {
	Seq     uint64
	Subject string
	Stored  time.Time
	Headers []Header
	Body    string
	Missing string // why the message could not be read (expired from the stream)
}

// Header is one header, its values joined; secrets and signatures masked.
type Header struct{ Name, Value string }

// Step is one timeline entry.
type Step struct {
	HistoryEntry
	Webhook   *Webhook
	Canonical string // the canonical event as JSON, when applied
}

type orderData struct {
	Provider, OrderID, Tenant string
	Searched                  bool
	NotFound                  bool
	Error                     string
	Order                     *orders.View
	Items                     []itemRow
	Steps                     []Step
}

type itemRow struct {
	ID string
	orders.State
}

// scanLimit bounds how many ORDERS messages one order page scans for canonical events.
const scanLimit = 200_000

func (c *Console) orderPage(w http.ResponseWriter, r *http.Request, ss *session) {
	q := r.URL.Query()
	d := orderData{Provider: strings.TrimSpace(q.Get("provider")), OrderID: strings.TrimSpace(q.Get("order")), Tenant: strings.TrimSpace(q.Get("tenant"))}
	if d.Provider == "" || d.OrderID == "" {
		c.render(w, http.StatusOK, "order", ss, d)
		return
	}
	d.Searched = true
	tenant := config.DefaultTenant
	if d.Tenant != "" {
		id, ok := config.NormalizeTenantID(d.Tenant)
		if !ok {
			d.NotFound = true
			c.render(w, http.StatusOK, "order", ss, d)
			return
		}
		tenant = id
	}
	ctx := r.Context()
	view, err := c.o.Orders.Read(ctx, tenant, d.Provider, d.OrderID)
	switch {
	case errors.Is(err, orders.ErrNotFound):
		d.NotFound = true
	case err != nil:
		c.o.Log.Warn("console order", zap.String("provider", d.Provider), zap.String("order_id", d.OrderID), zap.Error(err))
		d.Error = "could not read the order: the order store is unavailable"
	default:
		d.Order = &view
		for id, st := range view.Items {
			d.Items = append(d.Items, itemRow{ID: id, State: st})
		}
		sort.Slice(d.Items, func(i, j int) bool { return d.Items[i].ID < d.Items[j].ID })
	}
	if d.Order != nil {
		steps, err := c.timeline(ctx, tenant, d.Provider, d.OrderID)
		if err != nil {
			c.o.Log.Warn("console order history", zap.String("provider", d.Provider), zap.String("order_id", d.OrderID), zap.Error(err))
			d.Error = "could not read the order's history"
		}
		d.Steps = steps
	}
	c.render(w, http.StatusOK, "order", ss, d)
}

func (c *Console) timeline(ctx context.Context, tenant, provider, orderID string) ([]Step, error) {
	entries, err := c.o.History.History(ctx, tenant, provider, orderID)
	if err != nil && !errors.Is(err, orders.ErrNotFound) {
		return nil, err
	}
	events, err := canonicalEvents(ctx, c.o.JS, tenant, provider, orderID)
	if err != nil {
		return nil, err
	}
	webhooks := map[uint64]*Webhook{}
	steps := make([]Step, len(entries))
	for i, e := range entries {
		steps[i] = Step{HistoryEntry: e}
		if e.StreamSequence != 0 {
			wh, ok := webhooks[e.StreamSequence]
			if !ok {
				wh = c.webhook(ctx, e.StreamSequence)
				webhooks[e.StreamSequence] = wh
			}
			steps[i].Webhook = wh
		}
		if ev, ok := events[e.CanonicalEventID]; ok {
			steps[i].Canonical = ev.json
		}
	}
	return steps, nil
}

func (c *Console) webhook(ctx context.Context, seq uint64) *Webhook {
	wh := &Webhook{Seq: seq}
	s, err := c.o.JS.Stream(ctx, streams.Webhooks)
	if err == nil {
		var m *jetstream.RawStreamMsg
		if m, err = s.GetMsg(ctx, seq); err == nil {
			wh.Subject, wh.Stored, wh.Headers, wh.Body = m.Subject, m.Time, MaskHeaders(m.Header), prettyBody(m.Data)
			return wh
		}
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		wh.Missing = "no longer in WEBHOOKS (expired or purged)"
	} else {
		wh.Missing = "could not read WEBHOOKS"
		c.o.Log.Warn("console webhook", zap.Uint64("seq", seq), zap.Error(err))
	}
	return wh
}

func prettyBody(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") == nil {
		return out.String()
	}
	return string(b)
}

// sensitive are headers whose values are masked wherever the console shows headers; any header
// whose name mentions a signature, secret, token, password, hmac, cookie or api key is masked
// too.
var sensitive = map[string]bool{
	"x-webhook-signature": true, "x-bun-webhook-signature": true, "webhook-signature": true,
	"svix-signature": true, "x-shopify-hmac-sha256": true, "authorization": true,
	"proxy-authorization": true, "cookie": true, "set-cookie": true, "x-hub-signature": true,
	"x-hub-signature-256": true, "stripe-signature": true,
}

var sensitiveWords = []string{"signature", "secret", "token", "password", "hmac", "cookie", "api-key", "apikey", "auth"}

// Masked replaces a sensitive header's value.
const Masked = "•••••• (masked)"

// IsSensitive reports whether a header's value is masked.
func IsSensitive(name string) bool {
	n := strings.ToLower(name)
	if sensitive[n] {
		return true
	}
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// MaskHeaders returns h sorted by name with sensitive values masked.
func MaskHeaders(h nats.Header) []Header {
	out := make([]Header, 0, len(h))
	for k, v := range h {
		val := strings.Join(v, ", ")
		if IsSensitive(k) {
			val = Masked
		}
		out = append(out, Header{Name: k, Value: val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// StoreHistory reads the history the worker records (orders.Store.History).
type StoreHistory struct {
	Store interface {
		History(ctx context.Context, tenant, provider, orderID string) ([]orders.Entry, error)
	}
}

var _ HistoryReader = StoreHistory{}

// History returns the recorded entries, oldest first, with the canonical event id of applied ones.
func (h StoreHistory) History(ctx context.Context, tenant, provider, orderID string) ([]HistoryEntry, error) {
	entries, err := h.Store.History(ctx, tenant, provider, orderID)
	if err != nil {
		return nil, err
	}
	out := make([]HistoryEntry, len(entries))
	for i, e := range entries {
		out[i] = HistoryEntry{
			EventID: e.SourceEventID, ItemID: e.ItemID, Kind: string(e.Kind), Status: query.StatusName(e.Canonical),
			ProviderStatus: e.Status, Version: e.Version, OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt,
			AppliedAt: e.AppliedAt, StreamSequence: e.Seq,
		}
		if e.Kind == orders.Applied {
			out[i].CanonicalEventID = events.EventID(provider, tenant, e.SourceEventID, e.ItemID)
		}
	}
	return out, nil
}
