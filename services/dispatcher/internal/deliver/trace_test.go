package deliver

import (
	"context"
	"testing"

	"github.com/hookline/hookline/pkg/tracing"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	inTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	inSpanID  = "00f067aa0ba902b7"
	inParent  = "00-" + inTraceID + "-" + inSpanID + "-01"
)

func tracedMsg(t *testing.T, seq, delivered uint64) *fakeMsg {
	m := msgFor(t, seq, delivered)
	m.header = nats.Header{"traceparent": {inParent}}
	return m
}

// Export off: the callback carries the CALLBACKS message's traceparent unchanged.
func TestCallbackTraceparentExportOff(t *testing.T) {
	s := &fakeSender{resps: []Response{{Status: 204}}}
	d := newTestDeliverer(t, s, &memStore{recs: map[uint64]Record{}}, nil)
	if err := d.Handle(context.Background(), tracedMsg(t, 7, 1)); err != nil {
		t.Fatal(err)
	}
	if got := s.got[0].header.Get("traceparent"); got != inParent {
		t.Errorf("callback traceparent %q, want the message's %q", got, inParent)
	}
}

// Export on: a span per delivery continues the message's trace; each HTTP attempt is a client
// span under it whose context is the callback's traceparent; outcomes retry, then delivered.
func TestDispatcherSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.Setup(context.Background(), tracing.Options{Service: "dispatcher", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	s := &fakeSender{resps: []Response{{Status: 503}, {Status: 204}}}
	d := newTestDeliverer(t, s, &memStore{recs: map[uint64]Record{}}, nil)
	d.o.Tracing = tr
	if err := d.Handle(context.Background(), tracedMsg(t, 9, 1)); err == nil {
		t.Fatal("a 503 was not retried")
	}
	if err := d.Handle(context.Background(), tracedMsg(t, 9, 2)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var deliveries, attempts []tracetest.SpanStub
	for _, sp := range exp.GetSpans() {
		switch sp.Name {
		case SpanDeliver:
			deliveries = append(deliveries, sp)
		case SpanAttempt:
			attempts = append(attempts, sp)
		}
	}
	if len(deliveries) != 2 || len(attempts) != 2 {
		t.Fatalf("%d delivery spans, %d attempt spans, want 2 and 2", len(deliveries), len(attempts))
	}
	for i, want := range []struct {
		outcome, attempt, status string
	}{{OutcomeRetry, "1", "503"}, {OutcomeDelivered, "2", "204"}} {
		del, att := deliveries[i], attempts[i]
		if del.SpanContext.TraceID().String() != inTraceID || del.Parent.SpanID().String() != inSpanID || del.SpanKind != trace.SpanKindConsumer {
			t.Errorf("delivery %d: trace %s parent %s kind %v", i, del.SpanContext.TraceID(), del.Parent.SpanID(), del.SpanKind)
		}
		if att.Parent.SpanID() != del.SpanContext.SpanID() || att.SpanKind != trace.SpanKindClient {
			t.Errorf("attempt %d: parent %s kind %v, want the delivery span %s, client", i, att.Parent.SpanID(), att.SpanKind, del.SpanContext.SpanID())
		}
		if got, wantTP := s.got[i].header.Get("traceparent"), "00-"+inTraceID+"-"+att.SpanContext.SpanID().String()+"-01"; got != wantTP {
			t.Errorf("attempt %d: callback traceparent %q, want %q", i, got, wantTP)
		}
		da, aa := attrMap(del.Attributes), attrMap(att.Attributes)
		if da[tracing.AttrOutcome] != want.outcome || da[tracing.AttrAttempt] != want.attempt ||
			da[tracing.AttrOrderID] != "ord-42" || da[tracing.AttrTenant] != "default" || da[tracing.AttrStreamSequence] != "9" {
			t.Errorf("delivery %d attributes %v", i, da)
		}
		if aa[tracing.AttrHTTPStatus] != want.status || aa[tracing.AttrServerAddress] != "receiver.example" {
			t.Errorf("attempt %d attributes %v", i, aa)
		}
		for k, v := range aa {
			if v == testReq.CallbackURL {
				t.Errorf("attempt span attribute %s holds the callback URL", k)
			}
		}
	}
}

func attrMap(kvs []attribute.KeyValue) map[attribute.Key]string {
	out := map[attribute.Key]string{}
	for _, kv := range kvs {
		out[kv.Key] = kv.Value.String()
	}
	return out
}
