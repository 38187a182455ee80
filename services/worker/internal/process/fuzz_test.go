package process

import (
	"context"
	"errors"
	"testing"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
)

// Both targets run the real handler against a real redis-server (testkit, one per fuzz worker
// process), flushed before every input, with a recorder as the ORDERS publisher.

var fuzzProviders = []string{"petstore", "bunjang", "acme"}

// check runs msg through the handler and asserts the exactly-once promise of issue 10 item 1:
// either nothing changed in Redis and nothing was published (a dead letter, or an acked event
// the worker does not act on), or the state changed and every applied unit yielded one
// canonical event that decodes. It returns the handler's error.
func (f *fixture) check(t *testing.T, msg *fakeMsg) error {
	t.Helper()
	ctx := context.Background()
	rdb := f.redis.Client(t)
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	f.pub.msgs = nil
	err := f.h.Handle(ctx, msg)
	var dl *consume.DeadLetterError
	if err != nil && !errors.As(err, &dl) {
		t.Fatalf("Handle = %v: neither handled nor a dead letter, with Redis up", err)
	}
	keys, kerr := rdb.DBSize(ctx).Result()
	if kerr != nil {
		t.Fatal(kerr)
	}
	if keys == 0 || err != nil {
		if keys != 0 || len(f.pub.msgs) != 0 {
			t.Fatalf("Handle = %v left %d Redis keys and %d events: a half-applied message", err, keys, len(f.pub.msgs))
		}
		return err
	}
	if len(f.pub.msgs) == 0 {
		t.Fatalf("state changed (%d keys) without a canonical event", keys)
	}
	for _, m := range f.pub.msgs {
		var ev ordersv1.OrderStatusChanged
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("published event does not decode: %v", err)
		}
		if ev.GetOrderId() == "" || ev.GetSourceEventId() == "" || ev.GetVersion() != 1 {
			t.Fatalf("published event %v: want an order, a source event and version 1", &ev)
		}
	}
	return nil
}

// fuzzMsg is a WEBHOOKS message as the ingress stores it.
func fuzzMsg(provider, eventID, eventType string, body []byte) *fakeMsg {
	h := nats.Header{}
	h.Set(streams.HeaderEventID, eventID)
	h.Set(streams.HeaderEventType, eventType)
	h.Set(streams.HeaderReceivedAt, "2025-01-01T00:00:01.5Z")
	return &fakeMsg{subject: "webhooks." + provider + ".default", seq: 1, delivered: 1, header: h, data: body}
}

// FuzzDecodeApplyEncode is the property test of issue 10 item 1: arbitrary bytes in every field
// the pipeline reads (spliced raw into the JSON, so they may be invalid UTF-8, escapes, quotes or
// break the JSON) and decode → apply → encode either changes nothing or changes state and yields
// its events.
func FuzzDecodeApplyEncode(f *testing.F) {
	fx := newFixture(f)
	for _, s := range [][5]string{
		{"e-1", "order.statusChanged", "o-1", "PLACED", "1"},
		{"01K0AZRPB4N36H9NMDJRMYXM7A", "order.status.changed", "100", "SHIPPED", "1001"},
		{"msg_1", "order.status.changed", "A-1", "SHIPPED", "2"},
		{"e-2", "payment.succeeded", "o\xff", "PLA\xffCED", "1e2"},
		{" x", "order.statusChanged", `o\ud800`, "S", "1.0"},
		{"e-3", "order.statusChanged", `o","orderId":"p`, "S", `1,"orderItemId":2`},
	} {
		for p := range fuzzProviders {
			f.Add(uint8(p), []byte(s[0]), []byte(s[1]), []byte(s[2]), []byte(s[3]), []byte(s[4]))
		}
	}
	f.Fuzz(func(t *testing.T, p uint8, eventID, eventType, orderID, status, itemID []byte) {
		provider := fuzzProviders[int(p)%len(fuzzProviders)]
		var body string
		switch provider {
		case "petstore":
			body = `{"eventId":"` + string(eventID) + `","eventType":"` + string(eventType) + `","timestamp":"2025-01-01T00:00:00Z","data":{"order":{"id":"` +
				string(orderID) + `"},"newStatus":"` + string(status) + `","changedAt":"2025-01-01T00:00:00Z"}}`
		case "bunjang":
			body = `{"eventId":"` + string(eventID) + `","eventType":"` + string(eventType) + `","payloadVersion":"v1","data":{"orderId":` +
				string(orderID) + `,"orderItems":[{"orderItemId":` + string(itemID) + `,"pid":1,"orderStatus":"` + string(status) + `"}]}}`
		default:
			body = `{"type":"` + string(eventType) + `","data":{"orderId":"` + string(orderID) + `","status":"` + string(status) + `"}}`
		}
		fx.check(t, fuzzMsg(provider, string(eventID), string(eventType), []byte(body)))
	})
}

