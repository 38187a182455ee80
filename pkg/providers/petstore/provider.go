package petstore

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/envelope"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

// Name is the provider's name: POST /webhooks/petstore.
const Name = "petstore"

// Provider is the Modern PetstoreAPI provider (contract section 2).
type Provider struct{}

var _ providers.Provider = Provider{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// Knobs: HOOKLINE_PETSTORE_SECRETS, and HOOKLINE_PETSTORE_MAX_AGE (tenants file: maxAge), the
// oldest body timestamp accepted.
func (Provider) Knobs() providers.Knobs {
	return providers.Knobs{
		SecretsEnv:  "HOOKLINE_PETSTORE_SECRETS",
		Window:      providers.Window{Env: "HOOKLINE_PETSTORE_MAX_AGE", Key: "maxAge", Default: 72 * time.Hour, BodyAge: true},
		BenchWeight: 0.5,
	}
}

// Verifier checks X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, rawBody)>. The window
// bounds the body timestamp instead (Knobs), so it is not used here.
func (Provider) Verifier(secrets [][]byte, _ time.Duration, _ providers.Clock) (providers.Verifier, error) {
	return NewVerifier(secrets)
}

// Meta: the body carries the event id and type.
func (Provider) Meta(http.Header) providers.Meta { return providers.Meta{} }

// Parse implements providers.Provider with Parse.
func (Provider) Parse(body []byte, _ providers.Meta) (envelope.Envelope, error) { return Parse(body) }

// TenantKey: Petstore has no tenant rule beyond X-Tenant-ID.
func (Provider) TenantKey(http.Header) string { return "" }

// SuccessStatus is 200.
func (Provider) SuccessStatus() int { return http.StatusOK }

// Lifecycle: PLACED → APPROVED → SHIPPED → DELIVERED; any non-terminal → CANCELLED.
// payment.succeeded means APPROVED.
func (Provider) Lifecycle() []providers.Row {
	return []providers.Row{
		{Status: "PLACED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_PLACED, Rank: 1},
		{Status: "APPROVED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_APPROVED, Rank: 2, After: "PLACED"},
		{Status: "SHIPPED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, Rank: 3, After: "APPROVED"},
		{Status: "DELIVERED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_DELIVERED, Rank: 4, Terminal: true, After: "SHIPPED"},
		{Status: "CANCELLED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_CANCELLED, Rank: 5, Terminal: true, Aliases: []string{"CANCELED"}},
	}
}

// Walk is the main line bench sends.
func (Provider) Walk() []string { return []string{"PLACED", "APPROVED", "SHIPPED", "DELIVERED"} }

// Sample builds an order.statusChanged event, or a payment.succeeded one (Type, or Alt for
// APPROVED).
func (Provider) Sample(s providers.SampleSpec) (providers.Sample, error) {
	at := s.At
	if at.IsZero() {
		at = time.Now()
	}
	order := s.OrderKey
	if order == "" {
		order = fmt.Sprintf("ord-%d", at.UnixNano())
	}
	status := s.Status
	if status == "" {
		status = "PLACED"
	}
	id := s.EventID
	if id == "" {
		id = fmt.Sprintf("evt-%s-%d", Name, at.UnixNano())
	}
	ts := at.UTC().Format(time.RFC3339)
	out := providers.Sample{EventID: id, OrderID: order, Status: status}
	if s.Type == "payment.succeeded" || (s.Type == "" && s.Alt && status == StatusApproved) {
		out.Status = StatusApproved
		out.Body = fmt.Appendf(nil, `{"eventId":%q,"eventType":"payment.succeeded","timestamp":%q,"data":{"payment":{"id":"pay-%s","amount":"125.50","currency":"USD","status":"SUCCEEDED"},"order":{"id":%q,"status":"APPROVED"}}}`,
			id, ts, id, order)
		return out, nil
	}
	out.Body = fmt.Appendf(nil, `{"eventId":%q,"eventType":"order.statusChanged","timestamp":%q,"data":{"order":{"id":%q,"status":%q,"totalAmount":"125.50","currency":"USD"},"newStatus":%q,"changedAt":%q,"changedBy":"hookline"}}`,
		id, ts, order, status, status, ts)
	return out, nil
}

// Sign returns the X-Webhook-Signature header.
func (Provider) Sign(secret []byte, s providers.Sample, _ time.Time) ([][2]string, error) {
	return [][2]string{{HeaderSignature, Sign(secret, s.Body)}}, nil
}
