// Package tracing is the services' W3C trace context and OpenTelemetry spans (contract section 9).
//
// Propagation is always on: the W3C TraceContext propagator reads and writes `traceparent` and
// `tracestate` on inbound HTTP requests, NATS message headers and outbound callbacks. Spans are
// recorded and exported with OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; the exporter and the SDK read the other standard
// OTEL_* variables themselves (headers, timeout, compression, sampler, batch processor), and
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the resource.
//
// With export off nothing is recorded and almost nothing is allocated: an inbound trace context
// passes through unchanged (the next hop's parent is the caller's span), and a request without
// one gets a new random trace id (not sampled) so that one id still follows the webhook from the
// ingress to the canonical event. Nothing here sets OpenTelemetry's globals: `hookline dev` runs
// several services, each with its own provider, in one process.
package tracing

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/hookline/hookline/pkg/config"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// The W3C trace context headers, as written on NATS messages (NATS headers are case-sensitive;
// the lower-case spelling is the W3C one).
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// MaxTracestate is the longest tracestate carried on: W3C lets a hop drop a longer one, and a
// stored webhook's headers must stay within the ingress's header reserve.
const MaxTracestate = 512

// Attribute keys operators filter on (docs/operating.md lists them).
const (
	AttrProvider         = attribute.Key("hookline.provider")
	AttrTenant           = attribute.Key("hookline.tenant")
	AttrEventID          = attribute.Key("hookline.event_id")
	AttrOrderID          = attribute.Key("hookline.order_id")
	AttrItemID           = attribute.Key("hookline.item_id")
	AttrOutcome          = attribute.Key("hookline.outcome")
	AttrStreamSequence   = attribute.Key("hookline.stream_sequence")
	AttrDeliveries       = attribute.Key("hookline.deliveries")
	AttrCanonicalEventID = attribute.Key("hookline.canonical_event_ids")
	AttrVersion          = attribute.Key("hookline.version")
	AttrAttempt          = attribute.Key("hookline.attempt")
	AttrCode             = attribute.Key("hookline.error_code")
)

// Standard (semantic convention) attribute keys the spans also carry.
const (
	AttrHTTPMethod      = attribute.Key("http.request.method")
	AttrHTTPRoute       = attribute.Key("http.route")
	AttrHTTPStatus      = attribute.Key("http.response.status_code")
	AttrServerAddress   = attribute.Key("server.address")
	AttrMessagingSystem = attribute.Key("messaging.system")
	AttrMessagingDest   = attribute.Key("messaging.destination.name")
)

// Environment variables that decide whether spans are exported.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
)

// propagator is the one propagator: W3C TraceContext (a stateless value).
var propagator propagation.TraceContext

// Options configure Setup.
type Options struct {
	// Service names the service ("ingress"); the resource's service.name is "hookline-<Service>"
	// unless OTEL_SERVICE_NAME says otherwise.
	Service string
	// Lookup reads the environment (default os.LookupEnv). The OTLP exporter itself reads the
	// process environment for its own settings.
	Lookup config.Lookup
	// Exporter, when set, turns export on with this exporter instead of OTLP/HTTP, whatever the
	// environment says (tests and benchmarks).
	Exporter sdktrace.SpanExporter
	// Log reports whether export is on (default: nop).
	Log *zap.Logger
}

// Tracing starts the spans of one service. A nil or zero *Tracing has export off.
type Tracing struct {
	sdk    *sdktrace.TracerProvider // nil: export off
	tracer trace.Tracer
}

// Setup returns the service's tracing: export on with OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none), off otherwise. Shutdown flushes and stops it.
func Setup(ctx context.Context, o Options) (*Tracing, error) {
	if o.Lookup == nil {
		o.Lookup = os.LookupEnv
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	exp := o.Exporter
	if exp == nil {
		on, endpoint, err := exportOn(o.Lookup)
		if err != nil || !on {
			return &Tracing{}, err
		}
		if exp, err = otlptracehttp.New(ctx); err != nil {
			return nil, fmt.Errorf("%w: OTLP trace exporter: %w", config.ErrInvalid, err)
		}
		o.Log.Info("trace export on", zap.String("endpoint", endpoint))
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "hookline-"+o.Service)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the environment wins
	)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES still leaves a usable resource; say so once.
		o.Log.Warn("trace resource incomplete", zap.Error(err))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{sdk: tp, tracer: tp.Tracer("github.com/hookline/hookline/services/" + o.Service)}, nil
}

