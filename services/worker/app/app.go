// Package app runs the worker: it consumes the WEBHOOKS stream on the shared durable consumer,
// applies order status transitions in Redis exactly once, publishes canonical events to ORDERS,
// and serves the admin port with the order query API. Run has no globals and never exits the
// process, so the operator CLI can run it in-process next to the other services.
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
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/services/worker/internal/console"
	"github.com/hookline/hookline/services/worker/internal/events"
	"github.com/hookline/hookline/services/worker/internal/metrics"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/hookline/hookline/services/worker/internal/process"
	"github.com/hookline/hookline/services/worker/internal/query"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
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
	publishTimeout = 10 * time.Second
	drainTimeout   = 10 * time.Second
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
	book, err := orders.NewBook()
	if err != nil {
		return fmt.Errorf("lifecycles: %w", err)
	}
	adm := admin.New(log)
	m, err := metrics.New(adm.Registry())
	if err != nil {
		return err
	}
	ropts, err := redisOptions(cfg.Base.RedisURL)
	if err != nil {
		return err
	}
	ln := cfg.AdminListener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Base.AdminAddr); err != nil {
			return fmt.Errorf("admin listen %s: %w", cfg.Base.AdminAddr, err)
		}
	}
	defer func() { _ = ln.Close() }() // the admin server closes it first; a second close says nothing new

	nc, err := natsconn.Connect(cfg.Base.NATSURL, log, natsconn.Options{Name: "hookline-worker", NoReconnectBuffer: true})
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc,
		// Every handler may have an event with many items in flight at once.
		jetstream.WithPublishAsyncMaxPending(max(4096, 16*cfg.Worker.Concurrency)),
		jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	rdb := redis.NewClient(ropts) // closed below: nothing returns early from here on
	store := orders.NewStore(rdb, cfg.Worker.DedupeTTL)

	var consuming atomic.Bool
	adm.AddCheck("nats", natsconn.Check(nc))
	adm.AddCheck("redis", store.Ping)
	adm.AddCheck("consumer", func(context.Context) error {
		if !consuming.Load() {
			return ErrNotConsuming
		}
		return nil
	})
	adm.Handle(query.Pattern, query.New(store, log))
	con, err := console.New(console.Options{Token: cfg.Worker.ConsoleToken.Bytes(), JS: js, Metrics: adm.Registry(),
		Orders: store, History: console.EventLog{JS: js}, Log: log.Named("console")})
	switch {
	case errors.Is(err, console.ErrNoToken): // off: /console/ answers 404
	case err != nil:
		_ = rdb.Close() // nothing used it yet
		return err
	default:
		adm.Handle(console.Prefix, con)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	adminDone := make(chan error, 1)
	go func() { adminDone <- adm.Serve(runCtx, ln) }()
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		if con != nil {
			con.Run(runCtx)
		}
	}()
	log.Info("worker admin listening", zap.String("addr", ln.Addr().String()))

	loopErr := consumeUntilDone(ctx, cfg, log, nc, js, book, store, m, &consuming)
	store.Close() // sends the queued published markers

	// Acks are fire-and-forget: drain flushes them (and any pending publish) before closing.
	drainConn(nc, log)
	cancel()
	adminErr := <-adminDone
	<-consoleDone
	if err := rdb.Close(); err != nil {
		log.Warn("close redis", zap.Error(err))
	}
	switch {
	case loopErr != nil:
		return loopErr
	case adminErr != nil:
		return adminErr
	}
	log.Info("worker stopped")
	return nil
}

func consumeUntilDone(ctx context.Context, cfg Config, log *zap.Logger, nc *nats.Conn, js jetstream.JetStream,
	book *orders.Book, store *orders.Store, m *metrics.Metrics, consuming *atomic.Bool) error {
	cons, err := setup(ctx, cfg, log, js)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before NATS was ever reachable
		}
		return err
	}
	o := process.Options{
		Book: book, Store: store, Publisher: events.NewPublisher(js, publishTimeout), Metrics: m, Log: log,
		Backoff: cfg.Worker.Backoff, OutageDLQ: cfg.Worker.OutageDLQ,
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
	log.Info("worker consuming", zap.String("stream", streams.Webhooks), zap.String("consumer", streams.ConsumerWorker),
		zap.Int("concurrency", cfg.Worker.Concurrency), zap.Int("max_ack_pending", cfg.Worker.MaxAckPending),
		zap.Duration("ack_wait", cfg.Worker.AckWait), zap.Int("max_deliver", cfg.Worker.MaxDeliver))
	consuming.Store(true)
	defer consuming.Store(false)
	err = loop.Run(ctx)
	switch {
	case ctx.Err() != nil:
		return err // shutting down: nil after a clean drain
	case err != nil:
		return fmt.Errorf("%w: %w", ErrStopped, err) // the consumer or the connection went away
	default:
		return ErrStopped
	}
}

// setup creates the streams and the consumer, retrying while NATS is unreachable; /readyz says
// so meanwhile.
func setup(ctx context.Context, cfg Config, log *zap.Logger, js jetstream.JetStream) (jetstream.Consumer, error) {
	wait := 250 * time.Millisecond
	for {
		cons, err := func() (jetstream.Consumer, error) {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := streams.Ensure(sctx, js, cfg.Base.Streams); err != nil {
				return nil, err
			}
			cons, err := js.CreateOrUpdateConsumer(sctx, streams.Webhooks, ConsumerConfig(cfg.Worker))
			if err != nil {
				return nil, fmt.Errorf("consumer %s: %w", streams.ConsumerWorker, err)
			}
			return cons, nil
		}()
		if err == nil {
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("jetstream setup, retrying", zap.Duration("in", wait), zap.Error(natsconn.Describe(js.Conn(), err)))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
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

func drainConn(nc *nats.Conn, log *zap.Logger) {
	if nc.IsClosed() {
		return
	}
	if err := nc.Drain(); err != nil {
		log.Warn("drain nats", zap.Error(err))
		nc.Close()
		return
	}
	deadline := time.Now().Add(drainTimeout)
	for !nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	nc.Close()
}

// redisOptions reads REDIS_URL with the worker's client defaults: handlers share a few
// pipelines (see orders.Store), so a small pool; and dials fail fast while Redis is down, since
// the message is redelivered after a backoff anyway.
func redisOptions(url string) (*redis.Options, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if o.PoolSize == 0 {
		o.PoolSize = 16
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 2
	}
	return o, nil
}
