package tracing

import (
	"context"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// discard is an exporter that drops what it gets: export on, without a network.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// The span work of each path, as the services do it, with export off and on (to an exporter
// that discards):
//
//	go test -run '^$' -bench BenchmarkSpans -benchmem ./pkg/tracing/
func BenchmarkSpansOff(b *testing.B) { benchSpans(b, &Tracing{}) }

func BenchmarkSpansOn(b *testing.B) {
	tr, err := Setup(context.Background(), Options{Service: "bench", Exporter: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	benchSpans(b, tr)
}

// The headers injected into are reused (cleared), as a message's headers exist anyway: what is
// counted is the tracing's own work.
func benchSpans(b *testing.B, tr *Tracing) {
	inbound := http.Header{"Traceparent": {inParent}}
	out, outHTTP := nats.Header{}, http.Header{}
	ingress := func(b *testing.B, h http.Header) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, span := tr.StartFrom(context.Background(), HTTPCarrier(h), "POST /webhooks/{provider}", trace.SpanKindServer)
			_, v := tr.Start(ctx, "verify", trace.SpanKindInternal)
			v.End()
			pctx, p := tr.Start(ctx, "publish WEBHOOKS", trace.SpanKindProducer)
			clear(out)
			Inject(pctx, out)
			p.End()
			span.End()
		}
	}
	b.Run("ingress-new-trace", func(b *testing.B) { ingress(b, http.Header{}) })
	b.Run("ingress-inbound", func(b *testing.B) { ingress(b, inbound) })
	msgHeader := nats.Header{"traceparent": {inParent}, "Hookline-Provider": {"petstore"}}
	b.Run("worker", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, span := tr.StartFrom(context.Background(), NATSCarrier(msgHeader), "process WEBHOOKS", trace.SpanKindConsumer)
			for _, name := range []string{"decode", "apply"} {
				_, s := tr.Start(ctx, name, trace.SpanKindInternal)
				s.End()
			}
			pctx, p := tr.Start(ctx, "publish ORDERS", trace.SpanKindProducer)
			clear(out)
			Inject(pctx, out)
			p.End()
			span.End()
		}
	})
	b.Run("dispatcher", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, span := tr.StartFrom(context.Background(), NATSCarrier(msgHeader), "deliver CALLBACKS", trace.SpanKindConsumer)
			actx, a := tr.Start(ctx, "POST", trace.SpanKindClient)
			clear(outHTTP)
			InjectHTTP(actx, outHTTP)
			a.End()
			span.End()
		}
	})
}
