// Package app runs the worker: it consumes the WEBHOOKS stream on the shared durable consumer,
// applies order status transitions in Redis exactly once, publishes canonical events to ORDERS,
// and serves the admin port with the order query API. Run has no globals and never exits the
// process, so the operator CLI can run it in-process next to the other services.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/logging"
	"github.com/hookline/hookline/pkg/natsconn"
	"github.com/hookline/hookline/pkg/runtime"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/services/worker/internal/console"
	"github.com/hookline/hookline/services/worker/internal/events"
	"github.com/hookline/hookline/services/worker/internal/metrics"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/hookline/hookline/services/worker/internal/process"
	"github.com/hookline/hookline/services/worker/internal/query"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// ErrStopped is returned when consuming stopped before ctx ended (the NATS connection closed or
// the consumer was deleted).
var ErrStopped = errors.New("worker stopped consuming")

// ErrNotConsuming is what /readyz reports until the streams and the consumer exist.
var ErrNotConsuming = errors.New("not consuming yet: streams or consumer not set up")

// FilterSubject is what the worker consumes from WEBHOOKS.
const FilterSubject = "webhooks.>"

const (
	publishTimeout  = 10 * time.Second
	shutdownTimeout = 10 * time.Second // stop consuming, settle, drain NATS
)

// ConsumerConfig is the durable pull consumer every worker process shares. The server's
// MaxDeliver is unlimited: the consume loop enforces s.MaxDeliver, so a message whose DLQ publish
// failed on its last delivery is still redelivered.
func ConsumerConfig(s Settings) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       streams.ConsumerWorker,
		Description:   "Hookline worker: order status transitions",
		FilterSubject: FilterSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: s.MaxAckPending,
	}
}

// Run runs the worker until ctx ends, then stops fetching, finishes and acks the messages in
// hand, drains the NATS connection and closes Redis.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	book, err := orders.NewBook(cfg.Base.Registry())
	if err != nil {
		return fmt.Errorf("lifecycles: %w", err)
	}
	rdb, store, err := newRedis(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := rdb.Close(); err != nil {
			log.Warn("close redis", zap.Error(err))
		}
	}()
	svc := runtime.Service{
		Name: "worker", Log: log, AdminAddr: cfg.Base.AdminAddr, AdminListener: cfg.AdminListener,
		NATSURL: cfg.Base.NATSURL, ReadyStream: streams.Webhooks, NATS: natsconn.Options{NoReconnectBuffer: true},
		ShutdownTimeout: shutdownTimeout, ReadyCheck: "consumer", NotReady: ErrNotConsuming,
	}
	return svc.Run(ctx, func(env runtime.Env) (runtime.Parts, error) {
		m, err := metrics.New(env.Admin.Registry())
		if err != nil {
			return runtime.Parts{}, err
		}
		js, err := jetstream.New(env.Conn,
			// Every handler may have an event with many items in flight at once.
			jetstream.WithPublishAsyncMaxPending(max(4096, 16*cfg.Worker.Concurrency)),
			jetstream.WithPublishAsyncTimeout(publishTimeout))
		if err != nil {
			return runtime.Parts{}, fmt.Errorf("jetstream: %w", err)
		}
		env.Admin.AddCheck("redis", store.Ping)
		env.Admin.Handle(query.Pattern, query.New(store, log))
		env.Admin.Handle(query.HistoryPattern, query.NewHistory(store, log))
		con, err := console.New(console.Options{Token: cfg.Worker.ConsoleToken.Bytes(), JS: js, Metrics: env.Admin.Registry(),
			Orders: store, History: console.StoreHistory{Store: store}, Log: log.Named("console")})
		switch {
		case errors.Is(err, console.ErrNoToken): // off: /console/ answers 404
		case err != nil:
			return runtime.Parts{}, err
		default:
			env.Admin.Handle(console.Prefix, con)
		}
		var cons jetstream.Consumer
		return runtime.Parts{
			Setup: func(ctx context.Context) (err error) {
				cons, err = setup(ctx, cfg, js)
				return err
			},
			Start: func(context.Context) ([]runtime.Component, error) {
				comps := []runtime.Component{{Name: "consume", Run: consumeLoop(cfg, log, env, js, cons, book, store, m)}}
				if con != nil {
					comps = append(comps, runtime.Component{Name: "console", Run: func(ctx context.Context) error { con.Run(ctx); return nil }})
				}
				return comps, nil
			},
			// Acks are fire-and-forget: the runtime's drain flushes them (and any pending
			// publish) after this has sent the queued published markers.
			Drain: func(context.Context) error { store.Close(); return nil },
		}, nil
	})
}

