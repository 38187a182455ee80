package query

import (
	"context"
	"net/http"

	"github.com/hookline/hookline/pkg/admin"
	"github.com/hookline/hookline/services/worker/internal/events"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"go.uber.org/zap"
)

// HistoryPattern is the order history route (contract section 7).
const HistoryPattern = "GET /v1/orders/{provider}/{orderId}/history"

// HistoryReader reads an order's history, oldest first.
type HistoryReader interface {
	History(ctx context.Context, tenant, provider, orderID string) ([]orders.Entry, error)
}

var _ HistoryReader = (*orders.Store)(nil)

// HistoryHandler serves HistoryPattern.
type HistoryHandler struct {
	r   HistoryReader
	log *zap.Logger
}

var _ http.Handler = (*HistoryHandler)(nil)

// NewHistory returns the history handler.
func NewHistory(r HistoryReader, log *zap.Logger) *HistoryHandler {
	return &HistoryHandler{r: r, log: log}
}

// Event is one history entry in the answer.
type Event struct {
	EventID        string `json:"eventId"`
	ItemID         string `json:"itemId"`
	Kind           string `json:"kind"`
	Status         string `json:"status"`
	ProviderStatus string `json:"providerStatus"`
	Version        int64  `json:"version"`
	OccurredAt     string `json:"occurredAt"`
	ReceivedAt     string `json:"receivedAt"`
	AppliedAt      string `json:"appliedAt"`
	StreamSequence uint64 `json:"streamSequence"`
	// CanonicalEventID is set only for applied entries.
	CanonicalEventID string `json:"canonicalEventId"`
}

// History is the answer.
type History struct {
	TenantID string  `json:"tenantId"`
	Provider string  `json:"provider"`
	OrderID  string  `json:"orderId"`
	Events   []Event `json:"events"`
}

// ServeHTTP answers 200 with the history, oldest first; 404 if the order is unknown.
func (h *HistoryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	provider, orderID := r.PathValue("provider"), r.PathValue("orderId")
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	entries, err := h.r.History(r.Context(), tenant, provider, orderID)
	if failed(w, h.log, "order history", tenant, provider, orderID, err) {
		return
	}
	out := History{TenantID: tenant, Provider: provider, OrderID: orderID, Events: make([]Event, len(entries))}
	for i, e := range entries {
		ev := Event{
			EventID: e.SourceEventID, ItemID: e.ItemID, Kind: string(e.Kind), Status: StatusName(e.Canonical),
			ProviderStatus: e.Status, Version: e.Version, OccurredAt: stamp(e.OccurredAt), AppliedAt: stamp(e.AppliedAt),
			StreamSequence: e.Seq,
		}
		if !e.ReceivedAt.IsZero() {
			ev.ReceivedAt = stamp(e.ReceivedAt)
		}
		if e.Kind == orders.Applied {
			ev.CanonicalEventID = events.EventID(provider, tenant, e.SourceEventID, e.ItemID)
		}
		out.Events[i] = ev
	}
	admin.WriteJSON(w, http.StatusOK, out)
}
