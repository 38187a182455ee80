package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestIntegrationCrashBeforeAck is acceptance 3: the worker dies after the Redis apply and before
// the ack; the redelivered message, taken by a new worker, yields one applied transition and one
// canonical event.
func TestIntegrationCrashBeforeAck(t *testing.T) {
	tests := []struct {
		name          string
		set           func(c *Config, crash func(*nats.Conn) error)
		wantPublished uint64 // canonical events in ORDERS right after the crash
	}{
		{"after apply, before publish", func(c *Config, crash func(*nats.Conn) error) { c.hooks.afterApply = crash }, 0},
		{"after publish, before ack", func(c *Config, crash func(*nats.Conn) error) { c.hooks.afterPublish = crash }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, false)
			e.publish(petstoreStatus("crash-1", "order-c", "SHIPPED", t0).msg())
			fast := func(c *Config) { c.Worker.AckWait = time.Second }
			first := e.startWorker(e.config(fast, func(c *Config) { tt.set(c, crashOnce()) }))
			if err := first.wait(t, 20*time.Second); !errors.Is(err, ErrStopped) {
				t.Fatalf("crashed worker returned %v, want ErrStopped", err)
			}
			// Applied once, not acked.
			if v, err := e.rdb.HGet(context.Background(), orders.OrderKey("default", "petstore", "order-c"), "v").Result(); err != nil || v != "1" {
				t.Fatalf("version after the crash = %q, %v; want 1", v, err)
			}
			if info := e.consumerInfo(); info == nil || info.AckFloor.Stream != 0 {
				t.Fatalf("message acked before the crash: %+v", info)
			}
			if n := e.streamMsgs(streams.Orders); n != tt.wantPublished {
				t.Fatalf("ORDERS holds %d events after the crash, want %d", n, tt.wantPublished)
			}

			second := e.startWorker(e.config(fast))
			eventually(t, 20*time.Second, "redelivered message acked", e.allAcked)
			events := e.canonical()
			if len(events) != 1 || events[0].ev.GetVersion() != 1 || events[0].ev.GetEventId() != "petstore:default:crash-1" {
				t.Fatalf("canonical events = %v, want one, version 1", events)
			}
			v := second.order(t, "petstore", "order-c")
			if v.Status != "SHIPPED" || v.Version != 1 {
				t.Fatalf("order = %+v, want SHIPPED version 1", v)
			}
			if n := second.metric(t, "hookline_worker_outcomes_total", `kind="applied"`); n != 0 {
				t.Fatalf("second worker applied %v transitions, want 0 (it found the recorded outcome)", n)
			}
			if n := second.metric(t, "hookline_worker_outcomes_total", `kind="duplicate"`); n != 1 {
				t.Fatalf("second worker duplicates = %v, want 1", n)
			}
			// Issue 13: the history lists the arrival that applied and the redelivery, once each.
			checkHistory(t, second.history(t, "petstore", "order-c", nil), []wantEntry{
				{"crash-1", "", "applied", "SHIPPED", "SHIPPED", 1, 1, "petstore:default:crash-1"},
				{"crash-1", "", "duplicate", "SHIPPED", "SHIPPED", 1, 1, ""},
			})
		})
	}
}