// consumeLoop returns the worker's one component: the consume loop over cons.
func consumeLoop(cfg Config, log *zap.Logger, env runtime.Env, js jetstream.JetStream, cons jetstream.Consumer,
	book *orders.Book, store *orders.Store, m *metrics.Metrics) func(context.Context) error {
	nc := env.Conn
	o := process.Options{
		Providers: cfg.Base.Registry(), Book: book, Store: store, Publisher: events.NewPublisher(js, publishTimeout), Metrics: m, Log: log,
		Backoff: cfg.Worker.Backoff, OutageDLQ: cfg.Worker.OutageDLQ, Tracing: env.Tracing,
	}
	if h := cfg.hooks.afterApply; h != nil {
		o.AfterApply = func() error { return h(nc) }
	}
	if h := cfg.hooks.afterPublish; h != nil {
		o.AfterPublish = func() error { return h(nc) }
	}
	handler := process.New(o)
	loop := consume.New(cons, js, handler.Handle, logging.NewKV(log), consume.Options{
		Workers:    cfg.Worker.Concurrency,
		MaxDeliver: cfg.Worker.MaxDeliver,
		Backoff:    cfg.Worker.Backoff,
		AckWait:    cfg.Worker.AckWait,
		OnDone:     observe(m),
	})
	return func(ctx context.Context) error {
		log.Info("worker consuming", zap.String("stream", streams.Webhooks), zap.String("consumer", streams.ConsumerWorker),
			zap.Int("concurrency", cfg.Worker.Concurrency), zap.Int("max_ack_pending", cfg.Worker.MaxAckPending),
			zap.Duration("ack_wait", cfg.Worker.AckWait), zap.Int("max_deliver", cfg.Worker.MaxDeliver))
		err := loop.Run(ctx)
		switch {
		case ctx.Err() != nil:
			return err // shutting down: nil after a clean drain
		case err != nil:
			return fmt.Errorf("%w: %w", ErrStopped, err) // the consumer or the connection went away
		default:
			return ErrStopped
		}
	}
}

// setup creates the streams and the consumer; the runtime retries it while NATS is unreachable
// (/readyz says so meanwhile).
func setup(ctx context.Context, cfg Config, js jetstream.JetStream) (jetstream.Consumer, error) {
	if err := streams.Ensure(ctx, js, cfg.Base.Streams); err != nil {
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, streams.Webhooks, ConsumerConfig(cfg.Worker))
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", streams.ConsumerWorker, err)
	}
	return cons, nil
}

func observe(m *metrics.Metrics) func(consume.Result) {
	return func(r consume.Result) {
		msg := r.Msg
		provider, _, err := streams.ParseWebhookSubject(msg.Subject())
		if err != nil {
			provider = "invalid"
		}
		m.Handle.WithLabelValues(provider, metrics.ResultLabel(r.Outcome)).Observe(r.Took.Seconds())
		switch r.Outcome {
		case consume.Acked:
			if v := msg.Headers().Get(streams.HeaderReceivedAt); v != "" {
				if t, err := time.Parse(streams.ReceivedAtLayout, v); err == nil {
					m.EndToEnd.WithLabelValues(provider).Observe(time.Since(t).Seconds())
				}
			}
		case consume.DeadLettered:
			m.Outcomes.WithLabelValues(provider, metrics.KindDLQ).Inc()
		}
	}
}