// ingressAccepts is the ingress's envelope check for provider: the same provider parser (the
// ingress adds only the Petstore timestamp window, which a stored message is past).
func ingressAccepts(provider string, body []byte, webhookID string) (envelope.Envelope, error) {
	switch provider {
	case "petstore":
		return petstore.Parse(body)
	case "bunjang":
		return bunjang.Parse(body)
	default:
		return standardwebhooks.Parse(body, webhookID)
	}
}

// FuzzIngressWorkerAgree is the differential test of issue 10 item 3, end to end: every body the
// ingress check accepts, stored as the ingress stores it, the worker handles (applied and
// encoded, or acked as an event type it does not act on), never dead-letters; and every body the
// ingress refuses, the worker dead-letters without a state change.
func FuzzIngressWorkerAgree(f *testing.F) {
	fx := newFixture(f)
	for _, s := range []string{
		`{"eventId":"e1","eventType":"order.statusChanged","timestamp":"2025-01-01T00:00:00Z","data":{"order":{"id":"o"},"newStatus":"SHIPPED"}}`,
		`{"id":"e2","eventType":"payment.succeeded","timestamp":"2025-01-01T00:00:00Z","data":{"order":{"id":42}}}`,
		`{"eventId":"e3","eventType":"pet.adopted","timestamp":"2025-01-01T00:00:00Z"}`,
		`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":5,"orderStatus":"SHIPPED"},{"orderItemId":"1002","orderStatus":"DELIVERED"}]}}`,
		`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","data":{"orderId":1e2,"orderItems":[{"orderItemId":1,"orderStatus":"S"}]}}`,
		`{"type":"order.status.changed","timestamp":"2025-01-01T00:00:00Z","data":{"orderId":"A-1","status":"SHIPPED"}}`,
		`{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED","status":"PLACED"}}`,
		"{\"type\":\"order.status.changed\",\"data\":{\"orderId\":\"A\xff\",\"status\":\"SHIPPED\"}}",
		`{"eventId":"e1","eventType":"order.statusChanged","timestamp":"2025-01-01T00:00:00Z","data":{"order":{"id":"o\udc00"},"newStatus":"S"}}`,
	} {
		for p := range fuzzProviders {
			f.Add(uint8(p), []byte(s), "msg_1")
		}
	}
	f.Fuzz(func(t *testing.T, p uint8, body []byte, webhookID string) {
		provider := fuzzProviders[int(p)%len(fuzzProviders)]
		env, ingressErr := ingressAccepts(provider, body, webhookID)
		hdrID, hdrType := env.EventID, env.EventType
		if ingressErr != nil {
			hdrID, hdrType = webhookID, "" // published straight to WEBHOOKS, past the ingress
		}
		err := fx.check(t, fuzzMsg(provider, hdrID, hdrType, body))
		var dl *consume.DeadLetterError
		switch {
		case ingressErr == nil && err != nil:
			t.Fatalf("ingress accepted %q (%s), worker: %v", body, provider, err)
		case ingressErr != nil && (!errors.As(err, &dl) || dl.Reason != ReasonMalformed):
			t.Fatalf("ingress refused %q (%s: %v), worker: %v", body, provider, ingressErr, err)
		case ingressErr == nil && env.Kind != envelope.KindOther && len(fx.pub.msgs) != len(env.Changes):
			t.Fatalf("ingress accepted %q with %d changes, worker published %d", body, len(env.Changes), len(fx.pub.msgs))
		case ingressErr == nil && env.Kind != envelope.KindOther && fx.pub.msgs[0].Header.Get(streams.HeaderEventID) != env.EventID:
			t.Fatalf("worker published source event %q, ingress read %q", fx.pub.msgs[0].Header.Get(streams.HeaderEventID), env.EventID)
		}
	})
}
