// Package query serves the order query API on the worker's admin port (contract section 7):
// GET /v1/orders/{provider}/{orderId} and its /history, optional X-Tenant-ID.
package query

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/admin"
	"github.com/hookline/hookline/pkg/config"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"go.uber.org/zap"
)

// Pattern is the route, in net/http ServeMux syntax.
const Pattern = "GET /v1/orders/{provider}/{orderId}"

// Reader reads an order's current state.
type Reader interface {
	Read(ctx context.Context, tenant, provider, orderID string) (orders.View, error)
}

var _ Reader = (*orders.Store)(nil)

// Handler serves Pattern.
type Handler struct {
	r   Reader
	log *zap.Logger
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler.
func New(r Reader, log *zap.Logger) *Handler { return &Handler{r: r, log: log} }

// Item is one order item in the answer.
type Item struct {
	Status         string `json:"status"`
	ProviderStatus string `json:"providerStatus"`
	Version        int64  `json:"version"`
	UpdatedAt      string `json:"updatedAt"`
}

// Order is the answer.
type Order struct {
	TenantID       string          `json:"tenantId"`
	Provider       string          `json:"provider"`
	OrderID        string          `json:"orderId"`
	Status         string          `json:"status"`
	ProviderStatus string          `json:"providerStatus"`
	Version        int64           `json:"version"`
	UpdatedAt      string          `json:"updatedAt"`
	Items          map[string]Item `json:"items"`
}

type problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StatusName is the canonical status without its ORDER_STATUS_ prefix: DELIVERED, UNSPECIFIED.
func StatusName(s ordersv1.OrderStatus) string {
	return strings.TrimPrefix(s.String(), "ORDER_STATUS_")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// tenantOf reads X-Tenant-ID (default tenant when absent); a malformed id answers 404.
func tenantOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	v := r.Header.Get("X-Tenant-ID")
	if strings.TrimSpace(v) == "" {
		return config.DefaultTenant, true
	}
	id, ok := config.NormalizeTenantID(v)
	if !ok {
		admin.WriteJSON(w, http.StatusNotFound, problem{Code: "unknown_tenant", Message: "no such tenant"})
	}
	return id, ok
}

// failed answers a read error (404, 503 or 500) and reports whether there was one.
func failed(w http.ResponseWriter, log *zap.Logger, what, tenant, provider, orderID string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, orders.ErrNotFound):
		admin.WriteJSON(w, http.StatusNotFound, problem{Code: "not_found", Message: "no such order"})
	case errors.Is(err, orders.ErrUnavailable):
		log.Warn(what, zap.String("provider", provider), zap.String("tenant", tenant), zap.String("order_id", orderID), zap.Error(err))
		w.Header().Set("Retry-After", "1")
		admin.WriteJSON(w, http.StatusServiceUnavailable, problem{Code: "unavailable", Message: "order store unavailable"})
	default:
		log.Error(what, zap.String("provider", provider), zap.String("tenant", tenant), zap.String("order_id", orderID), zap.Error(err))
		admin.WriteJSON(w, http.StatusInternalServerError, problem{Code: "internal", Message: "could not read the order"})
	}
	return true
}

// ServeHTTP answers 200 with the order, 404 if it is unknown.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	provider, orderID := r.PathValue("provider"), r.PathValue("orderId")
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	v, err := h.r.Read(r.Context(), tenant, provider, orderID)
	if failed(w, h.log, "order query", tenant, provider, orderID, err) {
		return
	}
	out := Order{
		TenantID: v.Tenant, Provider: v.Provider, OrderID: v.OrderID,
		Status: StatusName(v.Canonical), ProviderStatus: v.Status, Version: v.Version, UpdatedAt: stamp(v.UpdatedAt),
		Items: make(map[string]Item, len(v.Items)),
	}
	for id, it := range v.Items {
		out.Items[id] = Item{Status: StatusName(it.Canonical), ProviderStatus: it.Status, Version: it.Version, UpdatedAt: stamp(it.UpdatedAt)}
	}
	admin.WriteJSON(w, http.StatusOK, out)
}
