// Package orders resolves statuses against each provider's lifecycle table (in its folder under
// pkg/providers) and holds the apply step: one
// atomic Redis script per order that dedupes the event id, applies or classifies the transition,
// bumps the version and records the outcome.
package orders

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hookline/hookline/pkg/providers"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

// Row is one status of a provider's lifecycle; each provider's table is in its folder under
// pkg/providers (Provider.Lifecycle).
type Row = providers.Row

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
		if r.Status == "" || normalize(r.Status) != r.Status || (r.Spelling != "" && normalize(r.Spelling) != r.Status) {
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
		name := r.Status
		if r.Spelling != "" {
			name = r.Spelling
		}
		st := Status{Name: name, Canonical: r.Canonical, Rank: r.Rank, Terminal: r.Terminal, Known: true, Chain: chain}
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

// Book holds the lifecycle of every provider of a registry.
type Book struct {
	byName map[string]*Lifecycle
	source *Lifecycle
}

// NewBook builds the lifecycles of reg's providers from their tables.
func NewBook(reg *providers.Registry) (*Book, error) {
	b := &Book{byName: map[string]*Lifecycle{}}
	for _, p := range reg.All() {
		lc, err := NewLifecycle(p.Lifecycle())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name(), err)
		}
		b.byName[p.Name()] = lc
	}
	lc, err := NewLifecycle(reg.Source().Lifecycle())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", reg.Source().Name(), err)
	}
	b.source = lc
	return b, nil
}

// For returns provider's lifecycle: a built-in provider's, else the one of the configured
// sources.
func (b *Book) For(provider string) *Lifecycle {
	if lc, ok := b.byName[provider]; ok {
		return lc
	}
	return b.source
}
