package consumer

import (
	"errors"
	"fmt"
	"mime"

	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
)

// Decoding errors. Every one also matches ErrPoison.
var (
	// ErrPoison marks a message on ORDERS that is not a canonical event; it is never redelivered.
	ErrPoison = errors.New("poison message")
	// ErrContentType: the Content-Type header is missing or not application/protobuf.
	ErrContentType = errors.New("content type is not application/protobuf")
	// ErrDecode: the body is not a protobuf OrderStatusChanged.
	ErrDecode = errors.New("undecodable protobuf")
	// ErrInvalidEvent: the event decodes but lacks a field every canonical event has.
	ErrInvalidEvent = errors.New("invalid canonical event")
)

// Decode checks the Content-Type header and unmarshals a canonical OrderStatusChanged, which must
// carry event_id, tenant_id, provider and order_id. Unknown fields (a newer schema) are kept.
// Any error wraps ErrPoison and one of ErrContentType, ErrDecode or ErrInvalidEvent.
func Decode(header nats.Header, data []byte) (*ordersv1.OrderStatusChanged, error) {
	ct := header.Get(HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != ContentTypeProtobuf {
		return nil, fmt.Errorf("%w: %w: %q", ErrPoison, ErrContentType, ct)
	}
	ev := &ordersv1.OrderStatusChanged{}
	if err := proto.Unmarshal(data, ev); err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrPoison, ErrDecode, err)
	}
	for _, f := range []struct{ name, v string }{
		{"event_id", ev.GetEventId()},
		{"tenant_id", ev.GetTenantId()},
		{"provider", ev.GetProvider()},
		{"order_id", ev.GetOrderId()},
	} {
		if f.v == "" {
			return nil, fmt.Errorf("%w: %w: %s is empty", ErrPoison, ErrInvalidEvent, f.name)
		}
	}
	return ev, nil
}
