package console

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// outcomeKinds are the worker's outcome kinds, in the order the overview shows them.
var outcomeKinds = []string{"applied", "duplicate", "stale", "rejected", "unknown", "dlq"}

const outcomesMetric = "hookline_worker_outcomes_total"

// Overview is the overview page's data and the body of GET /console/api/overview.
type Overview struct {
	At time.Time `json:"at"`
	// Inbound counts the webhooks WEBHOOKS holds, by provider and tenant.
	Inbound []InboundCount `json:"inbound"`
	// Outcomes counts what this worker process handled since it started, by provider and kind.
	Outcomes []OutcomeCount     `json:"outcomes"`
	Totals   map[string]float64 `json:"totals"`
	Lag      []ConsumerLag      `json:"lag"`
	Streams  []StreamSize       `json:"streams"`
	DLQDepth uint64             `json:"dlqDepth"`
	// Rates are per-second rates between consecutive samples, oldest first.
	Rates []Rate `json:"rates"`
	// Errors name what could not be read (a stream or consumer not set up yet).
	Errors []string `json:"errors,omitempty"`
}

// InboundCount is the webhooks retained for one provider and tenant.
type InboundCount struct {
	Provider string `json:"provider"`
	Tenant   string `json:"tenant"`
	Messages uint64 `json:"messages"`
}

// OutcomeCount is one provider's outcomes.
type OutcomeCount struct {
	Provider string             `json:"provider"`
	Kinds    map[string]float64 `json:"kinds"`
}

// ConsumerLag is a durable consumer's backlog.
type ConsumerLag struct {
	Stream       string `json:"stream"`
	Consumer     string `json:"consumer"`
	Pending      uint64 `json:"pending"`
	AckPending   int    `json:"ackPending"`
	Redeliveries int    `json:"redeliveries"`
}

// StreamSize is a stream's content.
type StreamSize struct {
	Name     string `json:"name"`
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	LastSeq  uint64 `json:"lastSeq"`
}

// Rate is the traffic between two samples, per second.
type Rate struct {
	At       time.Time `json:"at"`
	Inbound  float64   `json:"inbound"`
	Applied  float64   `json:"applied"`
	Rejected float64   `json:"rejected"` // stale, rejected and duplicate
	DLQ      float64   `json:"dlq"`
}

// sample is one point of the rate chart's ring buffer: cumulative counts.
type sample struct {
	at                       time.Time
	inbound, applied, others float64
	dlq                      float64
}

type ring struct {
	mu   sync.Mutex
	buf  []sample
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]sample, n)} }

func (r *ring) add(s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// all returns the samples, oldest first.
func (r *ring) all() []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]sample(nil), r.buf[:r.next]...)
	}
	return append(append([]sample(nil), r.buf[r.next:]...), r.buf[:r.next]...)
}

// rates turns cumulative samples into per-second rates; a counter that went down (a restart)
// counts from zero.
func rates(ss []sample) []Rate {
	out := make([]Rate, 0, max(0, len(ss)-1))
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		dt := b.at.Sub(a.at).Seconds()
		if dt <= 0 {
			continue
		}
		d := func(x, y float64) float64 {
			if y < x {
				return y / dt
			}
			return (y - x) / dt
		}
		out = append(out, Rate{At: b.at, Inbound: d(a.inbound, b.inbound), Applied: d(a.applied, b.applied),
			Rejected: d(a.others, b.others), DLQ: d(a.dlq, b.dlq)})
	}
	return out
}

func (c *Console) sample(ctx context.Context) {
	ov := c.snapshot(ctx)
	s := sample{at: ov.At, applied: ov.Totals["applied"], dlq: ov.Totals["dlq"],
		others: ov.Totals["stale"] + ov.Totals["rejected"] + ov.Totals["duplicate"]}
	for _, st := range ov.Streams {
		if st.Name == streams.Webhooks {
			s.inbound = float64(st.LastSeq)
		}
	}
	c.samples.add(s)
}

