package query

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"go.uber.org/zap"
)

// fakeReader answers from a map keyed tenant/provider/order, or with err.
type fakeReader struct {
	views map[string]orders.View
	err   error
}

func (f fakeReader) Read(_ context.Context, tenant, provider, orderID string) (orders.View, error) {
	if f.err != nil {
		return orders.View{}, f.err
	}
	v, ok := f.views[tenant+"/"+provider+"/"+orderID]
	if !ok {
		return orders.View{}, orders.ErrNotFound
	}
	return v, nil
}

func TestServeHTTP(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 600000000, time.UTC)
	const uuid = "4f9a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c"
	reader := fakeReader{views: map[string]orders.View{
		"default/petstore/o-1": {Tenant: "default", Provider: "petstore", OrderID: "o-1",
			State: orders.State{Status: "DELIVERED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_DELIVERED, Version: 4, UpdatedAt: at}},
		uuid + "/bunjang/100": {Tenant: uuid, Provider: "bunjang", OrderID: "100",
			State: orders.State{Status: "ODD", Canonical: ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED, Version: 2, UpdatedAt: at},
			Items: map[string]orders.State{"1001": {Status: "ODD", Version: 2, UpdatedAt: at}}},
	}}
	tests := []struct {
		name     string
		reader   fakeReader
		path     string
		tenant   string
		wantCode int
		wantBody string
	}{
		{"petstore", reader, "/v1/orders/petstore/o-1", "", 200,
			`{"tenantId":"default","provider":"petstore","orderId":"o-1","status":"DELIVERED","providerStatus":"DELIVERED","version":4,"updatedAt":"2025-01-02T03:04:05.6Z","items":{}}`},
		{"bunjang with tenant", reader, "/v1/orders/bunjang/100", strings.ToUpper(uuid), 200,
			`{"tenantId":"` + uuid + `","provider":"bunjang","orderId":"100","status":"UNSPECIFIED","providerStatus":"ODD","version":2,"updatedAt":"2025-01-02T03:04:05.6Z","items":{"1001":{"status":"UNSPECIFIED","providerStatus":"ODD","version":2,"updatedAt":"2025-01-02T03:04:05.6Z"}}}`},
		{"unknown order", reader, "/v1/orders/petstore/o-2", "", 404, `{"code":"not_found","message":"no such order"}`},
		{"invalid tenant", reader, "/v1/orders/petstore/o-1", "acme", 404, `{"code":"unknown_tenant","message":"no such tenant"}`},
		{"redis down", fakeReader{err: orders.ErrUnavailable}, "/v1/orders/petstore/o-1", "", 503, `{"code":"unavailable","message":"order store unavailable"}`},
		{"bad data", fakeReader{err: errors.New("boom")}, "/v1/orders/petstore/o-1", "", 500, `{"code":"internal","message":"could not read the order"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle(Pattern, New(tt.reader, zap.NewNop()))
			checkGet(t, mux, tt.path, tt.tenant, tt.wantCode, tt.wantBody)
		})
	}
}

// fakeHistory answers from a map keyed tenant/provider/order, or with err.
type fakeHistory struct {
	entries map[string][]orders.Entry
	err     error
}

func (f fakeHistory) History(_ context.Context, tenant, provider, orderID string) ([]orders.Entry, error) {
	if f.err != nil {
		return nil, f.err
	}
	e, ok := f.entries[tenant+"/"+provider+"/"+orderID]
	if !ok {
		return nil, orders.ErrNotFound
	}
	return e, nil
}

func TestServeHistory(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 600000000, time.UTC)
	const uuid = "4f9a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c"
	reader := fakeHistory{entries: map[string][]orders.Entry{
		"default/petstore/o-1": {
			{SourceEventID: "e-1", Kind: orders.Applied, Status: "SHIPPED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_SHIPPED,
				Version: 1, Seq: 7, OccurredAt: at, ReceivedAt: at.Add(time.Second), AppliedAt: at.Add(2 * time.Second)},
			{SourceEventID: "e-1", Kind: orders.Duplicate, Status: "SHIPPED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_SHIPPED,
				Version: 1, Seq: 7, OccurredAt: at, AppliedAt: at.Add(3 * time.Second)},
		},
		uuid + "/bunjang/100": {
			{SourceEventID: "01K0", ItemID: "1001", Kind: orders.Applied, Status: "PAYMENT_RECEIVED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_APPROVED,
				Version: 1, Seq: 3, OccurredAt: at, ReceivedAt: at, AppliedAt: at},
		},
		"default/petstore/empty": {},
	}}
	tests := []struct {
		name     string
		reader   fakeHistory
		path     string
		tenant   string
		wantCode int
		wantBody string
	}{
		{"petstore applied then duplicate", reader, "/v1/orders/petstore/o-1/history", "", 200,
			`{"tenantId":"default","provider":"petstore","orderId":"o-1","events":[` +
				`{"eventId":"e-1","itemId":"","kind":"applied","status":"SHIPPED","providerStatus":"SHIPPED","version":1,"occurredAt":"2025-01-02T03:04:05.6Z","receivedAt":"2025-01-02T03:04:06.6Z","appliedAt":"2025-01-02T03:04:07.6Z","streamSequence":7,"canonicalEventId":"petstore:default:e-1"},` +
				`{"eventId":"e-1","itemId":"","kind":"duplicate","status":"SHIPPED","providerStatus":"SHIPPED","version":1,"occurredAt":"2025-01-02T03:04:05.6Z","receivedAt":"","appliedAt":"2025-01-02T03:04:08.6Z","streamSequence":7,"canonicalEventId":""}]}`},
		{"bunjang item with tenant", reader, "/v1/orders/bunjang/100/history", strings.ToUpper(uuid), 200,
			`{"tenantId":"` + uuid + `","provider":"bunjang","orderId":"100","events":[` +
				`{"eventId":"01K0","itemId":"1001","kind":"applied","status":"APPROVED","providerStatus":"PAYMENT_RECEIVED","version":1,"occurredAt":"2025-01-02T03:04:05.6Z","receivedAt":"2025-01-02T03:04:05.6Z","appliedAt":"2025-01-02T03:04:05.6Z","streamSequence":3,"canonicalEventId":"bunjang:` + uuid + `:01K0:1001"}]}`},
		{"known order, history expired", reader, "/v1/orders/petstore/empty/history", "", 200,
			`{"tenantId":"default","provider":"petstore","orderId":"empty","events":[]}`},
		{"unknown order", reader, "/v1/orders/petstore/o-2/history", "", 404, `{"code":"not_found","message":"no such order"}`},
		{"other tenant", reader, "/v1/orders/petstore/o-1/history", uuid, 404, `{"code":"not_found","message":"no such order"}`},
		{"invalid tenant", reader, "/v1/orders/petstore/o-1/history", "acme", 404, `{"code":"unknown_tenant","message":"no such tenant"}`},
		{"redis down", fakeHistory{err: orders.ErrUnavailable}, "/v1/orders/petstore/o-1/history", "", 503, `{"code":"unavailable","message":"order store unavailable"}`},
		{"bad data", fakeHistory{err: errors.New("boom")}, "/v1/orders/petstore/o-1/history", "", 500, `{"code":"internal","message":"could not read the order"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle(Pattern, New(fakeReader{}, zap.NewNop()))
			mux.Handle(HistoryPattern, NewHistory(tt.reader, zap.NewNop()))
			checkGet(t, mux, tt.path, tt.tenant, tt.wantCode, tt.wantBody)
		})
	}
}

// checkGet serves GET path (with X-Tenant-ID tenant unless empty) and checks the JSON answer.
func checkGet(t *testing.T, h http.Handler, path, tenant string, wantCode int, wantBody string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if tenant != "" {
		req.Header.Set("X-Tenant-ID", tenant)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != wantCode || strings.TrimSpace(rec.Body.String()) != wantBody ||
		rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s = %d %s %s\nwant %d %s", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body, wantCode, wantBody)
	}
}
