// Package metrics defines the worker's Prometheus metrics.
package metrics

import (
	"fmt"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/prometheus/client_golang/prometheus"
)

// Outcome kinds counted per provider.
const (
	KindApplied   = "applied"   // a transition applied (one canonical event)
	KindDuplicate = "duplicate" // an event id already recorded (or a redelivery of it)
	KindStale     = "stale"     // same status, older, or backwards: recorded, no event
	KindRejected  = "rejected"  // out of a terminal status: recorded, no event
	KindUnknown   = "unknown"   // an event type the worker does not handle: acked
	KindDLQ       = "dlq"       // malformed payload or deliveries exhausted: dead-lettered
)

// Metrics are the worker's metrics.
type Metrics struct {
	// Outcomes counts transitions (applied, duplicate, stale, rejected) and messages (unknown,
	// dlq) by provider and kind.
	Outcomes *prometheus.CounterVec
	// UnknownStatus counts transitions carrying a status outside the provider's lifecycle.
	UnknownStatus *prometheus.CounterVec
	// Handle is the time from fetching a message to settling it, by provider and loop outcome.
	Handle *prometheus.HistogramVec
	// EndToEnd is the time from Hookline-Received-At to the ack, by provider.
	EndToEnd *prometheus.HistogramVec
}

// New registers the metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_worker_outcomes_total",
			Help: "Webhook events handled by the worker, by provider and outcome kind (applied, duplicate, stale, rejected, unknown, dlq).",
		}, []string{"provider", "kind"}),
		UnknownStatus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_worker_unknown_status_total",
			Help: "Transitions carrying a status outside the provider's lifecycle, applied as UNSPECIFIED.",
		}, []string{"provider"}),
		Handle: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookline_worker_handle_seconds",
			Help:    "Time from fetching a WEBHOOKS message to settling it (ack, retry or dlq).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"provider", "result"}),
		EndToEnd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookline_worker_end_to_end_seconds",
			Help:    "Time from the ingress receiving a webhook (Hookline-Received-At) to the worker acking it.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"provider"}),
	}
	for _, c := range []prometheus.Collector{m.Outcomes, m.UnknownStatus, m.Handle, m.EndToEnd} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// ResultLabel is the result label of Handle for a consume outcome: the short names this metric
// has always carried (ack, retry, dlq; drop is never produced by the worker), so dashboards and
// alerts keep working although the engine's outcome names are longer.
func ResultLabel(o consume.Outcome) string {
	switch o {
	case consume.Acked:
		return "ack"
	case consume.Retried:
		return "retry"
	case consume.DeadLettered:
		return KindDLQ
	case consume.Dropped:
		return "drop"
	}
	return string(o)
}
