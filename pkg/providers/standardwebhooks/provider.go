package standardwebhooks

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/envelope"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

// Name is what the CLI calls this provider (`hookline send standard -source acme`); its webhooks
// arrive under each configured source's own name.
const Name = "standard"

// Provider serves every source of the tenants file (contract section 2, "Any other configured
// source"): the webhook-* headers, or their svix-* aliases.
type Provider struct{}

var _ providers.Provider = Provider{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// Knobs: sources are configured in the tenants file only (sources:, with tolerance).
func (Provider) Knobs() providers.Knobs {
	return providers.Knobs{Window: providers.Window{Key: "tolerance", Default: providers.DefaultTolerance}}
}

// Verifier checks the Standard Webhooks signature (signature.go), svix-* names included.
func (Provider) Verifier(secrets [][]byte, tolerance time.Duration, now providers.Clock) (providers.Verifier, error) {
	return NewVerifier(secrets, tolerance, now)
}

// Meta: the event id is webhook-id (else svix-id); the type is in the body.
func (Provider) Meta(h http.Header) providers.Meta {
	return providers.Meta{EventID: ID(h)}
}

// Parse implements providers.Provider with Parse.
func (Provider) Parse(body []byte, m providers.Meta) (envelope.Envelope, error) {
	return Parse(body, m.EventID)
}

// TenantKey: a source has a fixed tenant.
func (Provider) TenantKey(http.Header) string { return "" }

// SuccessStatus is 204.
func (Provider) SuccessStatus() int { return http.StatusNoContent }

// Lifecycle of extra Standard Webhooks sources, which the contract leaves open: the canonical
// names themselves. PLACED → APPROVED → SHIPPED → DELIVERED → COMPLETED;
// DELIVERED → RETURN_REQUESTED → REFUNDED; any non-terminal → CANCELLED.
func (Provider) Lifecycle() []providers.Row {
	return []providers.Row{
		{Status: "PLACED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_PLACED, Rank: 1},
		{Status: "APPROVED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_APPROVED, Rank: 2, After: "PLACED"},
		{Status: "SHIPPED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, Rank: 3, After: "APPROVED"},
		{Status: "DELIVERED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_DELIVERED, Rank: 4, After: "SHIPPED"},
		{Status: "COMPLETED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_COMPLETED, Rank: 5, Terminal: true, After: "DELIVERED"},
		{Status: "RETURN_REQUESTED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_RETURN_REQUESTED, Rank: 5, After: "DELIVERED"},
		{Status: "REFUNDED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_REFUNDED, Rank: 6, Terminal: true, After: "RETURN_REQUESTED"},
		{Status: "CANCELLED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_CANCELLED, Rank: 6, Terminal: true, Aliases: []string{"CANCELED"}},
	}
}

// Walk is the main line bench sends.
func (Provider) Walk() []string {
	return []string{"PLACED", "APPROVED", "SHIPPED", "DELIVERED", "COMPLETED"}
}

// Sample builds an order.status.changed event; its id travels in webhook-id.
func (Provider) Sample(s providers.SampleSpec) (providers.Sample, error) {
	at := s.At
	if at.IsZero() {
		at = time.Now()
	}
	order := s.OrderKey
	if order == "" {
		order = fmt.Sprintf("A-%d", at.UnixNano()%1_000_000)
	}
	status := s.Status
	if status == "" {
		status = "PLACED"
	}
	id := s.EventID
	if id == "" {
		id = fmt.Sprintf("msg-%d", at.UnixNano())
	}
	return providers.Sample{
		Body:    fmt.Appendf(nil, `{"type":"order.status.changed","data":{"orderId":%q,"status":%q}}`, order, status),
		EventID: id, OrderID: order, Status: status,
	}, nil
}

// Sign returns the webhook-id, webhook-timestamp and webhook-signature headers; secret is the
// configured one (whsec_<base64> or raw bytes).
func (Provider) Sign(secret []byte, s providers.Sample, now time.Time) ([][2]string, error) {
	key, err := Key(secret)
	if err != nil {
		return nil, fmt.Errorf("standard webhooks secret: %w", err)
	}
	return [][2]string{
		{HeaderID, s.EventID},
		{HeaderTimestamp, strconv.FormatInt(now.Unix(), 10)},
		{HeaderSignature, Sign(key, s.EventID, now, s.Body)},
	}, nil
}
