package tracing

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	inTraceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	inSpanID   = "00f067aa0ba902b7"
	inParent   = "00-" + inTraceID + "-" + inSpanID + "-01"
	inState    = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
	shortState = "a=1"
)

func TestNATSCarrier(t *testing.T) {
	long := "k=" + strings.Repeat("v", MaxTracestate)
	for _, tt := range []struct {
		name string
		give nats.Header
		key  string
		want string
	}{
		{"exact", nats.Header{"traceparent": {inParent}}, HeaderTraceparent, inParent},
		{"capitalised by the publisher", nats.Header{"Traceparent": {inParent}}, HeaderTraceparent, inParent},
		{"exact wins", nats.Header{"traceparent": {"a"}, "TRACEPARENT": {"b"}}, HeaderTraceparent, "a"},
		{"absent", nats.Header{"Hookline-Provider": {"petstore"}}, HeaderTraceparent, ""},
		{"empty values", nats.Header{"traceparent": {}}, HeaderTraceparent, ""},
		{"first value", nats.Header{"tracestate": {shortState, "b=2"}}, HeaderTracestate, shortState},
		{"tracestate at the limit", nats.Header{"tracestate": {long[:MaxTracestate]}}, HeaderTracestate, long[:MaxTracestate]},
		{"tracestate over the limit", nats.Header{"tracestate": {long}}, HeaderTracestate, ""},
		{"other header over the limit", nats.Header{"x": {long}}, "x", long},
		{"nil header", nil, HeaderTraceparent, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := NATSCarrier(tt.give).Get(tt.key); got != tt.want {
				t.Errorf("Get(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}

	h := nats.Header{"traceparent": {"old", "older"}, "Hookline-Tenant": {"default"}}
	c := NATSCarrier(h)
	c.Set(HeaderTraceparent, inParent)
	if got := h["traceparent"]; len(got) != 1 || got[0] != inParent {
		t.Errorf("after Set: %q, want just %q", got, inParent)
	}
	keys := c.Keys()
	sort.Strings(keys)
	if strings.Join(keys, ",") != "Hookline-Tenant,traceparent" {
		t.Errorf("Keys = %q", keys)
	}
}

func TestHTTPCarrier(t *testing.T) {
	long := "k=" + strings.Repeat("v", MaxTracestate)
	for _, tt := range []struct {
		name string
		give map[string]string // set with http.Header.Set (canonical names)
		key  string
		want string
	}{
		{"traceparent", map[string]string{"traceparent": inParent}, HeaderTraceparent, inParent},
		{"tracestate", map[string]string{"tracestate": inState}, HeaderTracestate, inState},
		{"absent", map[string]string{"X-Tenant-ID": "t"}, HeaderTraceparent, ""},
		{"tracestate over the limit", map[string]string{"tracestate": long}, HeaderTracestate, ""},
		{"other header", map[string]string{"X-Tenant-ID": "t"}, "x-tenant-id", "t"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.give {
				h.Set(k, v)
			}
			if got := HTTPCarrier(h).Get(tt.key); got != tt.want {
				t.Errorf("Get(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
	h := http.Header{}
	HTTPCarrier(h).Set(HeaderTraceparent, inParent)
	if got := h.Get("traceparent"); got != inParent {
		t.Errorf("Set then http.Header.Get = %q, want %q", got, inParent)
	}
	h = http.Header{"Traceparent": {inParent}}
	if n := testing.AllocsPerRun(100, func() { _ = HTTPCarrier(h).Get(HeaderTraceparent) }); n != 0 {
		t.Errorf("Get allocates %v times, want 0", n)
	}
}

// offTracing is Setup with export off.
func offTracing(t *testing.T) *Tracing {
	t.Helper()
	tr, err := Setup(context.Background(), Options{Service: "test", Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Exporting() {
		t.Fatal("export on with an empty environment")
	}
	return tr
}

func TestExportOffPropagates(t *testing.T) {
	for _, tr := range []*Tracing{offTracing(t), nil, {}} {
		// An inbound trace context passes through unchanged: the next hop's parent is the caller's.
		in := http.Header{}
		in.Set("traceparent", inParent)
		in.Set("tracestate", inState)
		ctx, span := tr.StartFrom(context.Background(), HTTPCarrier(in), "POST /webhooks/{provider}", trace.SpanKindServer)
		if span.IsRecording() {
			t.Error("span records with export off")
		}
		cctx, child := tr.Start(ctx, "publish", trace.SpanKindProducer)
		if cctx != ctx || !child.SpanContext().Equal(span.SpanContext()) {
			t.Error("a child span was started with export off")
		}
		child.End()
		span.End()
		out := nats.NewMsg("webhooks.petstore.default")
		Inject(cctx, out.Header)
		if got := out.Header.Get("traceparent"); got != inParent {
			t.Errorf("traceparent = %q, want the inbound %q", got, inParent)
		}
		if got := out.Header.Get("tracestate"); got != inState {
			t.Errorf("tracestate = %q, want the inbound %q", got, inState)
		}

		// Without one, a new trace: valid ids, not sampled, and the next hop continues it.
		ctx, _ = tr.StartFrom(context.Background(), HTTPCarrier(http.Header{}), "POST /webhooks/{provider}", trace.SpanKindServer)
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() || sc.IsSampled() {
			t.Fatalf("new trace: valid %v sampled %v, want valid and not sampled", sc.IsValid(), sc.IsSampled())
		}
		msg := nats.NewMsg("webhooks.petstore.default")
		Inject(ctx, msg.Header)
		want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-00"
		if got := msg.Header.Get("traceparent"); got != want {
			t.Fatalf("traceparent = %q, want %q", got, want)
		}
		if _, ok := msg.Header["tracestate"]; ok {
			t.Error("tracestate written for a trace without one")
		}
		wctx, _ := tr.StartFrom(context.Background(), NATSCarrier(msg.Header), "process WEBHOOKS", trace.SpanKindConsumer)
		if got := trace.SpanContextFromContext(wctx).TraceID(); got != sc.TraceID() {
			t.Errorf("the next hop's trace id %s, want %s", got, sc.TraceID())
		}
		other, _ := tr.StartFrom(context.Background(), HTTPCarrier(http.Header{}), "x", trace.SpanKindServer)
		if trace.SpanContextFromContext(other).TraceID() == sc.TraceID() {
			t.Error("two new traces got the same trace id")
		}
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown with export off: %v", err)
		}
	}
}

func TestExportOffAllocations(t *testing.T) {
	tr := offTracing(t)
	ctx, _ := tr.StartFrom(context.Background(), HTTPCarrier(http.Header{}), "root", trace.SpanKindServer)
	if n := testing.AllocsPerRun(100, func() {
		_, span := tr.Start(ctx, "child", trace.SpanKindInternal)
		span.End()
	}); n != 0 {
		t.Errorf("a child span with export off allocates %v times, want 0", n)
	}
}

func TestSetupFromEnvironment(t *testing.T) {
	for _, tt := range []struct {
		name    string
		give    map[string]string
		want    bool
		wantErr error
	}{
		{"nothing set", nil, false, nil},
		{"endpoint", map[string]string{EnvEndpoint: "http://127.0.0.1:4318"}, true, nil},
		{"traces endpoint", map[string]string{EnvTracesEndpoint: "http://127.0.0.1:4318/v1/traces"}, true, nil},
		{"empty endpoint", map[string]string{EnvEndpoint: " "}, false, nil},
		{"sdk disabled", map[string]string{EnvEndpoint: "http://127.0.0.1:4318", EnvSDKDisabled: "true"}, false, nil},
		{"exporter none", map[string]string{EnvEndpoint: "http://127.0.0.1:4318", EnvTracesExporter: "none"}, false, nil},
		{"exporter otlp", map[string]string{EnvEndpoint: "http://127.0.0.1:4318", EnvTracesExporter: "otlp"}, true, nil},
		{"exporter unsupported", map[string]string{EnvEndpoint: "http://127.0.0.1:4318", EnvTracesExporter: "zipkin"}, false, config.ErrInvalid},
		{"endpoint without scheme", map[string]string{EnvEndpoint: "otel-collector:4318"}, false, config.ErrInvalid},
		{"traces endpoint not a URL", map[string]string{EnvTracesEndpoint: "http://%zz"}, false, config.ErrInvalid},
		{"https endpoint", map[string]string{EnvEndpoint: "https://user:pw@collector.example:4318"}, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.give[k]; return v, ok }
			tr, err := Setup(context.Background(), Options{Service: "test", Lookup: lookup})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_ = tr.Shutdown(ctx) // nothing listens on the endpoint: the flush may fail
			}()
			if got := tr.Exporting(); got != tt.want {
				t.Errorf("Exporting() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExportOffSendsNothing: with OTEL_SDK_DISABLED a receiver that is configured gets nothing,
// and with it enabled it gets the spans (through the real OTLP/HTTP exporter).
func TestExportOffSendsNothing(t *testing.T) {
	for _, disabled := range []string{"true", "false"} {
		t.Run("disabled="+disabled, func(t *testing.T) {
			rcv := testkit.StartOTLPReceiver(t)
			t.Setenv(EnvEndpoint, rcv.URL)
			t.Setenv(EnvSDKDisabled, disabled)
			tr, err := Setup(context.Background(), Options{Service: "test"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, span := tr.StartFrom(context.Background(), HTTPCarrier(http.Header{}), "root", trace.SpanKindServer)
			_, child := tr.Start(ctx, "child", trace.SpanKindInternal)
			child.End()
			span.End()
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := rcv.Spans()
			if disabled == "true" {
				if rcv.Posts() != 0 || len(spans) != 0 {
					t.Fatalf("export off: receiver got %d requests, %d spans", rcv.Posts(), len(spans))
				}
				return
			}
			if len(spans) != 2 {
				t.Fatalf("export on: %d spans, want 2: %+v", len(spans), spans)
			}
			root, ok := rcv.Find("hookline-test", "root")
			if !ok {
				t.Fatalf("no root span of service hookline-test: %+v", spans)
			}
			c, ok := rcv.Find("hookline-test", "child")
			if !ok || c.ParentSpanID != root.SpanID || c.TraceID != root.TraceID {
				t.Errorf("child %+v is not the child of root %+v", c, root)
			}
		})
	}
}

func TestServiceNameFromEnvironment(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	t.Setenv(EnvTracesEndpoint, rcv.URL+"/v1/traces")
	t.Setenv("OTEL_SERVICE_NAME", "custom-name")
	tr, err := Setup(context.Background(), Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.StartFrom(context.Background(), HTTPCarrier(http.Header{}), "root", trace.SpanKindServer)
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := rcv.Find("custom-name", "root"); !ok {
		t.Errorf("no span of service custom-name: %+v", rcv.Spans())
	}
}

// onTracing records into an in-memory exporter.
func onTracing(t *testing.T) (*Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := Setup(context.Background(), Options{Service: "test", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

func TestExportOnContinuesInbound(t *testing.T) {
	tr, exp := onTracing(t)
	in := http.Header{}
	in.Set("traceparent", inParent)
	in.Set("tracestate", inState)
	ctx, span := tr.StartFrom(context.Background(), HTTPCarrier(in), "server", trace.SpanKindServer)
	if !span.IsRecording() {
		t.Fatal("span does not record with export on")
	}
	cctx, child := tr.Start(ctx, "publish", trace.SpanKindProducer)
	msg := nats.NewMsg("s")
	Inject(cctx, msg.Header)
	child.End()
	span.End()
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	srv, pub := byName["server"], byName["publish"]
	if srv.SpanContext.TraceID().String() != inTraceID || srv.Parent.SpanID().String() != inSpanID || !srv.Parent.IsRemote() {
		t.Errorf("server span: trace %s parent %s, want trace %s parent %s (remote)",
			srv.SpanContext.TraceID(), srv.Parent.SpanID(), inTraceID, inSpanID)
	}
	if srv.SpanKind != trace.SpanKindServer || pub.SpanKind != trace.SpanKindProducer {
		t.Errorf("kinds %v, %v", srv.SpanKind, pub.SpanKind)
	}
	if pub.Parent.SpanID() != srv.SpanContext.SpanID() {
		t.Errorf("publish span's parent %s, want the server span %s", pub.Parent.SpanID(), srv.SpanContext.SpanID())
	}
	want := "00-" + inTraceID + "-" + pub.SpanContext.SpanID().String() + "-01"
	if got := msg.Header.Get("traceparent"); got != want {
		t.Errorf("injected traceparent %q, want %q", got, want)
	}
	if got := msg.Header.Get("tracestate"); got != inState {
		t.Errorf("injected tracestate %q, want %q", got, inState)
	}
}

func TestFail(t *testing.T) {
	tr, exp := onTracing(t)
	_, span := tr.StartFrom(context.Background(), HTTPCarrier(http.Header{}), "x", trace.SpanKindServer)
	Fail(span, errors.New("boom"))
	Fail(span, nil)
	span.End()
	Fail(trace.SpanFromContext(context.Background()), errors.New("not recording: nothing happens"))
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := exp.GetSpans()
	if len(got) != 1 || got[0].Status.Description != "boom" || len(got[0].Events) != 1 {
		t.Fatalf("spans %+v, want one with status boom and one error event", got)
	}
}
