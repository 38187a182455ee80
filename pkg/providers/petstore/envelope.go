// Package petstore is the Modern PetstoreAPI provider: its envelope parser, used by both the
// ingress check and the worker decode.
package petstore

import (
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/internal/jsonscan"
)

// StatusApproved is the status a `payment.succeeded` event means.
const StatusApproved = "APPROVED"

// Parse checks a Petstore envelope (contract section 2) and reads what the pipeline needs:
// `eventId` (or `id`, from older doc pages: a string), `eventType` (required; `type` is not read),
// `timestamp` (RFC 3339, required), and for `order.statusChanged` and `payment.succeeded` the
// order id and status from the required `data` object. Any other event type is KindOther: stored,
// acknowledged and not acted on.
func Parse(body []byte) (envelope.Envelope, error) {
	f, err := jsonscan.Top(body, "eventId", "id", "eventType", "timestamp", "data")
	if err != nil {
		return envelope.Envelope{}, err
	}
	var env envelope.Envelope
	if env.EventID, err = eventID(f[0], f[1]); err != nil {
		return envelope.Envelope{}, err
	}
	typ, err := jsonscan.OptString(f[2], "eventType")
	switch {
	case err != nil:
		return envelope.Envelope{}, err
	case typ == "":
		return envelope.Envelope{}, fmt.Errorf("%w: eventType", envelope.ErrMissingField)
	case !envelope.ValidHeaderValue(typ):
		return envelope.Envelope{}, fmt.Errorf("%w: eventType", envelope.ErrInvalidField)
	}
	env.EventType = typ
	ts, err := jsonscan.OptString(f[3], "timestamp")
	switch {
	case err != nil:
		return envelope.Envelope{}, err
	case ts == "":
		return envelope.Envelope{}, fmt.Errorf("%w: timestamp", envelope.ErrMissingField)
	}
	if env.Timestamp, err = time.Parse(time.RFC3339, ts); err != nil {
		return envelope.Envelope{}, fmt.Errorf("%w: timestamp is not RFC 3339", envelope.ErrInvalidField)
	}
	isObject, err := jsonscan.Object(f[4], "data")
	if err != nil {
		return envelope.Envelope{}, err
	}
	switch {
	case jsonscan.TypeIs(typ, "orderstatuschanged"):
		env.Kind = envelope.KindStatusChanged
	case jsonscan.TypeIs(typ, "paymentsucceeded"):
		env.Kind = envelope.KindPaymentSucceeded
	default:
		return env, nil
	}
	if !isObject {
		return envelope.Envelope{}, fmt.Errorf("%w: data", envelope.ErrMissingField)
	}
	if err := readData(&env, f[4]); err != nil {
		return envelope.Envelope{}, err
	}
	return env, nil
}

// eventID: `eventId`, else `id`; a string used verbatim.
func eventID(eventID, legacy []byte) (string, error) {
	id, err := jsonscan.OptString(eventID, "eventId")
	if err != nil {
		return "", err
	}
	if id == "" {
		if id, err = jsonscan.OptString(legacy, "id"); err != nil {
			return "", err
		}
	}
	switch {
	case id == "":
		return "", fmt.Errorf("%w: eventId", envelope.ErrMissingField)
	case !envelope.ValidEventID(id):
		return "", fmt.Errorf("%w: eventId", envelope.ErrInvalidField)
	}
	return id, nil
}

// readData reads the order id, the status and the occurrence time. `order.statusChanged`
// trusts newStatus (then data.status, then the order object's status) and changedAt, never
// previousStatus; `payment.succeeded` means APPROVED.
func readData(env *envelope.Envelope, data []byte) error {
	d, err := jsonscan.Fields(data, "data.", "order", "orderId", "newStatus", "status", "changedAt", "payment")
	if err != nil {
		return err
	}
	order, orderID, newStatus, status, changedAt, payment := d[0], d[1], d[2], d[3], d[4], d[5]
	var orderIDRaw, orderStatusRaw []byte
	if ok, err := jsonscan.Object(order, "data.order"); err != nil {
		return err
	} else if ok {
		o, err := jsonscan.Fields(order, "data.order.", "id", "status")
		if err != nil {
			return err
		}
		orderIDRaw, orderStatusRaw = o[0], o[1]
	}
	ids := [][]byte{orderIDRaw, orderID}
	idNames := []string{"data.order.id", "data.orderId"}
	var occurred time.Time
	if env.Kind == envelope.KindPaymentSucceeded {
		var paymentOrder, paidAt []byte
		if ok, err := jsonscan.Object(payment, "data.payment"); err != nil {
			return err
		} else if ok {
			p, err := jsonscan.Fields(payment, "data.payment.", "orderId", "paidAt")
			if err != nil {
				return err
			}
			paymentOrder, paidAt = p[0], p[1]
		}
		ids, idNames = append(ids, paymentOrder), append(idNames, "data.payment.orderId")
		if occurred, err = jsonscan.FirstTime([]string{"data.changedAt", "data.payment.paidAt"}, changedAt, paidAt); err != nil {
			return err
		}
		env.Changes = []envelope.Change{{Status: StatusApproved}}
	} else {
		var st string
		for i, raw := range [][]byte{newStatus, status, orderStatusRaw} {
			s, err := jsonscan.Status(raw, [...]string{"data.newStatus", "data.status", "data.order.status"}[i])
			if err != nil {
				return err
			}
			if st == "" {
				st = s
			}
		}
		if st == "" {
			return fmt.Errorf("%w: data.newStatus", envelope.ErrMissingField)
		}
		if occurred, err = jsonscan.Time(changedAt, "data.changedAt"); err != nil {
			return err
		}
		env.Changes = []envelope.Change{{Status: st}}
	}
	for i, raw := range ids {
		id, err := jsonscan.ID(raw, idNames[i])
		if err != nil {
			return err
		}
		if env.OrderID == "" {
			env.OrderID = id
		}
	}
	if env.OrderID == "" {
		return fmt.Errorf("%w: data.order.id", envelope.ErrMissingField)
	}
	env.OccurredAt = occurred
	if occurred.IsZero() {
		env.OccurredAt = env.Timestamp
	}
	return nil
}