// exportOn reads whether spans are exported and the endpoint to log (without credentials).
func exportOn(lookup config.Lookup) (bool, string, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	name, endpoint := EnvTracesEndpoint, get(EnvTracesEndpoint)
	if endpoint == "" {
		name, endpoint = EnvEndpoint, get(EnvEndpoint)
	}
	if endpoint == "" || strings.EqualFold(get(EnvSDKDisabled), "true") {
		return false, "", nil
	}
	switch v := strings.ToLower(get(EnvTracesExporter)); v {
	case "", "otlp":
	case "none":
		return false, "", nil
	default:
		return false, "", fmt.Errorf("%w: %s: only otlp (or none) is supported, got %q", config.ErrInvalid, EnvTracesExporter, v)
	}
	// The exporter would fall back to localhost for a URL it cannot use: refuse it here instead.
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false, "", fmt.Errorf("%w: %s: want an http:// or https:// URL such as http://otel-collector:4318", config.ErrInvalid, name)
	}
	u.User, u.RawQuery, u.Fragment = nil, "", "" // for the log
	return true, u.String(), nil
}

// Exporting reports whether spans are recorded and exported.
func (t *Tracing) Exporting() bool { return t != nil && t.sdk != nil }

// Shutdown exports the spans still buffered and stops the exporter, within ctx. With export off
// it does nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Exporting() {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// Flush exports the spans buffered so far, within ctx.
func (t *Tracing) Flush(ctx context.Context) error {
	if !t.Exporting() {
		return nil
	}
	if err := t.sdk.ForceFlush(ctx); err != nil {
		return fmt.Errorf("tracing: flush: %w", err)
	}
	return nil
}

// Start starts span name as a child of ctx's span. With export off it starts nothing: ctx comes
// back unchanged with its span (non-recording), so the trace context ctx holds still propagates,
// and End on it does nothing.
func (t *Tracing) Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if !t.Exporting() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind))
}

// StartFrom continues the trace context carrier holds (an inbound request's or a message's
// headers), or starts a new trace without one, and starts span name in it. With export off the
// span is the inbound one passed through, or a new trace id that is not sampled.
func (t *Tracing) StartFrom(ctx context.Context, carrier propagation.TextMapCarrier, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	ctx = propagator.Extract(ctx, carrier)
	if !t.Exporting() {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			ctx = trace.ContextWithSpanContext(ctx, newRoot())
		}
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind))
}

// newRoot is a new trace's span context when nothing is recorded: random ids, not sampled.
func newRoot() trace.SpanContext {
	var scc trace.SpanContextConfig
	for !scc.TraceID.IsValid() {
		binary.BigEndian.PutUint64(scc.TraceID[:8], rand.Uint64())
		binary.BigEndian.PutUint64(scc.TraceID[8:], rand.Uint64())
	}
	for !scc.SpanID.IsValid() {
		binary.BigEndian.PutUint64(scc.SpanID[:], rand.Uint64())
	}
	return trace.NewSpanContext(scc)
}

// Inject writes ctx's trace context (traceparent, and tracestate when there is one) into a NATS
// message's headers (not nil), replacing what they held. Nothing is written when ctx holds none.
func Inject(ctx context.Context, h nats.Header) { propagator.Inject(ctx, NATSCarrier(h)) }

// InjectHTTP writes ctx's trace context into an outbound request's headers (not nil).
func InjectHTTP(ctx context.Context, h http.Header) { propagator.Inject(ctx, HTTPCarrier(h)) }

// Fail marks span failed with err (when it records).
func Fail(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
