// Package shopify is the Shopify order webhooks provider (contract section 2 `shopify`): the
// base64 HMAC signature, the topic and webhook id headers, the tenant by shop domain, the status
// rules and the lifecycle, and samples for `hookline send shopify` and `hookline bench`.
package shopify

import (
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/internal/jsonscan"
)

// Topics the pipeline acts on; any other topic is stored, acknowledged and counted `unknown`.
const (
	TopicCreate    = "orders/create"
	TopicPaid      = "orders/paid"
	TopicFulfilled = "orders/fulfilled"
	TopicCancelled = "orders/cancelled"
	TopicUpdated   = "orders/updated"
)

// The statuses an orders/updated body derives to, as published (lower case).
const (
	derivedCancelled = "cancelled"
	derivedRefunded  = "refunded"
	derivedFulfilled = "fulfilled"
	derivedPaid      = "paid"
	derivedPlaced    = "placed"
)

// Parse checks a Shopify order webhook. The headers (Meta) must name the webhook id (the event
// id) and the topic (the event type). For the order topics the body is the order object:
// `id` a JSON integer (the order id is its decimal text), `updated_at` an ISO 8601 time with an
// offset (the occurrence time); `cancelled_at`, `financial_status` and `fulfillment_status` are
// read by orders/updated. Any other topic is KindOther and needs only a JSON object.
func Parse(body []byte, m providers.Meta) (envelope.Envelope, error) {
	f, err := jsonscan.Top(body, "id", "updated_at", "cancelled_at", "financial_status", "fulfillment_status")
	if err != nil {
		return envelope.Envelope{}, err
	}
	switch {
	case m.EventID == "":
		return envelope.Envelope{}, fmt.Errorf("%w: X-Shopify-Webhook-Id", envelope.ErrMissingField)
	case !envelope.ValidEventID(m.EventID):
		return envelope.Envelope{}, fmt.Errorf("%w: X-Shopify-Webhook-Id", envelope.ErrInvalidField)
	case m.EventType == "":
		return envelope.Envelope{}, fmt.Errorf("%w: X-Shopify-Topic", envelope.ErrMissingField)
	case !envelope.ValidHeaderValue(m.EventType):
		return envelope.Envelope{}, fmt.Errorf("%w: X-Shopify-Topic", envelope.ErrInvalidField)
	}
	env := envelope.Envelope{EventID: m.EventID, EventType: m.EventType}
	topic := strings.ToLower(strings.TrimSpace(m.EventType))
	switch topic {
	case TopicCreate, TopicPaid, TopicFulfilled, TopicCancelled, TopicUpdated:
	default:
		return env, nil
	}
	env.Kind = envelope.KindStatusChanged
	if f[0] != nil && f[0][0] == '"' {
		return envelope.Envelope{}, fmt.Errorf("%w: id is not a number", envelope.ErrInvalidField)
	}
	if env.OrderID, err = jsonscan.IntegerID(f[0], "id"); err != nil {
		return envelope.Envelope{}, err
	}
	if env.OrderID == "" {
		return envelope.Envelope{}, fmt.Errorf("%w: id", envelope.ErrMissingField)
	}
	updated, err := jsonscan.OptString(f[1], "updated_at")
	switch {
	case err != nil:
		return envelope.Envelope{}, err
	case updated == "":
		return envelope.Envelope{}, fmt.Errorf("%w: updated_at", envelope.ErrMissingField)
	}
	if env.OccurredAt, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return envelope.Envelope{}, fmt.Errorf("%w: updated_at is not ISO 8601 with an offset", envelope.ErrInvalidField)
	}
	status := topic
	if topic == TopicUpdated {
		if status, err = derive(f[2], f[3], f[4]); err != nil {
			return envelope.Envelope{}, err
		}
	}
	env.Changes = []envelope.Change{{Status: status}}
	return env, nil
}

// derive is the status of an orders/updated body: cancelled_at set → cancelled; else
// financial_status refunded → refunded; else fulfillment_status fulfilled → fulfilled; else
// financial_status paid → paid; else placed.
func derive(cancelledAt, financial, fulfillment []byte) (string, error) {
	cancelled, err := jsonscan.OptString(cancelledAt, "cancelled_at")
	if err != nil {
		return "", err
	}
	fin, err := jsonscan.Status(financial, "financial_status")
	if err != nil {
		return "", err
	}
	ful, err := jsonscan.Status(fulfillment, "fulfillment_status")
	if err != nil {
		return "", err
	}
	switch {
	case cancelled != "":
		return derivedCancelled, nil
	case strings.EqualFold(fin, "refunded"):
		return derivedRefunded, nil
	case strings.EqualFold(ful, "fulfilled"):
		return derivedFulfilled, nil
	case strings.EqualFold(fin, "paid"):
		return derivedPaid, nil
	}
	return derivedPlaced, nil
}
