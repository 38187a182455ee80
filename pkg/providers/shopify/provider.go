package shopify

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/envelope"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

// Name is the provider's name: POST /webhooks/shopify.
const Name = "shopify"

// Headers Shopify sends besides the signature.
const (
	HeaderTopic       = "X-Shopify-Topic"
	HeaderWebhookID   = "X-Shopify-Webhook-Id"
	HeaderShopDomain  = "X-Shopify-Shop-Domain"
	HeaderTriggeredAt = "X-Shopify-Triggered-At"
)

// Provider is the Shopify provider.
type Provider struct{}

var _ providers.Provider = Provider{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// Knobs: HOOKLINE_SHOPIFY_SECRETS; no window; the tenants file lists each tenant's shops.
func (Provider) Knobs() providers.Knobs {
	return providers.Knobs{SecretsEnv: "HOOKLINE_SHOPIFY_SECRETS", TenantKeys: "shops"}
}

// Verifier checks X-Shopify-Hmac-Sha256 (base64, not hex); no timestamp is signed.
func (Provider) Verifier(secrets [][]byte, _ time.Duration, _ providers.Clock) (providers.Verifier, error) {
	return newVerifier(secrets)
}

// Meta: the webhook id is the idempotency key, the topic the event type.
func (Provider) Meta(h http.Header) providers.Meta {
	return providers.Meta{EventID: strings.TrimSpace(h.Get(HeaderWebhookID)), EventType: strings.TrimSpace(h.Get(HeaderTopic))}
}

// Parse implements providers.Provider with Parse.
func (Provider) Parse(body []byte, m providers.Meta) (envelope.Envelope, error) {
	return Parse(body, m)
}

// TenantKey is the shop domain, lower case: the tenant whose shops list holds it.
func (Provider) TenantKey(h http.Header) string {
	return strings.ToLower(strings.TrimSpace(h.Get(HeaderShopDomain)))
}

// SuccessStatus is 200.
func (Provider) SuccessStatus() int { return http.StatusOK }

// Lifecycle, per order: PLACED → APPROVED → SHIPPED; any non-terminal → CANCELLED or REFUNDED
// (terminal). The topics are the provider statuses; orders/updated bodies derive to the lower
// case names (placed, paid, fulfilled, cancelled, refunded), which rank with their topics.
func (Provider) Lifecycle() []providers.Row {
	const (
		placed    = ordersv1.OrderStatus_ORDER_STATUS_PLACED
		approved  = ordersv1.OrderStatus_ORDER_STATUS_APPROVED
		shipped   = ordersv1.OrderStatus_ORDER_STATUS_SHIPPED
		cancelled = ordersv1.OrderStatus_ORDER_STATUS_CANCELLED
		refunded  = ordersv1.OrderStatus_ORDER_STATUS_REFUNDED
	)
	return []providers.Row{
		{Status: "ORDERS/CREATE", Spelling: TopicCreate, Canonical: placed, Rank: 1},
		{Status: "PLACED", Spelling: derivedPlaced, Canonical: placed, Rank: 1},
		{Status: "ORDERS/PAID", Spelling: TopicPaid, Canonical: approved, Rank: 2, After: "ORDERS/CREATE"},
		{Status: "PAID", Spelling: derivedPaid, Canonical: approved, Rank: 2, After: "ORDERS/CREATE"},
		{Status: "ORDERS/FULFILLED", Spelling: TopicFulfilled, Canonical: shipped, Rank: 3, After: "ORDERS/PAID"},
		{Status: "FULFILLED", Spelling: derivedFulfilled, Canonical: shipped, Rank: 3, After: "ORDERS/PAID"},
		{Status: "ORDERS/CANCELLED", Spelling: TopicCancelled, Canonical: cancelled, Rank: 4, Terminal: true},
		{Status: "CANCELLED", Spelling: derivedCancelled, Canonical: cancelled, Rank: 4, Terminal: true, Aliases: []string{"CANCELED"}},
		{Status: "REFUNDED", Spelling: derivedRefunded, Canonical: refunded, Rank: 4, Terminal: true},
	}
}

// Walk is the main line bench sends, as canonical names (Sample maps them to topics).
func (Provider) Walk() []string { return []string{"PLACED", "APPROVED", "SHIPPED"} }

// topicFor maps a canonical status (or a topic) to the topic and body fields a sample sends.
func topicFor(status string) (topic, financial, fulfillment string, cancelled bool, ok bool) {
	switch strings.ToUpper(status) {
	case "", "PLACED", "ORDERS/CREATE":
		return TopicCreate, "pending", "", false, true
	case "APPROVED", "PAID", "ORDERS/PAID":
		return TopicPaid, "paid", "", false, true
	case "SHIPPED", "FULFILLED", "ORDERS/FULFILLED":
		return TopicFulfilled, "paid", "fulfilled", false, true
	case "CANCELLED", "ORDERS/CANCELLED":
		return TopicCancelled, "voided", "", true, true
	case "REFUNDED":
		return TopicUpdated, "refunded", "", false, true
	}
	return "", "", "", false, false
}

// Sample builds an order webhook: PLACED (orders/create), APPROVED (orders/paid), SHIPPED
// (orders/fulfilled), CANCELLED (orders/cancelled) or REFUNDED (orders/updated with
// financial_status refunded); a Type sends that topic with the status's body. The order id is
// OrderKey when it is a number, else a number derived from it.
func (Provider) Sample(s providers.SampleSpec) (providers.Sample, error) {
	at := s.At
	if at.IsZero() {
		at = time.Now()
	}
	topic, fin, ful, cancelled, ok := topicFor(s.Status)
	if !ok {
		return providers.Sample{}, fmt.Errorf("%w: shopify sample status %q (want PLACED, APPROVED, SHIPPED, CANCELLED or REFUNDED)", envelope.ErrInvalidField, s.Status)
	}
	if s.Type != "" {
		topic = s.Type
	}
	var num uint64
	if s.OrderKey == "" {
		num = uint64(at.UnixNano() / 1000 % 1_000_000_000_000)
	} else if n, err := strconv.ParseUint(s.OrderKey, 10, 64); err == nil {
		num = n
	} else {
		num = providers.KeyNumber(s.OrderKey) >> 12
	}
	id := s.EventID
	if id == "" {
		id = fmt.Sprintf("wh-%d", at.UnixNano())
	}
	ts := at.Format(time.RFC3339)
	b := fmt.Appendf(nil, `{"id":%d,"admin_graphql_api_id":"gid://shopify/Order/%d","name":"#%d","created_at":%q,"updated_at":%q,"currency":"USD","total_price":"125.50","financial_status":%q,"fulfillment_status":`,
		num, num, num%100000, ts, ts, fin)
	if ful == "" {
		b = append(b, "null"...)
	} else {
		b = fmt.Appendf(b, "%q", ful)
	}
	if cancelled {
		b = fmt.Appendf(b, `,"cancelled_at":%q,"cancel_reason":"customer"}`, ts)
	} else {
		b = append(b, `,"cancelled_at":null}`...)
	}
	env, err := Parse(b, providers.Meta{EventID: id, EventType: topic})
	if err != nil {
		return providers.Sample{}, err
	}
	out := providers.Sample{Body: b, EventID: id, OrderID: env.OrderID,
		Headers: [][2]string{{HeaderTopic, topic}, {HeaderWebhookID, id}, {HeaderTriggeredAt, at.UTC().Format(time.RFC3339Nano)}}}
	if len(env.Changes) == 1 {
		out.Status = env.Changes[0].Status
	}
	if s.Shop != "" {
		out.Headers = append(out.Headers, [2]string{HeaderShopDomain, s.Shop})
	}
	return out, nil
}

// Sign returns the X-Shopify-Hmac-Sha256 header.
func (Provider) Sign(secret []byte, s providers.Sample, _ time.Time) ([][2]string, error) {
	return [][2]string{{HeaderSignature, Sign(secret, s.Body)}}, nil
}
