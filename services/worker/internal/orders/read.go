package orders

import (
	"context"
	"fmt"
	"strconv"
	"time"

	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/redis/go-redis/v9"
)

// State is the current status of an order or order item.
type State struct {
	Status    string // the provider's status
	Canonical ordersv1.OrderStatus
	Version   int64
	UpdatedAt time.Time
}

// View is an order as the query API shows it. For item-level providers the order's own State is
// that of the most recently changed item.
type View struct {
	Tenant, Provider, OrderID string
	State
	Items map[string]State
}

// Read returns the order, or ErrNotFound.
func (s *Store) Read(ctx context.Context, tenant, provider, orderID string) (View, error) {
	pipe := s.rdb.Pipeline()
	order := pipe.HGetAll(ctx, OrderKey(tenant, provider, orderID))
	items := pipe.SMembers(ctx, ItemsKey(tenant, provider, orderID))
	if _, err := pipe.Exec(ctx); err != nil {
		return View{}, fmt.Errorf("read order %s: %w", orderID, classify(err))
	}
	if len(order.Val()) == 0 {
		return View{}, ErrNotFound
	}
	v := View{Tenant: tenant, Provider: provider, OrderID: orderID, Items: map[string]State{}}
	var err error
	if v.State, err = parseState(order.Val()); err != nil {
		return View{}, fmt.Errorf("read order %s: %w", orderID, err)
	}
	if len(items.Val()) == 0 {
		return v, nil
	}
	pipe = s.rdb.Pipeline()
	cmds := make(map[string]*redis.MapStringStringCmd, len(items.Val()))
	for _, id := range items.Val() {
		cmds[id] = pipe.HGetAll(ctx, ItemKey(tenant, provider, orderID, id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return View{}, fmt.Errorf("read order %s items: %w", orderID, classify(err))
	}
	for id, cmd := range cmds {
		if len(cmd.Val()) == 0 {
			continue
		}
		st, err := parseState(cmd.Val())
		if err != nil {
			return View{}, fmt.Errorf("read order %s item %s: %w", orderID, id, err)
		}
		v.Items[id] = st
	}
	return v, nil
}

func parseState(h map[string]string) (State, error) {
	st := State{Status: h["s"]}
	c, err := strconv.Atoi(h["c"])
	if err != nil {
		return State{}, fmt.Errorf("%w: state c %q", ErrBadReply, h["c"])
	}
	st.Canonical = ordersv1.OrderStatus(c)
	if st.Version, err = strconv.ParseInt(h["v"], 10, 64); err != nil {
		return State{}, fmt.Errorf("%w: state v %q", ErrBadReply, h["v"])
	}
	ns, err := strconv.ParseInt(h["a"], 10, 64)
	if err != nil {
		return State{}, fmt.Errorf("%w: state a %q", ErrBadReply, h["a"])
	}
	st.UpdatedAt = time.Unix(0, ns).UTC()
	return st, nil
}
