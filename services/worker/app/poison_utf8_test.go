package app

import (
	"context"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
)

// TestIntegrationInvalidUTF8IsPoisonBeforeApply is issue 10 item 1 end to end, against real NATS
// and Redis: webhooks whose fields hold invalid UTF-8, published straight to WEBHOOKS (past the
// ingress), are dead-lettered as malformed_payload on their first delivery, before any state
// change: Redis holds nothing of their orders and ORDERS only the good event. Before, the order
// was applied, the encode failed, and the message was retried until max_deliveries.
func TestIntegrationInvalidUTF8IsPoisonBeforeApply(t *testing.T) {
	e := newEnv(t, false)
	// Raw bytes, not petstoreStatus (its %q would escape them into invalid JSON).
	pOrder := inbound{provider: "petstore", eventID: "bad-1", eventType: "order.statusChanged",
		body: []byte("{\"eventId\":\"bad-1\",\"eventType\":\"order.statusChanged\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"data\":{\"order\":{\"id\":\"bad-p\xff\"},\"newStatus\":\"PLACED\"}}")}
	pStatus := inbound{provider: "petstore", eventID: "bad-2", eventType: "order.statusChanged",
		body: []byte("{\"eventId\":\"bad-2\",\"eventType\":\"order.statusChanged\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"data\":{\"order\":{\"id\":\"bad-q\"},\"newStatus\":\"PLA\xffCED\"}}")}
	bStatus := inbound{provider: "bunjang", eventID: "01K0AZRPB4N36H9NMDJRMYXM7A", eventType: "order.status.changed",
		body: []byte("{\"eventId\":\"01K0AZRPB4N36H9NMDJRMYXM7A\",\"eventType\":\"order.status.changed\",\"data\":{\"orderId\":4242,\"orderItems\":[{\"orderItemId\":1,\"orderStatus\":\"SHIPPED\xff\"}]}}")}
	good := petstoreStatus("good-1", "order-p", "PLACED", t0)
	e.publish(pOrder.msg(), pStatus.msg(), bStatus.msg(), good.msg())
	w := e.startWorker(e.config())
	eventually(t, 20*time.Second, "stream moved on", e.allAcked)

	if n := e.streamMsgs(streams.DLQ); n != 3 {
		t.Fatalf("DLQ holds %d messages, want 3", n)
	}
	if n := e.streamMsgs(streams.Orders); n != 1 {
		t.Fatalf("ORDERS holds %d events, want 1 (the good one)", n)
	}
	if n := w.metric(t, "hookline_worker_outcomes_total", `kind="dlq"`); n != 3 {
		t.Fatalf("dlq metric = %v, want 3", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, pattern := range []string{"*bad-*", "*4242*"} {
		keys, err := e.rdb.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Fatalf("Redis keys %q after the poison messages, want none", keys)
		}
	}
	dlq, err := e.js.Stream(ctx, streams.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if r := m.Header.Get(streams.HeaderDLQReason); r != "malformed_payload" {
			t.Fatalf("DLQ message %d reason %q, want malformed_payload (not retried until max_deliveries)", seq, r)
		}
	}
	if v := w.order(t, "petstore", "order-p"); v.Status != "PLACED" {
		t.Fatalf("good order = %+v, want PLACED", v)
	}
}
