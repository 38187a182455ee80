package deliver

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the dispatcher's Prometheus series.
type Metrics struct {
	// Attempts counts HTTP attempts by outcome (delivered, retry, gone, permanent, exhausted,
	// refused) and status class (2xx, 3xx, 4xx, 5xx, timeout, network).
	Attempts *prometheus.CounterVec
	// AttemptSeconds is the duration of one HTTP attempt.
	AttemptSeconds prometheus.Histogram
	// DeliverySeconds is the time from intake (receivedAt) to a successful delivery.
	DeliverySeconds prometheus.Histogram
	// Deferrals counts messages put back without an attempt, by reason (host_busy, breaker_open,
	// in_flight, store).
	Deferrals *prometheus.CounterVec
	// DeadLetters counts callbacks sent to the DLQ, by reason.
	DeadLetters *prometheus.CounterVec
	// BreakerHosts is how many hosts have their breaker in each state (open, half_open).
	BreakerHosts *prometheus.GaugeVec
	// BreakerTransitions counts breaker transitions by target state.
	BreakerTransitions *prometheus.CounterVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_dispatcher_attempts_total",
			Help: "Callback HTTP attempts by outcome and status class.",
		}, []string{"outcome", "status_class"}),
		AttemptSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookline_dispatcher_attempt_duration_seconds",
			Help:    "Duration of one callback HTTP attempt.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		DeliverySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookline_dispatcher_delivery_latency_seconds",
			Help:    "Time from callback intake to successful delivery, retries included.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600, 48 * 3600},
		}),
		Deferrals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_dispatcher_deferrals_total",
			Help: "Callbacks redelivered later without an HTTP attempt, by reason.",
		}, []string{"reason"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_dispatcher_dead_letters_total",
			Help: "Callbacks sent to the DLQ stream, by reason.",
		}, []string{"reason"}),
		BreakerHosts: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hookline_dispatcher_breaker_hosts",
			Help: "Destination hosts whose circuit breaker is in each state (closed hosts are not tracked).",
		}, []string{"state"}),
		BreakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_dispatcher_breaker_transitions_total",
			Help: "Circuit breaker transitions by target state.",
		}, []string{"to"}),
	}
	for _, c := range []prometheus.Collector{m.Attempts, m.AttemptSeconds, m.DeliverySeconds, m.Deferrals,
		m.DeadLetters, m.BreakerHosts, m.BreakerTransitions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	m.BreakerHosts.WithLabelValues(Open.String()).Set(0)
	m.BreakerHosts.WithLabelValues(HalfOpen.String()).Set(0)
	return m, nil
}

// OnBreaker updates the breaker series for one transition.
func (m *Metrics) OnBreaker(from, to BreakerState) {
	if from != Closed {
		m.BreakerHosts.WithLabelValues(from.String()).Dec()
	}
	if to != Closed {
		m.BreakerHosts.WithLabelValues(to.String()).Inc()
	}
	m.BreakerTransitions.WithLabelValues(to.String()).Inc()
}

func statusClass(r Response) string {
	switch {
	case r.Status >= 200 && r.Status < 600:
		return fmt.Sprintf("%dxx", r.Status/100)
	case r.Timeout:
		return "timeout"
	case r.Forbidden:
		return "refused"
	}
	return "network"
}
