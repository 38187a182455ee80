package consumer

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults used when an option is not given.
const (
	DefaultAckWait      = 30 * time.Second
	DefaultDrainTimeout = consume.DefaultDrainTimeout
)

// DefaultBackoff returns the redelivery delays used without WithBackoff: after a failed delivery
// n (1-based), entry n-1, the last one repeating. Each call returns a new slice (changing it
// changes no default).
func DefaultBackoff() []time.Duration {
	return []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute}
}

// Option configures New.
type Option func(*settings)

// settings is what the options build.
type settings struct {
	tenant, provider string
	deliverNew       bool
	startTime        time.Time
	concurrency      int
	maxAckPending    int
	ackWait          time.Duration
	maxDeliver       int
	backoff          []time.Duration
	deadLetter       bool
	drainTimeout     time.Duration
	log              *slog.Logger
	onResult         func(Result)
}

func defaults() settings {
	return settings{
		concurrency:  1,
		ackWait:      DefaultAckWait,
		backoff:      DefaultBackoff(),
		drainTimeout: DefaultDrainTimeout,
		log:          slog.Default(),
	}
}

// WithTenant receives only the events of one tenant ("default" or a tenant UUID). Empty or "*"
// means every tenant (the default).
func WithTenant(tenant string) Option { return func(s *settings) { s.tenant = tenant } }

// WithProvider receives only the events of one provider ("petstore", "bunjang" or a Standard
// Webhooks source name). Empty or "*" means every provider (the default).
func WithProvider(provider string) Option { return func(s *settings) { s.provider = provider } }

// WithDeliverNew makes a newly created durable start with the events published after its
// creation instead of every event the stream still retains (the default). It has no effect on a
// durable that already exists: that one resumes where it left off.
func WithDeliverNew() Option { return func(s *settings) { s.deliverNew = true } }

// WithStartTime makes a newly created durable start with the first event stored at or after t.
// Like WithDeliverNew it only applies when the durable is created.
func WithStartTime(t time.Time) Option { return func(s *settings) { s.startTime = t } }

// WithConcurrency sets how many events the handler processes at once in one Run (default 1).
func WithConcurrency(n int) Option { return func(s *settings) { s.concurrency = n } }

// WithMaxAckPending caps the events delivered and not yet acknowledged across every process
// sharing the durable, including those waiting for a retry. 0 keeps the server default (1000);
// 1 together with WithConcurrency(1) processes the stream strictly one event after the other.
func WithMaxAckPending(n int) Option { return func(s *settings) { s.maxAckPending = n } }

// WithAckWait sets how long the server waits for an acknowledgement before it redelivers
// (default 30s). A handler that runs longer is kept alive automatically every AckWait/2.
func WithAckWait(d time.Duration) Option { return func(s *settings) { s.ackWait = d } }

// WithMaxDeliver gives up on an event whose handler still fails on its n-th delivery: the event
// is terminated (never redelivered), reported with reason ReasonMaxDeliveries and, with
// WithDeadLetter, copied to the DLQ. 0 (the default) retries forever.
func WithMaxDeliver(n int) Option { return func(s *settings) { s.maxDeliver = n } }

// WithBackoff sets the delay before redelivering an event whose handler failed: delays[n-1]
// after delivery n, the last entry repeating (default DefaultBackoff()).
func WithBackoff(delays ...time.Duration) Option {
	return func(s *settings) { s.backoff = append([]time.Duration(nil), delays...) }
}

// WithDeadLetter copies every message the consumer gives up on (poison, Permanent, max
// deliveries) to Hookline's DLQ stream before terminating it, on subject dlq.<original subject>
// with the Hookline-Dlq-* headers and Hookline-Dlq-Consumer naming this durable. If the copy
// cannot be stored the message is retried, never dropped. Off by default: without it such
// messages are terminated and only reported (logger and WithOnResult).
func WithDeadLetter() Option { return func(s *settings) { s.deadLetter = true } }

// WithDrainTimeout bounds the shutdown of Run: once its context ends, handlers still running get
// this long (default 30s) before their context is cancelled too.
func WithDrainTimeout(d time.Duration) Option { return func(s *settings) { s.drainTimeout = d } }

// WithLogger sets the logger for retries, dropped messages and failed acknowledgements (default
// slog.Default(); nil discards).
func WithLogger(log *slog.Logger) Option {
	return func(s *settings) {
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		s.log = log
	}
}

// WithOnResult calls fn after every message is settled, for metrics or alerting. fn is called
// from several goroutines at once when the concurrency is above 1 and must not block for long.
func WithOnResult(fn func(Result)) Option { return func(s *settings) { s.onResult = fn } }

// validate reports the first setting that cannot work.
func (s *settings) validate() error {
	switch {
	case s.deliverNew && !s.startTime.IsZero():
		return fmt.Errorf("%w: WithDeliverNew and WithStartTime exclude each other", ErrInvalidOption)
	case s.concurrency < 1:
		return fmt.Errorf("%w: concurrency %d, want at least 1", ErrInvalidOption, s.concurrency)
	case s.maxAckPending < 0:
		return fmt.Errorf("%w: max ack pending %d, want 0 or more", ErrInvalidOption, s.maxAckPending)
	case s.ackWait < time.Second:
		return fmt.Errorf("%w: ack wait %s, want at least 1s", ErrInvalidOption, s.ackWait)
	case s.maxDeliver < 0:
		return fmt.Errorf("%w: max deliver %d, want 0 (unlimited) or more", ErrInvalidOption, s.maxDeliver)
	case len(s.backoff) == 0:
		return fmt.Errorf("%w: backoff needs at least one delay", ErrInvalidOption)
	case s.drainTimeout <= 0:
		return fmt.Errorf("%w: drain timeout %s, want more than 0", ErrInvalidOption, s.drainTimeout)
	}
	for _, d := range s.backoff {
		if d < 0 {
			return fmt.Errorf("%w: negative backoff %s", ErrInvalidOption, d)
		}
	}
	return nil
}

// consumerConfig is the durable's definition.
func (s *settings) consumerConfig(name, filter string) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Hookline consumer SDK (pkg/consumer)",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.ackWait,
		// The SDK counts deliveries itself so that giving up is always reported (and
		// dead-lettered when asked); a server-side limit would drop messages silently.
		MaxDeliver:    -1,
		FilterSubject: filter,
		MaxAckPending: s.maxAckPending,
	}
	switch {
	case s.deliverNew:
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	case !s.startTime.IsZero():
		t := s.startTime.UTC()
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &t
	}
	return cfg
}

// backoffFor returns the delay after a failed delivery n (1-based).
func (s *settings) backoffFor(n uint64) time.Duration { return consume.Backoff(s.backoff, n) }
