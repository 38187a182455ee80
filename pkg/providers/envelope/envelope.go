// Package envelope is what every provider's envelope parser returns: the fields the pipeline
// reads from a webhook body, already checked. The ingress answers 2xx only for a body its
// provider's Parse accepts, and the worker decodes with the same Parse, so the two cannot
// disagree on what is a valid event.
package envelope

import (
	"errors"
	"time"
)

// Errors of a Parse, each wrapped with the field's name (never its content).
var (
	ErrNotJSON      = errors.New("body is not a JSON object")
	ErrMissingField = errors.New("required field missing")
	ErrInvalidField = errors.New("field has an invalid value")
	// ErrDuplicateKey: a field the pipeline reads appears twice in one object; which one counts
	// would be a guess.
	ErrDuplicateKey = errors.New("duplicate field")
)

// MaxIDLen bounds event, order and item ids, which end up in message ids, headers and Redis keys.
const MaxIDLen = 256

// Kind is what the pipeline does with an event type.
type Kind uint8

const (
	// KindOther is an event type the pipeline stores and acknowledges but does not act on.
	KindOther Kind = iota
	// KindStatusChanged is an order (or order item) status change.
	KindStatusChanged
	// KindPaymentSucceeded is a Petstore payment: the order is APPROVED.
	KindPaymentSucceeded
)

// Change is one status change of an order, or of one order item.
type Change struct {
	ItemID string // the order item (Bunjang); empty for a whole order
	Status string // the provider's status string as sent, without surrounding spaces
}

// Envelope is a checked webhook body. For KindOther only EventID, EventType and Timestamp are
// set.
type Envelope struct {
	EventID   string
	EventType string
	Kind      Kind
	// Timestamp is the body's own send time (Petstore `timestamp`), zero when the provider has
	// none; the ingress bounds its age.
	Timestamp time.Time
	OrderID   string
	Changes   []Change
	// OccurredAt is when the change happened, zero when the body does not say.
	OccurredAt time.Time
}

// ValidEventID reports whether s can be an event id: 1 to MaxIDLen printable ASCII characters
// (it goes into a message id and a header), used verbatim, so without leading or trailing spaces.
func ValidEventID(s string) bool {
	return s != "" && len(s) <= MaxIDLen && s[0] != ' ' && s[len(s)-1] != ' ' && ValidHeaderValue(s)
}

// ValidHeaderValue reports whether s is printable ASCII, so it can go into a NATS header as is.
func ValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
