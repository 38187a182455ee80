package app

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// scripted is one webhook of a scripted order and the transitions it carries.
type scripted struct {
	in    inbound
	units map[string]modelEvent // by item id ("" for the whole order)
}

// shuffledTwice returns every message twice (the copy as a provider retry after the duplicate
// window, so the stream keeps it), shuffled with seed.
func shuffledTwice(script []scripted, seed uint64) []scripted {
	var out []scripted
	for _, s := range script {
		retry := s
		retry.in.msgID = "retry:" + s.in.eventID
		out = append(out, s, retry)
	}
	r := rand.New(rand.NewPCG(seed, 42))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

var canonicalOf = map[string]map[string]ordersv1.OrderStatus{
	"petstore": {
		"PLACED": ordersv1.OrderStatus_ORDER_STATUS_PLACED, "APPROVED": ordersv1.OrderStatus_ORDER_STATUS_APPROVED,
		"SHIPPED": ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, "DELIVERED": ordersv1.OrderStatus_ORDER_STATUS_DELIVERED,
		"CANCELLED": ordersv1.OrderStatus_ORDER_STATUS_CANCELLED,
	},
	"bunjang": {
		"PAYMENT_RECEIVED": ordersv1.OrderStatus_ORDER_STATUS_APPROVED, "SHIPPED": ordersv1.OrderStatus_ORDER_STATUS_SHIPPED,
		"DELIVERED": ordersv1.OrderStatus_ORDER_STATUS_DELIVERED, "PURCHASE_CONFIRMED": ordersv1.OrderStatus_ORDER_STATUS_COMPLETED,
		"CANCELLED": ordersv1.OrderStatus_ORDER_STATUS_CANCELLED, "REFUNDED": ordersv1.OrderStatus_ORDER_STATUS_REFUNDED,
		"RETURN_REQUESTED": ordersv1.OrderStatus_ORDER_STATUS_RETURN_REQUESTED,
	},
}

// mainLine maps main-line positions to canonical statuses.
var mainLine = map[string][]ordersv1.OrderStatus{
	"petstore": {0, ordersv1.OrderStatus_ORDER_STATUS_PLACED, ordersv1.OrderStatus_ORDER_STATUS_APPROVED, ordersv1.OrderStatus_ORDER_STATUS_SHIPPED},
	"bunjang":  {0, ordersv1.OrderStatus_ORDER_STATUS_APPROVED, ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, ordersv1.OrderStatus_ORDER_STATUS_DELIVERED},
}

func petstoreScript(orderID string, payment bool) []scripted {
	ev := func(id, status string, at time.Time, in inbound) scripted {
		return scripted{in: in, units: map[string]modelEvent{"": {id: id, status: status, at: at}}}
	}
	var out []scripted
	for i, st := range []string{"PLACED", "APPROVED", "SHIPPED", "DELIVERED"} {
		id := fmt.Sprintf("%s-e%d", orderID, i+1)
		at := t0.Add(time.Duration(i+1) * time.Minute)
		in := petstoreStatus(id, orderID, st, at)
		if st == "APPROVED" && payment {
			in = petstorePayment(id, orderID, at)
		}
		out = append(out, ev(id, st, at, in))
	}
	return out
}

func bunjangScript(orderID int) []scripted {
	steps := []map[int]string{
		{1001: "PAYMENT_RECEIVED", 1002: "PAYMENT_RECEIVED"},
		{1001: "SHIPPED"},
		{1002: "SHIPPED"},
		{1001: "DELIVERED", 1002: "DELIVERED"},
		{1002: "PURCHASE_CONFIRMED"},
		{1001: "PURCHASE_CONFIRMED"},
	}
	var out []scripted
	for i, step := range steps {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		id := ulid(at, uint64(orderID*100+i))
		s := scripted{units: map[string]modelEvent{}}
		var items []bunjangItem
		for _, item := range []int{1001, 1002} {
			if st, ok := step[item]; ok {
				items = append(items, bunjangItem{id: item, status: st})
				s.units[strconv.Itoa(item)] = modelEvent{id: id, status: st, at: at}
			}
		}
		s.in = bunjangStatus(id, orderID, items...)
		out = append(out, s)
	}
	return out
}

// TestIntegrationScriptedOrdersShuffledTwice is acceptance 2: scripted orders delivered shuffled,
// every event twice, end in their last status with one canonical event per applied transition.
// One handler makes the processing order the stream order, so the oracle predicts every outcome.
func TestIntegrationScriptedOrdersShuffledTwice(t *testing.T) {
	e := newEnv(t, false)
	type order struct {
		provider, id string
		script       []scripted
	}
	var orders []order
	for seed := range 4 {
		id := fmt.Sprintf("pet-%d", seed)
		orders = append(orders, order{"petstore", id, petstoreScript(id, seed%2 == 1)})
	}
	for seed := range 3 {
		id := 700 + seed
		orders = append(orders, order{"bunjang", strconv.Itoa(id), bunjangScript(id)})
	}

	// Publish and run the oracle in stream order.
	models := map[unitKey]*modelUnit{}
	lastChanged := map[string]string{} // bunjang order → most recently changed item
	kinds := map[string]int{}
	var msgs []*nats.Msg
	for i, o := range orders {
		for _, s := range shuffledTwice(o.script, uint64(i+1)) {
			msgs = append(msgs, s.in.msg())
			for _, item := range slices.Sorted(maps.Keys(s.units)) {
				k := unitKey{o.provider, o.id, item}
				if models[k] == nil {
					models[k] = newModelUnit(o.provider)
				}
				kind := models[k].apply(s.units[item])
				kinds[kind]++
				if kind == "applied" && item != "" {
					lastChanged[o.id] = item
				}
			}
		}
	}
	e.publish(msgs...)
	w := e.startWorker(e.config(func(c *Config) { c.Worker.Concurrency = 1 }))
	eventually(t, 30*time.Second, "every message acked", e.allAcked)

	got := map[unitKey][]*ordersv1.OrderStatusChanged{}
	events := e.canonical()
	for _, m := range events {
		ev := m.ev
		if m.header.Get(streams.HeaderMsgID) != ev.GetEventId() || m.header.Get("Content-Type") != "application/protobuf" ||
			m.subject != streams.OrderSubject("default", ev.GetProvider()) {
			t.Fatalf("canonical event %s: subject %s, headers %v", ev.GetEventId(), m.subject, m.header)
		}
		k := unitKey{ev.GetProvider(), ev.GetOrderId(), ev.GetOrderItemId()}
		got[k] = append(got[k], ev)
	}
	if len(events) != kinds["applied"] {
		t.Fatalf("%d canonical events, oracle applied %d transitions (%v)", len(events), kinds["applied"], kinds)
	}
	for k, m := range models {
		evs := got[k]
		if len(evs) != len(m.applied) {
			t.Errorf("%v: %d canonical events, want %d", k, len(evs), len(m.applied))
			continue
		}
		slices.SortFunc(evs, func(a, b *ordersv1.OrderStatusChanged) int { return int(a.GetVersion() - b.GetVersion()) })
		for i, want := range m.applied {
			ev := evs[i]
			var wantSkipped []ordersv1.OrderStatus
			for _, l := range want.skippedLine {
				wantSkipped = append(wantSkipped, mainLine[k.provider][l])
			}
			if ev.GetVersion() != want.version || ev.GetProviderStatus() != want.status ||
				ev.GetStatus() != canonicalOf[k.provider][want.status] || ev.GetProviderPreviousStatus() != want.before ||
				ev.GetPreviousStatus() != canonicalOf[k.provider][want.before] || !slices.Equal(ev.GetSkipped(), wantSkipped) {
				t.Errorf("%v event %d = v%d %s(%s)←%s(%s) skipped %v; want v%d %s←%s skipped %v", k, i,
					ev.GetVersion(), ev.GetProviderStatus(), ev.GetStatus(), ev.GetProviderPreviousStatus(), ev.GetPreviousStatus(),
					ev.GetSkipped(), want.version, want.status, want.before, wantSkipped)
			}
		}
	}
	for _, o := range orders {
		v := w.order(t, o.provider, o.id)
		switch o.provider {
		case "petstore":
			m := models[unitKey{"petstore", o.id, ""}]
			if v.Status != "DELIVERED" || v.ProviderStatus != "DELIVERED" || v.Version != m.version || len(v.Items) != 0 {
				t.Errorf("order %s = %+v, want DELIVERED version %d", o.id, v, m.version)
			}
			if m.version > 4 || m.version < 1 {
				t.Errorf("order %s version %d out of 1..4", o.id, m.version)
			}
		case "bunjang":
			for _, item := range []string{"1001", "1002"} {
				m := models[unitKey{"bunjang", o.id, item}]
				it := v.Items[item]
				if it.Status != "COMPLETED" || it.ProviderStatus != "PURCHASE_CONFIRMED" || it.Version != m.version {
					t.Errorf("order %s item %s = %+v, want COMPLETED version %d", o.id, item, it, m.version)
				}
			}
			last := models[unitKey{"bunjang", o.id, lastChanged[o.id]}]
			if v.Status != "COMPLETED" || v.Version != last.version {
				t.Errorf("order %s top level = %s v%d, want COMPLETED v%d (item %s)", o.id, v.Status, v.Version, last.version, lastChanged[o.id])
			}
		}
	}
	if applied := w.metric(t, "hookline_worker_outcomes_total", `kind="applied"`); int(applied) != kinds["applied"] {
		t.Errorf("applied metric = %v, want %d", applied, kinds["applied"])
	}
	if dup := w.metric(t, "hookline_worker_outcomes_total", `kind="duplicate"`); int(dup) != kinds["duplicate"] {
		t.Errorf("duplicate metric = %v, want %d", dup, kinds["duplicate"])
	}
	if n := e.streamMsgs(streams.DLQ); n != 0 {
		t.Errorf("DLQ holds %d messages, want 0", n)
	}
}

// TestIntegrationCanonicalEventFields checks every field of one canonical event.
func TestIntegrationCanonicalEventFields(t *testing.T) {
	e := newEnv(t, false)
	received := time.Date(2025, 3, 1, 12, 0, 1, 123456789, time.UTC)
	changed := time.Date(2025, 3, 1, 12, 0, 0, 500000000, time.UTC)
	in := petstoreStatus("evt-f1", "order-f", "SHIPPED", changed)
	in.receivedAt = received
	at := t0.Add(time.Minute)
	bj := bunjangStatus(ulid(at, 9), 55, bunjangItem{id: 9001, status: "SHIPPED"})
	bj.receivedAt = received
	e.publish(in.msg(), bj.msg())
	before := time.Now()
	e.startWorker(e.config())
	eventually(t, 20*time.Second, "both messages acked", e.allAcked)
	events := e.canonical()
	if len(events) != 2 {
		t.Fatalf("%d canonical events, want 2", len(events))
	}
	slices.SortFunc(events, func(a, b canonicalMsg) int {
		return int(a.ev.GetSourceStreamSequence()) - int(b.ev.GetSourceStreamSequence())
	})
	pet, bun := events[0].ev, events[1].ev
	if pet.GetEventId() != "petstore:default:evt-f1" || pet.GetTenantId() != "default" || pet.GetProvider() != "petstore" ||
		pet.GetSourceEventId() != "evt-f1" || pet.GetOrderId() != "order-f" || pet.GetOrderItemId() != "" ||
		pet.GetPreviousStatus() != ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED || pet.GetProviderPreviousStatus() != "" ||
		pet.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_SHIPPED || pet.GetProviderStatus() != "SHIPPED" ||
		pet.GetVersion() != 1 || !slices.Equal(pet.GetSkipped(), []ordersv1.OrderStatus{ordersv1.OrderStatus_ORDER_STATUS_PLACED, ordersv1.OrderStatus_ORDER_STATUS_APPROVED}) ||
		!pet.GetOccurredAt().AsTime().Equal(changed) || !pet.GetReceivedAt().AsTime().Equal(received) ||
		pet.GetAppliedAt().AsTime().Before(before.Add(-time.Second)) || pet.GetSourceStreamSequence() != 1 {
		t.Errorf("petstore event = %v", pet)
	}
	if bun.GetEventId() != "bunjang:default:"+ulid(at, 9)+":9001" || bun.GetOrderId() != "55" || bun.GetOrderItemId() != "9001" ||
		bun.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_SHIPPED || bun.GetProviderStatus() != "SHIPPED" ||
		!slices.Equal(bun.GetSkipped(), []ordersv1.OrderStatus{ordersv1.OrderStatus_ORDER_STATUS_APPROVED}) ||
		!bun.GetOccurredAt().AsTime().Equal(at) || bun.GetSourceStreamSequence() != 2 || bun.GetVersion() != 1 {
		t.Errorf("bunjang event = %v", bun)
	}
}
