package bunjang

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/envelope"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/oklog/ulid/v2"
)

// Name is the provider's name: POST /webhooks/bunjang.
const Name = "bunjang"

// Provider is the Bunjang Open API provider (contract section 2).
type Provider struct{}

var _ providers.Provider = Provider{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// Knobs: HOOKLINE_BUNJANG_SECRETS, and HOOKLINE_BUNJANG_TOLERANCE (tenants file: tolerance), the
// signature timestamp window.
func (Provider) Knobs() providers.Knobs {
	return providers.Knobs{
		SecretsEnv:  "HOOKLINE_BUNJANG_SECRETS",
		Window:      providers.Window{Env: "HOOKLINE_BUNJANG_TOLERANCE", Key: "tolerance", Default: providers.DefaultTolerance},
		BenchWeight: 0.5,
	}
}

// Verifier checks X-Bun-Webhook-Signature: t=<unix>,v0=<hex HMAC-SHA256(secret, "<t>.<body>")>
// (several v0 entries), t within tolerance of now.
func (Provider) Verifier(secrets [][]byte, tolerance time.Duration, now providers.Clock) (providers.Verifier, error) {
	return NewVerifier(secrets, tolerance, now)
}

// Meta: the body carries the event id and type.
func (Provider) Meta(http.Header) providers.Meta { return providers.Meta{} }

// Parse implements providers.Provider with Parse.
func (Provider) Parse(body []byte, _ providers.Meta) (envelope.Envelope, error) { return Parse(body) }

// TenantKey: Bunjang has no tenant rule beyond X-Tenant-ID.
func (Provider) TenantKey(http.Header) string { return "" }

// SuccessStatus is 204.
func (Provider) SuccessStatus() int { return http.StatusNoContent }

// Lifecycle, per order item. The public docs name only PAYMENT_RECEIVED and SHIPPED; the rest
// is our assumption. CANCEL_REQUESTED has no canonical status of its own: it is published as
// UNSPECIFIED with the raw string.
func (Provider) Lifecycle() []providers.Row {
	return []providers.Row{
		{Status: "PAYMENT_RECEIVED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_APPROVED, Rank: 1},
		{Status: "SHIPPED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, Rank: 2, After: "PAYMENT_RECEIVED"},
		{Status: "DELIVERED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_DELIVERED, Rank: 3, After: "SHIPPED"},
		{Status: "PURCHASE_CONFIRMED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_COMPLETED, Rank: 4, Terminal: true, After: "DELIVERED"},
		{Status: "CANCEL_REQUESTED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED, Rank: 5, After: "PAYMENT_RECEIVED"},
		{Status: "CANCELLED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_CANCELLED, Rank: 6, Terminal: true, After: "CANCEL_REQUESTED", Aliases: []string{"CANCELED"}},
		{Status: "RETURN_REQUESTED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_RETURN_REQUESTED, Rank: 5, After: "DELIVERED"},
		{Status: "REFUNDED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_REFUNDED, Rank: 6, Terminal: true, After: "RETURN_REQUESTED"},
	}
}

// Walk is the main line bench sends.
func (Provider) Walk() []string {
	return []string{"PAYMENT_RECEIVED", "SHIPPED", "DELIVERED", "PURCHASE_CONFIRMED"}
}

// Sample builds an order.status.changed event. The event id is a ULID of At (a given id is used
// only when it is one); the order id is OrderKey when it is a number, else a number derived from
// it; items default to ItemCount (else one) ids derived from the order id.
func (Provider) Sample(s providers.SampleSpec) (providers.Sample, error) {
	at := s.At
	if at.IsZero() {
		at = time.Now()
	}
	id := s.EventID
	if _, ok := ULIDTime(id); !ok {
		id = ulid.MustNew(ulid.Timestamp(at), rand.Reader).String() // crypto/rand never fails on Linux
	}
	order := s.OrderKey
	var num uint64
	switch order {
	case "":
		num = uint64(at.UnixMilli() % 1_000_000_000)
	default:
		n, err := strconv.ParseUint(order, 10, 64)
		if err != nil {
			n = providers.KeyNumber(order) >> 16 // 48 bits: item ids (num*10+i) stay exact in a float64
		}
		num = n
	}
	status := s.Status
	if status == "" {
		status = "PAYMENT_RECEIVED"
	}
	items := s.Items
	if len(items) == 0 {
		for i := range max(1, s.ItemCount) {
			items = append(items, strconv.FormatUint(num*10+uint64(i)+1, 10))
		}
	}
	out := providers.Sample{EventID: id, OrderID: strconv.FormatUint(num, 10), Status: status}
	b := fmt.Appendf(nil, `{"eventId":%q,"eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":%d,"orderItems":[`, id, num)
	for i, it := range items {
		itemID, err := strconv.ParseUint(it, 10, 64)
		if err != nil {
			return providers.Sample{}, fmt.Errorf("%w: bunjang order item ids are numbers, got %q", envelope.ErrInvalidField, it)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"orderItemId":%d,"pid":%d,"orderStatus":%q}`, itemID, 500000+i, status)
		out.Items = append(out.Items, strconv.FormatUint(itemID, 10))
	}
	out.Body = append(b, "]}}"...)
	return out, nil
}

// Sign returns the X-Bun-Webhook-Signature header for now.
func (Provider) Sign(secret []byte, s providers.Sample, now time.Time) ([][2]string, error) {
	return [][2]string{{HeaderSignature, Sign(secret, now, s.Body)}}, nil
}
