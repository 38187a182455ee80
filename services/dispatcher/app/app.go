// Package app runs the dispatcher: it consumes the CALLBACKS stream with a durable consumer and
// delivers each orderProcessed callback (internal/deliver), serving /healthz, /readyz and
// /metrics on the admin port. Run holds no globals and never exits the process, so the operator
// CLI can run it in-process beside the ingress and the worker.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/pkg/admin"
	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/logging"
	"github.com/hookline/hookline/pkg/natsconn"
	"github.com/hookline/hookline/pkg/safedial"
	"github.com/hookline/hookline/pkg/streams"
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

// Run delivers callbacks until ctx ends, then drains: callbacks in hand finish their attempt
// and are settled before it returns.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	adm := admin.New(log)
	metrics, err := deliver.NewMetrics(adm.Registry())
	if err != nil {
		return err
	}
	ln := cfg.AdminListener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			return fmt.Errorf("admin listen %s: %w", cfg.AdminAddr, err)
		}
	}

	nc, err := natsconn.Connect(cfg.NATSURL, log, natsconn.Options{Name: "hookline-dispatcher"})
	if err != nil {
		_ = ln.Close() // nothing was served on it
		return err
	}
	defer nc.Close()
	var ready atomic.Bool
	adm.AddCheck("nats", natsconn.CheckStream(nc, streams.Callbacks))
	adm.AddCheck("consumer", func(context.Context) error {
		if !ready.Load() {
			return ErrNotReady
		}
		return nil
	})

	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	adminDone := make(chan error, 1)
	go func() { adminDone <- adm.Serve(adminCtx, ln) }()
	defer func() {
		stopAdmin()
		if err := <-adminDone; err != nil {
			log.Warn("admin server", zap.Error(err))
		}
	}()
	log.Info("dispatcher starting", zap.String("admin", ln.Addr().String()),
		zap.Duration("callback_timeout", cfg.CallbackTimeout), zap.Duration("ack_wait", cfg.AckWait),
		zap.Int("concurrency", cfg.Concurrency), zap.Durations("retry_delays", cfg.CallbackRetryDelays),
		zap.Bool("allow_private", cfg.CallbackAllowPrivate))

	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	cons, store, err := setup(ctx, js, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before NATS was ever reachable
		}
		return err
	}

	sender := deliver.NewHTTPSender(cfg.CallbackTimeout, safedial.Policy{
		AllowPrivate: cfg.CallbackAllowPrivate,
		AllowCIDRs:   cfg.CallbackAllowCIDRs,
	}, cfg.HostConcurrency)
	defer sender.Close()
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
	})
	if err != nil {
		return err
	}

	loop := consume.New(cons, js, d.Handle, logging.NewKV(log), consume.Options{
		Workers: cfg.Concurrency,
		AckWait: cfg.AckWait,
		// The handler settles every message itself (ack, retry on the schedule, dead-letter), so
		// the loop's own delivery limit stays off: deferrals must not use up a callback's attempts.
		MaxDeliver: 0,
		Backoff:    []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
	})
	ready.Store(true)
	log.Info("dispatcher consuming", zap.String("stream", streams.Callbacks), zap.String("consumer", streams.ConsumerDispatcher))
	if err := loop.Run(ctx); err != nil {
		return err
	}
	if ctx.Err() == nil {
		return ErrLoopStopped
	}
	log.Info("dispatcher stopped")
	return nil
}

// setup creates the streams, the attempts bucket and the durable consumer, retrying while NATS
// is unreachable until ctx ends.
func setup(ctx context.Context, js jetstream.JetStream, cfg Config, log *zap.Logger) (jetstream.Consumer, *deliver.KVStore, error) {
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		cons, store, err := trySetup(ctx, js, cfg)
		if err == nil {
			return cons, store, nil
		}
		log.Warn("dispatcher setup failed; retrying", zap.Error(natsconn.Describe(js.Conn(), err)), zap.Duration("in", wait))
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("dispatcher setup: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
}

func trySetup(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Consumer, *deliver.KVStore, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
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
