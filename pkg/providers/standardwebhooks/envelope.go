// Package standardwebhooks is the provider of every other configured source, signed with
// Standard Webhooks: its envelope parser, used by both the ingress check and the worker decode.
package standardwebhooks

import (
	"fmt"

	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/internal/jsonscan"
)

// Parse checks a Standard Webhooks body: any JSON object, whose `type` (a string, optional) is
// the event type; the event id is the webhook-id header, used verbatim. For
// `order.status.changed` the `data` object is required, with `data.orderId` (a string or an
// integer) and `data.status` (else `data.newStatus`); the occurrence time is `data.changedAt`,
// else `timestamp`. Other types, or none, are KindOther.
func Parse(body []byte, webhookID string) (envelope.Envelope, error) {
	f, err := jsonscan.Top(body, "type", "timestamp", "data")
	if err != nil {
		return envelope.Envelope{}, err
	}
	typ, err := jsonscan.OptString(f[0], "type")
	switch {
	case err != nil:
		return envelope.Envelope{}, err
	case !envelope.ValidEventID(webhookID):
		return envelope.Envelope{}, fmt.Errorf("%w: webhook-id", envelope.ErrInvalidField)
	case !envelope.ValidHeaderValue(typ):
		return envelope.Envelope{}, fmt.Errorf("%w: type", envelope.ErrInvalidField)
	}
	env := envelope.Envelope{EventID: webhookID, EventType: typ}
	if !jsonscan.TypeIs(typ, "orderstatuschanged") {
		return env, nil
	}
	env.Kind = envelope.KindStatusChanged
	isObject, err := jsonscan.Object(f[2], "data")
	switch {
	case err != nil:
		return envelope.Envelope{}, err
	case !isObject:
		return envelope.Envelope{}, fmt.Errorf("%w: data", envelope.ErrMissingField)
	}
	d, err := jsonscan.Fields(f[2], "data.", "orderId", "status", "newStatus", "changedAt")
	if err != nil {
		return envelope.Envelope{}, err
	}
	if env.OrderID, err = jsonscan.ID(d[0], "data.orderId"); err != nil {
		return envelope.Envelope{}, err
	}
	if env.OrderID == "" {
		return envelope.Envelope{}, fmt.Errorf("%w: data.orderId", envelope.ErrMissingField)
	}
	status, err := jsonscan.Status(d[1], "data.status")
	if err != nil {
		return envelope.Envelope{}, err
	}
	newStatus, err := jsonscan.Status(d[2], "data.newStatus")
	if err != nil {
		return envelope.Envelope{}, err
	}
	if status == "" {
		status = newStatus
	}
	if status == "" {
		return envelope.Envelope{}, fmt.Errorf("%w: data.status", envelope.ErrMissingField)
	}
	env.Changes = []envelope.Change{{Status: status}}
	if env.OccurredAt, err = jsonscan.FirstTime([]string{"data.changedAt", "timestamp"}, d[3], f[1]); err != nil {
		return envelope.Envelope{}, err
	}
	return env, nil
}
