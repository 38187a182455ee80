package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
)

// acker acknowledges at once: the benchmark measures the handler, not JetStream.
type acker struct{}

func (acker) Publish(context.Context, *nats.Msg, string) (*jetstream.PubAck, error) {
	return &jetstream.PubAck{Stream: "WEBHOOKS", Sequence: 1}, nil
}

// BenchmarkWebhookHandler is the CPU one webhook costs in the ingress's own code (routing, body,
// signature, envelope, headers, metrics), with publishing stubbed out:
//
//	go test -run '^$' -bench BenchmarkWebhookHandler -benchmem ./services/ingress/internal/httpapi/
func BenchmarkWebhookHandler(b *testing.B) { benchWebhook(b, nil, nil) }

// BenchmarkIngressTraceOff is the same with an inbound traceparent and tracestate, export off
// (the trace context is only carried onto the message); BenchmarkIngressTraceOn records the
// request's spans into an exporter that discards them:
//
//	go test -run '^$' -bench 'BenchmarkWebhookHandler|BenchmarkIngressTrace' -benchmem ./services/ingress/internal/httpapi/
func BenchmarkIngressTraceOff(b *testing.B) {
	benchWebhook(b, &tracing.Tracing{}, map[string]string{"traceparent": benchParent, "tracestate": "rojo=00f067aa0ba902b7"})
}

func BenchmarkIngressTraceOn(b *testing.B) {
	tr, err := tracing.Setup(context.Background(), tracing.Options{Service: "bench", Exporter: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	b.Run("new-trace", func(b *testing.B) { benchWebhook(b, tr, nil) })
	b.Run("inbound", func(b *testing.B) { benchWebhook(b, tr, map[string]string{"traceparent": benchParent}) })
}

const benchParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// discard is a span exporter that drops what it gets.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

func benchWebhook(b *testing.B, tr *tracing.Tracing, extra map[string]string) {
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{"HOOKLINE_PETSTORE_SECRETS": "ps", "HOOKLINE_BUNJANG_SECRETS": "bs"}[k]
		return v, ok
	}, config.Defaults{})
	if err != nil {
		b.Fatal(err)
	}
	api, err := New(cfg, acker{}, NewMetrics(prometheus.NewRegistry()), zap.NewNop(), Options{Tracing: tr})
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(zap.NewNop())
	api.Register(e)
	now := time.Now().UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, path, header string
		body               []byte
		sign               func([]byte) string
		want               int
	}{
		{"petstore", "/webhooks/petstore", petstore.HeaderSignature,
			[]byte(`{"eventId":"9f4a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c","eventType":"order.statusChanged","timestamp":"` + now + `","data":{"order":{"id":"019b4139-1234-7abc-8def-123456789abc","status":"APPROVED","totalAmount":"125.50","currency":"USD"},"previousStatus":"PLACED","newStatus":"APPROVED","changedAt":"` + now + `"}}`),
			func(b []byte) string { return petstore.Sign([]byte("ps"), b) }, http.StatusOK},
		{"bunjang", "/webhooks/bunjang", bunjang.HeaderSignature,
			[]byte(`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":503344,"orderStatus":"PAYMENT_RECEIVED"}]}}`),
			func(b []byte) string { return bunjang.Sign([]byte("bs"), time.Now(), b) }, http.StatusNoContent},
	} {
		sig := tc.sign(tc.body)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, tc.path, bytes.NewReader(tc.body))
				req.Header.Set(tc.header, sig)
				for k, v := range extra {
					req.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					b.Fatal(fmt.Sprint(rec.Code, rec.Body.String()))
				}
			}
		})
	}
}
