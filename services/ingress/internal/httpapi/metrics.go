package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ingress's Prometheus series.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	publish  *prometheus.HistogramVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	buckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_ingress_requests_total",
			Help: "Inbound requests by provider, tenant and answered status.",
		}, []string{"provider", "tenant", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookline_ingress_request_duration_seconds",
			Help:    "Whole-request latency, from the first byte read to the answer.",
			Buckets: buckets,
		}, []string{"provider"}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookline_ingress_publish_duration_seconds",
			Help:    "JetStream publish latency, from publish to PubAck (or failure).",
			Buckets: buckets,
		}, []string{"stream", "result"}),
	}
	reg.MustRegister(m.requests, m.duration, m.publish)
	return m
}

// observe records one answered request. Unknown providers and tenants are folded into
// "unknown" so a caller cannot grow the label space.
func (m *Metrics) observe(provider, tenant string, status int, took time.Duration) {
	m.requests.WithLabelValues(provider, tenant, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(provider).Observe(took.Seconds())
}

// ObservePublish records one publish.
func (m *Metrics) ObservePublish(stream string, ok bool, took time.Duration) {
	result := "ok"
	if !ok {
		result = "error"
	}
	m.publish.WithLabelValues(stream, result).Observe(took.Seconds())
}
