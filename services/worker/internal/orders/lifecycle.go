// Package orders holds the order lifecycles (one table per provider) and the apply step: one
// atomic Redis script per order that dedupes the event id, applies or classifies the transition,
// bumps the version and records the outcome.
package orders

import (
	"errors"
	"fmt"
	"strings"

	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

// Row is one status of a provider's lifecycle.
type Row struct {
	// Status is the provider's status string, uppercase.
	Status string
	// Canonical is what downstream consumers see.
	Canonical ordersv1.OrderStatus
	// Rank orders the lifecycle: a transition applies only towards a higher rank.
	Rank int
	// Terminal: nothing leaves this status.
	Terminal bool
	// After is the status this one normally follows; the statuses jumped over on the way from the
	// current one are published as `skipped`. Empty for a status reachable from anywhere.
	After string
	// Aliases are other spellings providers use for Status.
	Aliases []string
}

// The lifecycles, as data (contract section 6). Ranks: a forward transition goes to a higher
// rank, across any ranks in between; a lower or equal rank is stale. Side branches (cancellation,
// returns) rank above the main line so they are reachable from any non-terminal status.

// PetstoreRows: PLACED → APPROVED → SHIPPED → DELIVERED; any non-terminal → CANCELLED.
// payment.succeeded means APPROVED.
func PetstoreRows() []Row {
	return []Row{
		{Status: "PLACED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_PLACED, Rank: 1},
		{Status: "APPROVED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_APPROVED, Rank: 2, After: "PLACED"},
		{Status: "SHIPPED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, Rank: 3, After: "APPROVED"},
		{Status: "DELIVERED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_DELIVERED, Rank: 4, Terminal: true, After: "SHIPPED"},
		{Status: "CANCELLED", Canonical: ordersv1.OrderStatus_ORDER_STATUS_CANCELLED, Rank: 5, Terminal: true, Aliases: []string{"CANCELED"}},
	}
}

// BunjangRows, per order item. The public docs name only PAYMENT_RECEIVED and SHIPPED; the rest
// is our assumption. CANCEL_REQUESTED has no canonical status of its own: it is published as
// UNSPECIFIED with the raw string.
func BunjangRows() []Row {
	return []Row{
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

// StandardRows is the lifecycle of extra Standard Webhooks sources, which the contract leaves
// open: the canonical names themselves. PLACED → APPROVED → SHIPPED → DELIVERED → COMPLETED;
// DELIVERED → RETURN_REQUESTED → REFUNDED; any non-terminal → CANCELLED.
func StandardRows() []Row {
	return []Row{
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

// ErrInvalidLifecycle marks a lifecycle table that contradicts itself.
var ErrInvalidLifecycle = errors.New("invalid lifecycle")

// Step is a status on the way to another one.
type Step struct {
	Rank      int
	Canonical ordersv1.OrderStatus
}

// Status is a provider status resolved against its lifecycle.
type Status struct {
	// Name is the table's spelling of a known status, or the raw string (trimmed) of an unknown
	// one.
	Name      string
	Canonical ordersv1.OrderStatus
	Rank      int
	Terminal  bool
	Known     bool
	// Chain lists the statuses that lead to this one, in lifecycle order, leaving out those
	// without a canonical status: the candidates for `skipped`.
	Chain []Step
}

// Lifecycle resolves provider statuses.
type Lifecycle struct {
	byName map[string]Status
}

// NewLifecycle checks rows and indexes them.
func NewLifecycle(rows []Row) (*Lifecycle, error) {
	index := make(map[string]Row, len(rows))
	for _, r := range rows {
		if r.Status == "" || normalize(r.Status) != r.Status {
			return nil, fmt.Errorf("%w: status %q must be uppercase words joined by _", ErrInvalidLifecycle, r.Status)
		}
		if r.Rank < 1 {
			return nil, fmt.Errorf("%w: %s: rank must be >= 1", ErrInvalidLifecycle, r.Status)
		}
		if _, dup := index[r.Status]; dup {
			return nil, fmt.Errorf("%w: %s listed twice", ErrInvalidLifecycle, r.Status)
		}
		index[r.Status] = r
	}
	l := &Lifecycle{byName: make(map[string]Status, len(rows))}
	for _, r := range rows {
		chain, err := chainOf(index, r)
		if err != nil {
			return nil, err
		}
		st := Status{Name: r.Status, Canonical: r.Canonical, Rank: r.Rank, Terminal: r.Terminal, Known: true, Chain: chain}
		for _, name := range append([]string{r.Status}, r.Aliases...) {
			n := normalize(name)
			if _, dup := l.byName[n]; dup {
				return nil, fmt.Errorf("%w: %s listed twice", ErrInvalidLifecycle, n)
			}
			l.byName[n] = st
		}
	}
	return l, nil
}

func chainOf(index map[string]Row, r Row) ([]Step, error) {
	var rev []Step
	cur := r
	for cur.After != "" {
		prev, ok := index[cur.After]
		if !ok {
			return nil, fmt.Errorf("%w: %s follows unknown status %s", ErrInvalidLifecycle, cur.Status, cur.After)
		}
		if prev.Rank >= cur.Rank {
			return nil, fmt.Errorf("%w: %s (rank %d) follows %s of rank %d", ErrInvalidLifecycle, cur.Status, cur.Rank, prev.Status, prev.Rank)
		}
		if prev.Terminal {
			return nil, fmt.Errorf("%w: %s follows terminal %s", ErrInvalidLifecycle, cur.Status, prev.Status)
		}
		if prev.Canonical != ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
			rev = append(rev, Step{Rank: prev.Rank, Canonical: prev.Canonical})
		}
		cur = prev
	}
	chain := make([]Step, len(rev))
	for i, s := range rev {
		chain[len(rev)-1-i] = s
	}
	return chain, nil
}

// normalize uppercases s and joins words with _: "in transit" and "in-transit" are IN_TRANSIT.
func normalize(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, s)
}

// Resolve looks status up. An unknown status resolves to UNSPECIFIED with rank 0 and its raw
// string; it never blocks an order.
func (l *Lifecycle) Resolve(status string) Status {
	if st, ok := l.byName[normalize(status)]; ok {
		return st
	}
	return Status{Name: strings.TrimSpace(status), Canonical: ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED}
}

// Book holds the lifecycle of every provider.
type Book struct {
	petstore, bunjang, standard *Lifecycle
}

// Providers with a lifecycle of their own; every other source uses StandardRows.
const (
	ProviderPetstore = "petstore"
	ProviderBunjang  = "bunjang"
)

// NewBook builds the lifecycles from the tables above.
func NewBook() (*Book, error) {
	var b Book
	var err error
	if b.petstore, err = NewLifecycle(PetstoreRows()); err != nil {
		return nil, fmt.Errorf("petstore: %w", err)
	}
	if b.bunjang, err = NewLifecycle(BunjangRows()); err != nil {
		return nil, fmt.Errorf("bunjang: %w", err)
	}
	if b.standard, err = NewLifecycle(StandardRows()); err != nil {
		return nil, fmt.Errorf("standard: %w", err)
	}
	return &b, nil
}

// For returns provider's lifecycle.
func (b *Book) For(provider string) *Lifecycle {
	switch provider {
	case ProviderPetstore:
		return b.petstore
	case ProviderBunjang:
		return b.bunjang
	default:
		return b.standard
	}
}
