package orders

import (
	"errors"
	"github.com/hookline/hookline/pkg/providers/all"
	"slices"
	"testing"

	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

func TestTablesAreValid(t *testing.T) {
	reg := all.Registry()
	for _, p := range append(reg.All(), reg.Source()) {
		if _, err := NewLifecycle(p.Lifecycle()); err != nil {
			t.Errorf("%s: %v", p.Name(), err)
		}
	}
}

func TestNewLifecycleRejects(t *testing.T) {
	tests := []struct {
		name string
		give []Row
	}{
		{"lowercase", []Row{{Status: "placed", Rank: 1}}},
		{"rank zero", []Row{{Status: "PLACED"}}},
		{"twice", []Row{{Status: "PLACED", Rank: 1}, {Status: "PLACED", Rank: 2}}},
		{"alias clash", []Row{{Status: "PLACED", Rank: 1}, {Status: "NEW", Rank: 2, Aliases: []string{"placed"}}}},
		{"unknown after", []Row{{Status: "SHIPPED", Rank: 2, After: "PAID"}}},
		{"after not lower", []Row{{Status: "PLACED", Rank: 2}, {Status: "SHIPPED", Rank: 2, After: "PLACED"}}},
		{"after terminal", []Row{{Status: "DONE", Rank: 1, Terminal: true}, {Status: "MORE", Rank: 2, After: "DONE"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewLifecycle(tt.give); !errors.Is(err, ErrInvalidLifecycle) {
				t.Fatalf("NewLifecycle = %v, want ErrInvalidLifecycle", err)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	book, err := NewBook(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	const (
		unspecified = ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED
		placed      = ordersv1.OrderStatus_ORDER_STATUS_PLACED
		approved    = ordersv1.OrderStatus_ORDER_STATUS_APPROVED
		shipped     = ordersv1.OrderStatus_ORDER_STATUS_SHIPPED
		delivered   = ordersv1.OrderStatus_ORDER_STATUS_DELIVERED
		completed   = ordersv1.OrderStatus_ORDER_STATUS_COMPLETED
		cancelled   = ordersv1.OrderStatus_ORDER_STATUS_CANCELLED
		refunded    = ordersv1.OrderStatus_ORDER_STATUS_REFUNDED
	)
	tests := []struct {
		provider, give string
		wantName       string
		wantCanonical  ordersv1.OrderStatus
		wantKnown      bool
		wantTerminal   bool
		wantChain      []ordersv1.OrderStatus
	}{
		{"petstore", "PLACED", "PLACED", placed, true, false, nil},
		{"petstore", "delivered", "DELIVERED", delivered, true, true, []ordersv1.OrderStatus{placed, approved, shipped}},
		{"petstore", " Shipped ", "SHIPPED", shipped, true, false, []ordersv1.OrderStatus{placed, approved}},
		{"petstore", "canceled", "CANCELLED", cancelled, true, true, nil},
		{"petstore", "ON_HOLD", "ON_HOLD", unspecified, false, false, nil},
		{"bunjang", "PAYMENT_RECEIVED", "PAYMENT_RECEIVED", approved, true, false, nil},
		{"bunjang", "purchase_confirmed", "PURCHASE_CONFIRMED", completed, true, true, []ordersv1.OrderStatus{approved, shipped, delivered}},
		{"bunjang", "CANCEL_REQUESTED", "CANCEL_REQUESTED", unspecified, true, false, []ordersv1.OrderStatus{approved}},
		{"bunjang", "CANCELLED", "CANCELLED", cancelled, true, true, []ordersv1.OrderStatus{approved}},
		{"bunjang", "REFUNDED", "REFUNDED", refunded, true, true, []ordersv1.OrderStatus{approved, shipped, delivered, ordersv1.OrderStatus_ORDER_STATUS_RETURN_REQUESTED}},
		{"bunjang", "PLACED", "PLACED", unspecified, false, false, nil},
		{"acme", "in-transit", "in-transit", unspecified, false, false, nil},
		{"acme", "completed", "COMPLETED", completed, true, true, []ordersv1.OrderStatus{placed, approved, shipped, delivered}},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.give, func(t *testing.T) {
			got := book.For(tt.provider).Resolve(tt.give)
			var chain []ordersv1.OrderStatus
			for _, s := range got.Chain {
				chain = append(chain, s.Canonical)
			}
			if got.Name != tt.wantName || got.Canonical != tt.wantCanonical || got.Known != tt.wantKnown ||
				got.Terminal != tt.wantTerminal || !slices.Equal(chain, tt.wantChain) {
				t.Fatalf("Resolve(%q) = %s %s known=%t terminal=%t chain=%v, want %s %s known=%t terminal=%t chain=%v",
					tt.give, got.Name, got.Canonical, got.Known, got.Terminal, chain,
					tt.wantName, tt.wantCanonical, tt.wantKnown, tt.wantTerminal, tt.wantChain)
			}
		})
	}
}
