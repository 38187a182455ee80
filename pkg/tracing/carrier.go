package tracing

import (
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// NATSCarrier is a propagation.TextMapCarrier over NATS message headers. NATS header names are
// case-sensitive: Set writes the key as given (the propagator's lower-case traceparent and
// tracestate), and Get falls back to a case-insensitive match for a publisher that capitalised
// them. A tracestate longer than MaxTracestate reads as absent.
type NATSCarrier nats.Header

var _ propagation.TextMapCarrier = NATSCarrier(nil)

// Get returns the first value of key.
func (h NATSCarrier) Get(key string) string {
	v, ok := h[key]
	if !ok {
		for k, vs := range h {
			if strings.EqualFold(k, key) {
				v, ok = vs, true
				break
			}
		}
	}
	if !ok || len(v) == 0 {
		return ""
	}
	return capState(key, v[0])
}

// Set replaces key's values with value.
func (h NATSCarrier) Set(key, value string) { h[key] = []string{value} }

// Keys lists the header names.
func (h NATSCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// HTTPCarrier is a propagation.TextMapCarrier over HTTP headers that reads the trace context
// headers without allocating (their canonical names are looked up directly) and drops a
// tracestate longer than MaxTracestate.
type HTTPCarrier http.Header

var _ propagation.TextMapCarrier = HTTPCarrier(nil)

// Canonical HTTP spellings of the trace context headers.
const (
	httpTraceparent = "Traceparent"
	httpTracestate  = "Tracestate"
)

// Get returns the first value of key.
func (h HTTPCarrier) Get(key string) string {
	var v []string
	switch key {
	case HeaderTraceparent:
		v = h[httpTraceparent]
	case HeaderTracestate:
		v = h[httpTracestate]
	default:
		return http.Header(h).Get(key)
	}
	if len(v) == 0 {
		return ""
	}
	return capState(key, v[0])
}

// Set replaces key's values with value.
func (h HTTPCarrier) Set(key, value string) {
	switch key {
	case HeaderTraceparent:
		h[httpTraceparent] = []string{value}
	case HeaderTracestate:
		h[httpTracestate] = []string{value}
	default:
		http.Header(h).Set(key, value)
	}
}

// Keys lists the header names.
func (h HTTPCarrier) Keys() []string { return propagation.HeaderCarrier(h).Keys() }

// capState drops an over-long tracestate.
func capState(key, v string) string {
	if len(v) > MaxTracestate && strings.EqualFold(key, HeaderTracestate) {
		return ""
	}
	return v
}
