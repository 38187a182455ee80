package process

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hookline/hookline/pkg/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	inTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	inSpanID  = "00f067aa0ba902b7"
	inParent  = "00-" + inTraceID + "-" + inSpanID + "-01"
)

var newTraceRe = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-00$`)

// Export off: each canonical event carries the WEBHOOKS message's traceparent (and tracestate)
// unchanged; a message without one still gives its event a traceparent (a new trace).
func TestCanonicalEventCarriesTraceExportOff(t *testing.T) {
	f := newFixture(t)
	m := petstoreMsg(1, "ev-t1", "ord-t1", "PLACED")
	m.header.Set("traceparent", inParent)
	m.header.Set("tracestate", "rojo=1")
	if err := f.h.Handle(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := f.h.Handle(context.Background(), petstoreMsg(2, "ev-t2", "ord-t2", "PLACED")); err != nil {
		t.Fatal(err)
	}
	if len(f.pub.msgs) != 2 {
		t.Fatalf("%d canonical events, want 2", len(f.pub.msgs))
	}
	if got := f.pub.msgs[0].Header.Get("traceparent"); got != inParent {
		t.Errorf("traceparent %q, want the message's %q", got, inParent)
	}
	if got := f.pub.msgs[0].Header.Get("tracestate"); got != "rojo=1" {
		t.Errorf("tracestate %q, want the message's", got)
	}
	if got := f.pub.msgs[1].Header.Get("traceparent"); !newTraceRe.MatchString(got) {
		t.Errorf("without a traceparent on the message: %q, want a new trace", got)
	}
}

// Export on: the message's span continues its traceparent, decode, apply and publish are its
// children, the canonical event's traceparent names the publish span, and the attributes say
// what happened; a redelivery is a second span with outcome duplicate and no event.
func TestWorkerSpans(t *testing.T) {
	f := newFixture(t)
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.Setup(context.Background(), tracing.Options{Service: "worker", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	f.h.o.Tracing = tr

	for seq := range uint64(2) { // the second is the same event re-sent (another message)
		m := petstoreMsg(7+seq, "ev-s1", "ord-s1", "APPROVED")
		m.header.Set("traceparent", inParent)
		if err := f.h.Handle(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var process []tracetest.SpanStub
	children := map[trace.SpanID]map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		if s.Name == SpanProcess {
			process = append(process, s)
			continue
		}
		p := s.Parent.SpanID()
		if children[p] == nil {
			children[p] = map[string]tracetest.SpanStub{}
		}
		children[p][s.Name] = s
	}
	if len(process) != 2 {
		t.Fatalf("%d process spans, want 2", len(process))
	}
	first := process[0]
	if first.SpanContext.TraceID().String() != inTraceID || first.Parent.SpanID().String() != inSpanID || first.SpanKind != trace.SpanKindConsumer {
		t.Errorf("process span trace %s parent %s kind %v, want the message's trace and parent, consumer",
			first.SpanContext.TraceID(), first.Parent.SpanID(), first.SpanKind)
	}
	kids := children[first.SpanContext.SpanID()]
	for _, name := range []string{SpanDecode, SpanApply, SpanPublish} {
		if _, ok := kids[name]; !ok {
			t.Errorf("no %s span under the process span (children %v)", name, kids)
		}
	}
	if len(f.pub.msgs) != 1 {
		t.Fatalf("%d canonical events, want 1", len(f.pub.msgs))
	}
	want := "00-" + inTraceID + "-" + kids[SpanPublish].SpanContext.SpanID().String() + "-01"
	if got := f.pub.msgs[0].Header.Get("traceparent"); got != want {
		t.Errorf("canonical event traceparent %q, want %q (the publish span)", got, want)
	}
	attrs := func(s tracetest.SpanStub) map[attribute.Key]string {
		out := map[attribute.Key]string{}
		for _, kv := range s.Attributes {
			out[kv.Key] = kv.Value.String()
		}
		return out
	}
	for i, wantOutcome := range []string{"applied", "duplicate"} {
		got := attrs(process[i])
		for k, v := range map[attribute.Key]string{tracing.AttrProvider: "petstore", tracing.AttrTenant: "default",
			tracing.AttrEventID: "ev-s1", tracing.AttrOrderID: "ord-s1", tracing.AttrStreamSequence: fmt.Sprint(7 + i),
			tracing.AttrOutcome: wantOutcome} {
			if got[k] != v {
				t.Errorf("process span %d: %s = %q, want %q", i, k, got[k], v)
			}
		}
	}
	if got := attrs(process[0])[tracing.AttrCanonicalEventID]; got != `["petstore:default:ev-s1"]` {
		t.Errorf("canonical event ids %s", got)
	}
	if _, ok := children[process[1].SpanContext.SpanID()][SpanPublish]; ok {
		t.Error("the duplicate published")
	}
}
