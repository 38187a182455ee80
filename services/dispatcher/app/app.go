// Package app runs the dispatcher: it consumes the CALLBACKS stream with a durable consumer and
// delivers each orderProcessed callback (internal/deliver), serving /healthz, /readyz and
// /metrics on the admin port. Run holds no globals and never exits the process, so the operator
// CLI can run it in-process beside the ingress and the worker.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/logging"
	"github.com/hookline/hookline/pkg/runtime"
	"github.com/hookline/hookline/pkg/safedial"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/hookline/hookline/services/dispatcher/internal/deliver"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Errors Run reports.
var (
	// ErrNotReady is the readiness answer until the streams and the consumer exist.
	ErrNotReady = errors.New("consumer not set up yet")
	// ErrLoopStopped means the consume loop ended while the context was still live.
	ErrLoopStopped = errors.New("consume loop stopped")
)

// shutdownTimeout bounds the shutdown: the attempts in hand finish, then the connection drains.
const shutdownTimeout = 10 * time.Second

// Run delivers callbacks until ctx ends, then drains: callbacks in hand finish their attempt
// and are settled, and the NATS connection is drained, before it returns.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	sender := deliver.NewHTTPSender(cfg.CallbackTimeout, safedial.Policy{
		AllowPrivate: cfg.CallbackAllowPrivate,
		AllowCIDRs:   cfg.CallbackAllowCIDRs,
	}, cfg.HostConcurrency)
	defer sender.Close()
	svc := runtime.Service{
		Name: "dispatcher", Log: log, AdminAddr: cfg.AdminAddr, AdminListener: cfg.AdminListener,
		NATSURL: cfg.NATSURL, ReadyStream: streams.Callbacks, ShutdownTimeout: shutdownTimeout, ReadyCheck: "consumer", NotReady: ErrNotReady,
	}
	return svc.Run(ctx, func(env runtime.Env) (runtime.Parts, error) {
		metrics, err := deliver.NewMetrics(env.Admin.Registry())
		if err != nil {
			return runtime.Parts{}, err
		}
		js, err := jetstream.New(env.Conn)
		if err != nil {
			return runtime.Parts{}, fmt.Errorf("jetstream: %w", err)
		}
		log.Info("dispatcher starting",
			zap.Duration("callback_timeout", cfg.CallbackTimeout), zap.Duration("ack_wait", cfg.AckWait),
			zap.Int("concurrency", cfg.Concurrency), zap.Durations("retry_delays", cfg.CallbackRetryDelays),
			zap.Bool("allow_private", cfg.CallbackAllowPrivate))
		var (
			cons  jetstream.Consumer
			store *deliver.KVStore
		)
		return runtime.Parts{
			Setup: func(ctx context.Context) (err error) {
				cons, store, err = setup(ctx, js, cfg)
				return err
			},
			Start: func(context.Context) ([]runtime.Component, error) {
				loop, err := newLoop(cfg, log, js, cons, store, sender, metrics, env.Tracing)
				if err != nil {
					return nil, err
				}
				return []runtime.Component{{Name: "consume", Run: loop}}, nil
			},
		}, nil
	})
}

// newLoop builds the delivery handler and returns the consume loop over cons.
func newLoop(cfg Config, log *zap.Logger, js jetstream.JetStream, cons jetstream.Consumer, store *deliver.KVStore,
	sender *deliver.HTTPSender, metrics *deliver.Metrics, tr *tracing.Tracing) (func(context.Context) error, error) {
	hosts := deliver.NewHosts(deliver.HostOptions{
		MaxConcurrent:    cfg.HostConcurrency,
		FailureThreshold: cfg.BreakerFailures,
		Cooldown:         cfg.BreakerCooldown,
		BusyDelay:        cfg.HostBusyDelay,
		OnState: func(host string, from, to deliver.BreakerState) {
			metrics.OnBreaker(from, to)
			log.Warn("circuit breaker", zap.String("host", host), zap.Stringer("from", from), zap.Stringer("to", to))
		},
	})
	d, err := deliver.New(deliver.Options{
		Secret:        cfg.CallbackSecret.Bytes(),
		Schedule:      deliver.Schedule{Delays: cfg.CallbackRetryDelays, Jitter: cfg.RetryJitter},
		MaxRetryAfter: cfg.MaxRetryAfter,
		Sender:        sender,
		Store:         store,
		Hosts:         hosts,
		Metrics:       metrics,
		Log:           log,
		Tracing:       tr,
	})
	if err != nil {
		return nil, err
	}
	loop := consume.New(cons, js, d.Handle, logging.NewKV(log), consume.Options{
		Workers: cfg.Concurrency,
		AckWait: cfg.AckWait,
		// The handler settles every message itself (ack, retry on the schedule, dead-letter), so
		// the loop's own delivery limit stays off: deferrals must not use up a callback's attempts.
		MaxDeliver: 0,
		Backoff:    []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
	})
	return func(ctx context.Context) error {
		log.Info("dispatcher consuming", zap.String("stream", streams.Callbacks), zap.String("consumer", streams.ConsumerDispatcher))
		if err := loop.Run(ctx); err != nil {
			return err
		}
		if ctx.Err() == nil {
			return ErrLoopStopped
		}
		return nil
	}, nil
}

// setup creates the streams, the attempts bucket and the durable consumer; the runtime retries
// it while NATS is unreachable.
func setup(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Consumer, *deliver.KVStore, error) {
	if err := streams.Ensure(ctx, js, cfg.Streams); err != nil {
		return nil, nil, err
	}
	store, err := deliver.EnsureKVStore(ctx, js, cfg.Streams.Replicas, cfg.AttemptsTTL)
	if err != nil {
		return nil, nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, streams.Callbacks, ConsumerConfig(cfg))
	if err != nil {
		return nil, nil, fmt.Errorf("ensure consumer %s: %w", streams.ConsumerDispatcher, err)
	}
	return cons, store, nil
}

// ConsumerConfig is the dispatcher's durable consumer on CALLBACKS.
func ConsumerConfig(cfg Config) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       streams.ConsumerDispatcher,
		Description:   "Hookline dispatcher: delivers orderProcessed callbacks",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1, // the handler decides when a callback is exhausted
		MaxAckPending: cfg.MaxAckPending,
		Replicas:      cfg.Streams.Replicas,
	}
}
