// Package loadgen drives an ingress with correctly signed webhooks and measures it: closed-loop
// concurrency or a fixed rate (latency then counts from the intended send time, so a stall is not
// hidden), acknowledgement latency in an HDR histogram, and what was acknowledged per order so a
// verifier can compare the pipeline's end state with it.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// ErrNoTarget is returned when the target URL is unusable.
var ErrNoTarget = errors.New("no usable target")

// Options for Run.
type Options struct {
	// Target is the base URL, e.g. http://127.0.0.1:8080, or several comma-separated: each
	// connection then sends its requests to them in turn and a retry to the next one, as a load
	// balancer in front of several ingresses would.
	Target      string
	Concurrency int           // connections (and workers)
	Rate        float64       // requests per second in total; 0 = closed loop
	Duration    time.Duration // stop after; 0 = until Count
	Count       int64         // stop after this many requests; 0 = until Duration
	Timeout     time.Duration // per request (default 10s)
	Progress    io.Writer     // one line a second, or nil
	Scenario    Scenario
	// Retries is how often a request answered 5xx or 429, or lost to a transport error, is sent
	// again (as providers do) before it counts as failed; 0 sends each once.
	Retries int
	// RetryDelay is the pause before a retry (default 100ms, doubling up to 2s).
	RetryDelay time.Duration
	// OnSend, if set, is called before each request's first attempt (from the sending goroutine).
	OnSend func(r *Request, at time.Time)
}

// Result of a run.
type Result struct {
	Requests int64         `json:"requests"`
	Errors   int64         `json:"errors"` // transport errors
	ByStatus map[int]int64 `json:"byStatus"`
	Elapsed  time.Duration `json:"elapsedNs"`
	RPS      float64       `json:"rps"`
	Latency  Percentiles   `json:"latency"`
	// SendLag is, at a fixed rate, how late the generator itself sent after the intended time;
	// it is part of Latency (which counts from the intended time).
	SendLag    Percentiles      `json:"sendLag"`
	Timeline   []Second         `json:"timeline"`
	Acked      int64            `json:"acked"` // 2xx
	Retried    int64            `json:"retried"`
	Failed     int64            `json:"failed"` // never acknowledged, retries exhausted
	Expected   map[string]State `json:"-"`      // oracle: highest acknowledged status per order/item
	Uncertain  map[string]bool  `json:"-"`      // orders/items with a request never acknowledged
	AckedIDs   []SentEvent      `json:"-"`
	Concurrent int              `json:"concurrency"`
	TargetRate float64          `json:"targetRate"`
}

// SentEvent is one acknowledged event.
type SentEvent struct {
	Provider string
	EventID  string
	SentAt   time.Time
}

// State is the oracle's expectation for one order or item.
type State struct {
	Rank   int
	Status string
}

// Percentiles of acknowledgement latency.
type Percentiles struct {
	P50  time.Duration `json:"p50Ns"`
	P90  time.Duration `json:"p90Ns"`
	P99  time.Duration `json:"p99Ns"`
	P999 time.Duration `json:"p999Ns"`
	Max  time.Duration `json:"maxNs"`
	Mean time.Duration `json:"meanNs"`
}

// Second is one second of the run, for the latency-over-time picture.
type Second struct {
	At       int           `json:"at"`
	Requests int64         `json:"requests"`
	Errors   int64         `json:"errors"`
	P50      time.Duration `json:"p50Ns"`
	P99      time.Duration `json:"p99Ns"`
	Max      time.Duration `json:"maxNs"`
}

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(60*time.Second/time.Microsecond), 3) // microseconds
}

type workerState struct {
	mu        sync.Mutex // guards hist, second and the oracle against the progress reader
	hist      *hdrhistogram.Histogram
	lag       *hdrhistogram.Histogram // fixed rate: actual send - intended send
	second    *hdrhistogram.Histogram
	secErrs   int64
	byStatus  map[int]int64
	errs      int64
	retried   int64
	failed    int64
	uncertain map[string]bool
	expected  map[string]State
	acked     []SentEvent
}

