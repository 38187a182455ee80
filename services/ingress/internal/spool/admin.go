package spool

import (
	"context"
	"fmt"

	"github.com/hookline/hookline/pkg/admin"
	"github.com/prometheus/client_golang/prometheus"
)

// Register adds hookline_spool_messages, hookline_spool_bytes, hookline_spool_max_bytes and
// hookline_spool_commits_total (synced transactions: messages spooled over commits is the group
// commit's batch size) to reg. A nil spool registers nothing.
func (s *Spool) Register(reg prometheus.Registerer) {
	if s == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookline_spool_messages",
			Help: "Messages held in the ingress outage spool, waiting for JetStream."},
			func() float64 { return float64(s.Messages()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookline_spool_bytes",
			Help: "Bytes held in the ingress outage spool (records and keys)."},
			func() float64 { return float64(s.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookline_spool_max_bytes",
			Help: "HOOKLINE_SPOOL_MAX_BYTES: past it the ingress answers 503."},
			func() float64 { return float64(s.maxBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hookline_spool_commits_total",
			Help: "Synced spool transactions (each holds every webhook waiting when it began)."},
			func() float64 { return float64(s.commits.Load()) }),
	)
}

// Check wraps a readiness check of a dependency the spool stands in for (NATS, the streams):
// while the check fails and the spool accepts, the process stays ready and /readyz says the
// spool is engaged; a full spool makes the failure count again. A nil spool returns c.
func (s *Spool) Check(c admin.Check) admin.Check {
	if s == nil {
		return c
	}
	return func(ctx context.Context) error {
		err := c(ctx)
		if err == nil {
			return nil
		}
		if !s.Accepting() {
			return fmt.Errorf("%w; spool full (%d messages, %d of %d bytes)", err, s.Messages(), s.Bytes(), s.maxBytes)
		}
		return admin.Degraded(fmt.Errorf("%w; spool engaged (%d messages, %d of %d bytes)", err,
			s.Messages(), s.Bytes(), s.maxBytes))
	}
}