// snapshot reads the overview now; what cannot be read is named in Errors.
func (c *Console) snapshot(ctx context.Context) Overview {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ov := Overview{At: time.Now().UTC(), Totals: map[string]float64{}}
	fail := func(what string, err error) { ov.Errors = append(ov.Errors, what+": "+err.Error()) }

	names := []string{streams.Webhooks, streams.Orders, streams.DLQ, streams.Callbacks}
	for _, name := range names {
		s, err := c.o.JS.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			fail("stream "+name, err)
			continue
		}
		var opts []jetstream.StreamInfoOpt
		if name == streams.Webhooks {
			opts = append(opts, jetstream.WithSubjectFilter("webhooks.>"))
		}
		info, err := s.Info(ctx, opts...)
		if err != nil {
			fail("stream "+name, err)
			continue
		}
		ov.Streams = append(ov.Streams, StreamSize{Name: name, Messages: info.State.Msgs, Bytes: info.State.Bytes, LastSeq: info.State.LastSeq})
		switch name {
		case streams.DLQ:
			ov.DLQDepth = info.State.Msgs
		case streams.Webhooks:
			for subj, n := range info.State.Subjects {
				p, t, err := streams.ParseWebhookSubject(subj)
				if err != nil {
					continue
				}
				ov.Inbound = append(ov.Inbound, InboundCount{Provider: p, Tenant: t, Messages: n})
			}
		}
	}
	sort.Slice(ov.Inbound, func(i, j int) bool {
		a, b := ov.Inbound[i], ov.Inbound[j]
		return a.Provider < b.Provider || a.Provider == b.Provider && a.Tenant < b.Tenant
	})
	for _, sc := range [][2]string{{streams.Webhooks, streams.ConsumerWorker}, {streams.Orders, streams.ConsumerDispatcher}} {
		cons, err := c.o.JS.Consumer(ctx, sc[0], sc[1])
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			fail("consumer "+sc[1], err)
			continue
		}
		info := cons.CachedInfo()
		ov.Lag = append(ov.Lag, ConsumerLag{Stream: sc[0], Consumer: sc[1], Pending: info.NumPending,
			AckPending: info.NumAckPending, Redeliveries: info.NumRedelivered})
	}
	c.outcomes(&ov, fail)
	ov.Rates = rates(c.samples.all())
	return ov
}

func (c *Console) outcomes(ov *Overview, fail func(string, error)) {
	if c.o.Metrics == nil {
		return
	}
	mfs, err := c.o.Metrics.Gather()
	if err != nil {
		fail("metrics", err)
		return
	}
	byProvider := map[string]map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != outcomesMetric {
			continue
		}
		for _, m := range mf.GetMetric() {
			var provider, kind string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "provider":
					provider = l.GetValue()
				case "kind":
					kind = l.GetValue()
				}
			}
			if byProvider[provider] == nil {
				byProvider[provider] = map[string]float64{}
			}
			v := m.GetCounter().GetValue()
			byProvider[provider][kind] += v
			ov.Totals[kind] += v
		}
	}
	for p, kinds := range byProvider {
		ov.Outcomes = append(ov.Outcomes, OutcomeCount{Provider: p, Kinds: kinds})
	}
	sort.Slice(ov.Outcomes, func(i, j int) bool { return ov.Outcomes[i].Provider < ov.Outcomes[j].Provider })
}

type overviewPage struct {
	Overview
	Kinds []string
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, ss *session) {
	c.render(w, http.StatusOK, "overview", ss, overviewPage{Overview: c.snapshot(r.Context()), Kinds: outcomeKinds})
}

func (c *Console) overviewAPI(w http.ResponseWriter, r *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, c.snapshot(r.Context()))
}

// kindClass is the CSS class of an outcome kind.
func kindClass(kind string) string {
	switch strings.ToLower(kind) {
	case "applied":
		return "ok"
	case "stale", "duplicate":
		return "muted"
	case "rejected", "unknown":
		return "warn"
	case "dlq":
		return "bad"
	}
	return ""
}