// TestIntegrationPoisonGoesToDLQ is acceptance 5, first half: a malformed body lands in DLQ with
// its reason and the stream moves on; an event type the worker does not handle is acked.
func TestIntegrationPoisonGoesToDLQ(t *testing.T) {
	e := newEnv(t, false)
	poison := inbound{provider: "petstore", eventID: "bad-1", eventType: "order.statusChanged", body: []byte(`{"eventId":"bad-1","data":`)}
	noOrder := inbound{provider: "bunjang", eventID: "bad-2", eventType: "order.status.changed",
		body: []byte(`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","data":{"orderItems":[]}}`)}
	other := inbound{provider: "petstore", eventID: "pet-1", eventType: "pet.adopted",
		body: []byte(`{"eventId":"pet-1","eventType":"pet.adopted","timestamp":"2025-01-01T00:00:00Z","data":{}}`)}
	e.publish(poison.msg(), noOrder.msg(), other.msg(), petstoreStatus("good-1", "order-p", "PLACED", t0).msg())
	w := e.startWorker(e.config())
	eventually(t, 20*time.Second, "stream moved on", e.allAcked)

	if n := e.streamMsgs(streams.DLQ); n != 2 {
		t.Fatalf("DLQ holds %d messages, want 2", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dlq, err := e.js.Stream(ctx, streams.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	// Handlers run concurrently: the two dead letters may be stored in either order.
	m, err := dlq.GetLastMsgForSubject(ctx, "dlq.webhooks.petstore.default")
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "dlq.webhooks.petstore.default" || string(m.Data) != string(poison.body) ||
		m.Header.Get(streams.HeaderDLQReason) != "malformed_payload" || m.Header.Get(streams.HeaderDLQStreamSeq) != "1" ||
		m.Header.Get(streams.HeaderEventID) != "bad-1" {
		t.Fatalf("DLQ message = %s %q %v", m.Subject, m.Data, m.Header)
	}
	if v := w.order(t, "petstore", "order-p"); v.Status != "PLACED" {
		t.Fatalf("order after the poison = %+v, want PLACED", v)
	}
	if n := w.metric(t, "hookline_worker_outcomes_total", `kind="dlq"`); n != 2 {
		t.Fatalf("dlq metric = %v, want 2", n)
	}
	if n := w.metric(t, "hookline_worker_outcomes_total", `provider="petstore"`, `kind="unknown"`); n != 1 {
		t.Fatalf("unknown metric = %v, want 1", n)
	}
}

// TestIntegrationRedisOutage is acceptance 5, second half: with Redis stopped mid-run messages are
// neither acked nor lost nor dead-lettered (with HOOKLINE_WORKER_OUTAGE_DLQ=false, even past
// MaxDeliver), /readyz says redis is down, and once Redis is back every event is applied.
func TestIntegrationRedisOutage(t *testing.T) {
	e := newEnv(t, true)
	w := e.startWorker(e.config(func(c *Config) { c.Worker.MaxDeliver = 2; c.Worker.OutageDLQ = false }))
	var before []*nats.Msg
	for i := range 20 {
		before = append(before, petstoreStatus(fmt.Sprintf("b-%d", i), fmt.Sprintf("o-%d", i), "PLACED", t0).msg())
	}
	e.publish(before...)
	eventually(t, 20*time.Second, "first batch acked", e.allAcked)

	e.redis.Stop()
	var during []*nats.Msg
	for i := range 20 {
		during = append(during, petstoreStatus(fmt.Sprintf("d-%d", i), fmt.Sprintf("o-%d", i), "SHIPPED", t0.Add(time.Minute)).msg())
	}
	e.publish(during...)
	floor := e.consumerInfo().AckFloor.Stream
	eventually(t, 20*time.Second, "redeliveries past MaxDeliver", func() bool {
		info := e.consumerInfo()
		return info != nil && info.NumRedelivered > 0 && info.NumAckPending > 0
	})
	time.Sleep(500 * time.Millisecond) // several more backoff rounds, each beyond MaxDeliver
	code, body := w.get(t, "/readyz", nil)
	var ready struct{ Down map[string]string }
	_ = json.Unmarshal(body, &ready)
	if code != http.StatusServiceUnavailable || ready.Down["redis"] == "" {
		t.Fatalf("/readyz with Redis down = %d %s, want 503 naming redis", code, body)
	}
	if info := e.consumerInfo(); info.AckFloor.Stream != floor {
		t.Fatalf("ack floor moved from %d to %d while Redis was down", floor, info.AckFloor.Stream)
	}
	if n := e.streamMsgs(streams.DLQ); n != 0 {
		t.Fatalf("DLQ holds %d messages during the outage, want 0", n)
	}

	e.redis.Start()
	eventually(t, 30*time.Second, "every message acked after Redis returned", e.allAcked)
	for i := range 20 {
		if v := w.order(t, "petstore", fmt.Sprintf("o-%d", i)); v.Status != "SHIPPED" || v.Version != 2 {
			t.Fatalf("order o-%d = %+v, want SHIPPED version 2", i, v)
		}
	}
	if n := len(e.canonical()); n != 40 {
		t.Fatalf("%d canonical events, want 40", n)
	}
	if code, body := w.get(t, "/readyz", nil); code != http.StatusOK {
		t.Fatalf("/readyz after Redis returned = %d %s", code, body)
	}
}

// TestIntegrationGracefulShutdown stops a worker with messages in hand: Run returns nil, nothing
// it fetched is left unacked, and a second worker finishes the rest exactly once.
func TestIntegrationGracefulShutdown(t *testing.T) {
	e := newEnv(t, false)
	var msgs []*nats.Msg
	for i := range 2000 {
		msgs = append(msgs, petstoreStatus(fmt.Sprintf("g-%d", i), fmt.Sprintf("o-%d", i%100), "PLACED", t0).msg())
	}
	e.publish(msgs...)
	cfg := e.config(func(c *Config) { c.Worker.AckWait = 30 * time.Second })
	slow := cfg
	slow.hooks.afterApply = func(*nats.Conn) error { time.Sleep(5 * time.Millisecond); return nil }
	w := e.startWorker(slow)
	eventually(t, 20*time.Second, "some messages acked", func() bool {
		info := e.consumerInfo()
		return info != nil && info.AckFloor.Stream > 0
	})
	if err := w.stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	// The drain flushes the last acks to the socket; the server may take a moment to apply them.
	// A message really left unacked would stay pending for the whole 30 s AckWait.
	var info *jetstream.ConsumerInfo
	deadline := time.Now().Add(5 * time.Second)
	for info = e.consumerInfo(); info.NumAckPending != 0 && time.Now().Before(deadline); info = e.consumerInfo() {
		time.Sleep(50 * time.Millisecond)
	}
	if info.NumAckPending != 0 {
		t.Fatalf("%d messages left unacked 5s after shutdown (AckWait is 30s, so they would be stuck)", info.NumAckPending)
	}
	if info.AckFloor.Stream >= 2000 {
		t.Fatalf("the worker finished everything before it was stopped: nothing tested")
	}
	w2 := e.startWorker(cfg)
	eventually(t, 30*time.Second, "second worker finished", e.allAcked)
	if n := len(e.canonical()); n != 100 {
		t.Fatalf("%d canonical events, want 100 (one per order)", n)
	}
	if v := w2.order(t, "petstore", "o-7"); v.Version != 1 {
		t.Fatalf("order o-7 version %d, want 1", v.Version)
	}
}

// TestIntegrationQueryAPIAndReadiness checks the admin routes of contract sections 1 and 7.
func TestIntegrationQueryAPIAndReadiness(t *testing.T) {
	e := newEnv(t, false)
	const tenant = "4f9a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c"
	pet := petstoreStatus("q-1", "order-q", "approved", t0)
	other := petstoreStatus("q-2", "order-q", "SHIPPED", t0.Add(time.Minute))
	other.tenant = tenant
	acme := inbound{provider: "acme", eventID: "msg_1", eventType: "order.status.changed",
		body: []byte(`{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`)}
	at := t0.Add(2 * time.Minute)
	bj := bunjangStatus(ulid(at, 1), 100, bunjangItem{1001, "PAYMENT_RECEIVED"}, bunjangItem{1002, "LOST_IN_SPACE"})
	e.publish(pet.msg(), other.msg(), acme.msg(), bj.msg())
	w := e.startWorker(e.config())
	eventually(t, 20*time.Second, "all acked", e.allAcked)

	tests := []struct {
		name     string
		path     string
		hdr      map[string]string
		wantCode int
		want     string // substrings of the body, in order
	}{
		{"petstore", "/v1/orders/petstore/order-q", nil, 200,
			`"tenantId":"default","provider":"petstore","orderId":"order-q","status":"APPROVED","providerStatus":"APPROVED","version":1,"updatedAt":"`},
		{"petstore items empty", "/v1/orders/petstore/order-q", nil, 200, `"items":{}`},
		{"other tenant", "/v1/orders/petstore/order-q", map[string]string{"X-Tenant-ID": strings.ToUpper(tenant)}, 200,
			`"tenantId":"` + tenant + `","provider":"petstore","orderId":"order-q","status":"SHIPPED"`},
		{"standard source", "/v1/orders/acme/A-1", nil, 200, `"status":"SHIPPED","providerStatus":"SHIPPED","version":1`},
		{"bunjang", "/v1/orders/bunjang/100", nil, 200, `"status":"UNSPECIFIED","providerStatus":"LOST_IN_SPACE","version":1`},
		{"bunjang item", "/v1/orders/bunjang/100", nil, 200, `"1001":{"status":"APPROVED","providerStatus":"PAYMENT_RECEIVED","version":1,"updatedAt":"`},
		{"unknown order", "/v1/orders/petstore/nope", nil, 404, `"code":"not_found"`},
		{"unknown provider", "/v1/orders/nope/order-q", nil, 404, `"code":"not_found"`},
		{"tenant without the order", "/v1/orders/acme/A-1", map[string]string{"X-Tenant-ID": tenant}, 404, `"code":"not_found"`},
		{"healthz", "/healthz", nil, 200, `"status":"ok"`},
		{"readyz", "/readyz", nil, 200, `"status":"ok"`},
		{"metrics", "/metrics", nil, 200, `hookline_worker_end_to_end_seconds_bucket{provider="petstore"`},
		{"handle latency", "/metrics", nil, 200, `hookline_worker_handle_seconds_bucket{provider="bunjang",result="ack"`},
		{"unknown status metric", "/metrics", nil, 200, `hookline_worker_unknown_status_total{provider="bunjang"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := w.get(t, tt.path, tt.hdr)
			if code != tt.wantCode || !strings.Contains(string(body), tt.want) {
				t.Fatalf("GET %s = %d %s, want %d containing %s", tt.path, code, body, tt.wantCode, tt.want)
			}
		})
	}
	var v orderView
	_, body := w.get(t, "/v1/orders/bunjang/100", nil)
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339, v.UpdatedAt); err != nil || len(v.Items) != 2 {
		t.Fatalf("bunjang order = %s: updatedAt %v, %d items", body, err, len(v.Items))
	}

	e.nats.Stop()
	eventually(t, 10*time.Second, "/readyz 503 naming nats while NATS is down", func() bool {
		code, body := w.get(t, "/readyz", nil)
		return code == http.StatusServiceUnavailable && strings.Contains(string(body), `"nats"`)
	})
	e.nats.Start()
	eventually(t, 20*time.Second, "ready after NATS returned", func() bool {
		code, _ := w.get(t, "/readyz", nil)
		return code == http.StatusOK
	})
	// The consumer survives the restart: a new event is still handled.
	e.publish(petstoreStatus("q-3", "order-q", "SHIPPED", t0.Add(3*time.Minute)).msg())
	eventually(t, 30*time.Second, "event after the NATS restart applied", func() bool {
		code, body := w.get(t, "/v1/orders/petstore/order-q", nil)
		return code == 200 && strings.Contains(string(body), `"status":"SHIPPED"`)
	})
}

// TestIntegrationExhaustedDeliveriesGoToDLQ: an error that is no outage (here the order's key
// holds the wrong Redis type, so the script fails) is retried with backoff, then dead-lettered
// after MaxDeliver deliveries; the stream moves on.
func TestIntegrationExhaustedDeliveriesGoToDLQ(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	if err := e.rdb.Set(ctx, orders.OrderKey("default", "petstore", "broken"), "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e.publish(petstoreStatus("x-1", "broken", "PLACED", t0).msg(), petstoreStatus("x-2", "fine", "PLACED", t0).msg())
	w := e.startWorker(e.config(func(c *Config) { c.Worker.MaxDeliver = 3 }))
	eventually(t, 20*time.Second, "stream moved on", e.allAcked)
	dlq, err := e.js.Stream(ctx, streams.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dlq.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("DLQ message: %v", err)
	}
	if m.Header.Get(streams.HeaderDLQReason) != "max_deliveries" || m.Header.Get(streams.HeaderDLQDeliveries) != "3" ||
		m.Header.Get(streams.HeaderEventID) != "x-1" {
		t.Fatalf("DLQ headers = %v", m.Header)
	}
	if v := w.order(t, "petstore", "fine"); v.Status != "PLACED" {
		t.Fatalf("order after the poison = %+v", v)
	}
}

// TestIntegrationRedisOutageDeadLetters: with the default HOOKLINE_WORKER_OUTAGE_DLQ=true,
// deliveries during a Redis outage count, so messages whose deliveries run out are dead-lettered
// (reason max_deliveries) with their body intact, never acked in silence; the stream moves on.
func TestIntegrationRedisOutageDeadLetters(t *testing.T) {
	e := newEnv(t, true)
	e.startWorker(e.config(func(c *Config) {
		c.Worker.MaxDeliver = 2
		c.Worker.Backoff = []time.Duration{50 * time.Millisecond}
	}))
	e.redis.Stop()
	var during []*nats.Msg
	for i := range 5 {
		during = append(during, petstoreStatus(fmt.Sprintf("x-%d", i), fmt.Sprintf("o-%d", i), "PLACED", t0).msg())
	}
	e.publish(during...)
	eventually(t, 30*time.Second, "every message dead-lettered", func() bool { return e.streamMsgs(streams.DLQ) == 5 })
	eventually(t, 10*time.Second, "consumer moved on", e.allAcked)
	if n := len(e.canonical()); n != 0 {
		t.Fatalf("%d canonical events while Redis was down, want 0", n)
	}
}