// Run sends load until Duration or Count is reached or ctx ends.
func Run(ctx context.Context, o Options) (*Result, error) {
	hosts, err := targetHosts(o.Target)
	if err != nil {
		return nil, err
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 100 * time.Millisecond
	}
	if o.Duration <= 0 && o.Count <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	states := make([]*workerState, o.Concurrency)
	var issued atomic.Int64
	start := time.Now()
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) / o.Rate)
	}
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		st := &workerState{hist: newHist(), second: newHist(), lag: newHist(), byStatus: map[int]int64{}, expected: map[string]State{},
			uncertain: map[string]bool{}}
		states[w] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns := make([]*conn, len(hosts))
			for i, h := range hosts {
				conns[i] = newConn(h)
				defer conns[i].close()
			}
			next := w // the target of the next attempt, in turn
			attempt := func(req *Request) (int, error) {
				c := conns[next%len(conns)]
				next++
				return c.do(req, o.Timeout)
			}
			gen := newGenerator(&o.Scenario, w)
			for ctx.Err() == nil {
				n := issued.Add(1)
				if o.Count > 0 && n > o.Count {
					return
				}
				var intended time.Time
				if interval > 0 {
					intended = start.Add(time.Duration(n-1) * interval)
					if o.Duration > 0 && intended.Sub(start) >= o.Duration {
						return // the slot lies past the run: rate × duration requests in all
					}
					if d := time.Until(intended); d > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(d):
						}
					}
				}
				req := gen.next(o.Concurrency)
				sent := time.Now()
				if interval == 0 {
					intended = sent
				} else {
					st.mu.Lock()
					_ = st.lag.RecordValue(sent.Sub(intended).Microseconds()) // clamped past 60 s
					st.mu.Unlock()
				}
				if o.OnSend != nil {
					o.OnSend(req, sent)
				}
				status, err := attempt(req)
				delay := o.RetryDelay
				for try := 0; try < o.Retries && retryable(status, err) && ctx.Err() == nil; try++ {
					st.mu.Lock()
					st.retried++
					st.mu.Unlock()
					time.Sleep(delay)
					delay = min(2*delay, 2*time.Second)
					gen.sign(req) // fresh timestamps, as a provider's retry would have
					status, err = attempt(req)
				}
				took := time.Since(intended)
				st.mu.Lock()
				if retryable(status, err) {
					// Never acknowledged, yet it may have been stored: its orders' end state is
					// not known.
					st.failed++
					for _, s := range req.Statuses {
						st.uncertain[s.key] = true
					}
				}
				if err != nil {
					st.errs++
					st.secErrs++
				} else {
					st.byStatus[status]++
					us := took.Microseconds()
					_ = st.hist.RecordValue(us)   // values past 60 s are clamped by the error; rare
					_ = st.second.RecordValue(us) // idem
					if status/100 == 2 {
						st.acked = append(st.acked, SentEvent{Provider: req.Provider, EventID: req.EventID, SentAt: sent})
						for _, s := range req.Statuses {
							if cur, ok := st.expected[s.key]; !ok || s.rank > cur.Rank {
								st.expected[s.key] = State{Rank: s.rank, Status: s.name}
							}
						}
					}
				}
				st.mu.Unlock()
			}
		}()
	}

	res := &Result{ByStatus: map[int]int64{}, Expected: map[string]State{}, Uncertain: map[string]bool{},
		Concurrent: o.Concurrency, TargetRate: o.Rate}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	sec := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
		}
		sec++
		s := Second{At: sec}
		merged := newHist()
		for _, st := range states {
			st.mu.Lock()
			merged.Merge(st.second)
			st.second.Reset()
			s.Errors += st.secErrs
			st.secErrs = 0
			st.mu.Unlock()
		}
		s.Requests = merged.TotalCount() + s.Errors
		s.P50 = time.Duration(merged.ValueAtQuantile(50)) * time.Microsecond
		s.P99 = time.Duration(merged.ValueAtQuantile(99)) * time.Microsecond
		s.Max = time.Duration(merged.Max()) * time.Microsecond
		if s.Requests > 0 || running {
			res.Timeline = append(res.Timeline, s)
		}
		if o.Progress != nil && running {
			fmt.Fprintf(o.Progress, "%4ds  %8d req/s  p50 %-9s p99 %-9s errors %d\n", sec, s.Requests,
				s.P50, s.P99, s.Errors)
		}
	}
	res.Elapsed = time.Since(start)

	total, lag := newHist(), newHist()
	for _, st := range states {
		total.Merge(st.hist)
		lag.Merge(st.lag)
		res.Errors += st.errs
		res.Retried += st.retried
		res.Failed += st.failed
		for k, v := range st.byStatus {
			res.ByStatus[k] += v
			if k/100 == 2 {
				res.Acked += v
			}
		}
		for k, v := range st.expected {
			if cur, ok := res.Expected[k]; !ok || v.Rank > cur.Rank {
				res.Expected[k] = v
			}
		}
		res.AckedIDs = append(res.AckedIDs, st.acked...)
		for k := range st.uncertain {
			res.Uncertain[k] = true
		}
	}
	res.Requests = total.TotalCount() + res.Errors
	res.RPS = float64(res.Requests) / res.Elapsed.Seconds()
	us := func(q float64) time.Duration { return time.Duration(total.ValueAtQuantile(q)) * time.Microsecond }
	res.Latency = Percentiles{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9),
		Max: time.Duration(total.Max()) * time.Microsecond, Mean: time.Duration(total.Mean()) * time.Microsecond}
	lus := func(q float64) time.Duration { return time.Duration(lag.ValueAtQuantile(q)) * time.Microsecond }
	res.SendLag = Percentiles{P50: lus(50), P90: lus(90), P99: lus(99), P999: lus(99.9),
		Max: time.Duration(lag.Max()) * time.Microsecond, Mean: time.Duration(lag.Mean()) * time.Microsecond}
	return res, nil
}

// targetHosts parses Options.Target: one http base URL or several comma-separated, each
// host:port.
func targetHosts(target string) ([]string, error) {
	var hosts []string
	for _, t := range strings.Split(target, ",") {
		u, err := url.Parse(strings.TrimSpace(t))
		if err != nil || u.Host == "" || u.Scheme != "http" {
			return nil, fmt.Errorf("%w: %q (want http://host:port, or several comma-separated)", ErrNoTarget, t)
		}
		hosts = append(hosts, u.Host)
	}
	return hosts, nil
}

// retryable: what a provider retries (Bunjang: 5xx, 429 and timeouts).
func retryable(status int, err error) bool {
	return err != nil || status >= 500 || status == 429
}

// Summary renders the result as a table.
func (r *Result) Summary(w io.Writer) {
	fmt.Fprintf(w, "requests   %d in %s (%.0f req/s), %d acknowledged (2xx), %d transport errors, %d retries, %d never acknowledged\n",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.RPS, r.Acked, r.Errors, r.Retried, r.Failed)
	codes := make([]int, 0, len(r.ByStatus))
	for c := range r.ByStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "status %d %d\n", c, r.ByStatus[c])
	}
	l := r.Latency
	fmt.Fprintf(w, "latency    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	if r.TargetRate > 0 {
		g := r.SendLag
		fmt.Fprintf(w, "send lag   p50 %s  p99 %s  max %s (the generator's own lateness, included above)\n", g.P50, g.P99, g.Max)
	}
}
