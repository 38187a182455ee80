package app

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/logging"
	"github.com/hookline/hookline/pkg/natsconn"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/services/worker/internal/events"
	"github.com/hookline/hookline/services/worker/internal/metrics"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/hookline/hookline/services/worker/internal/process"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// ReplayOptions choose what Replay re-applies.
type ReplayOptions struct {
	// StartSeq is the first WEBHOOKS sequence to replay; with a zero StartTime too, replay starts
	// at the beginning of the stream.
	StartSeq uint64
	// StartTime replays the messages stored at or after it.
	StartTime time.Time
	// Publish re-publishes the canonical event of every transition the replay applies. Off, the
	// replay rebuilds order state only: those events were published when the webhooks first
	// arrived.
	Publish bool
	// Concurrency is how many messages are handled at once (default 1: stream order, so versions
	// come out as a serial history would give them).
	Concurrency int
	// Progress, if set, is called about once a second and at the end.
	Progress func(ReplayProgress)
}

// ReplayProgress counts a replay's work.
type ReplayProgress struct {
	Handled uint64 // messages settled (applied, duplicate, stale, … or dead-lettered)
	Total   uint64 // messages the replay found to do when it started
}

// Replay re-applies stored WEBHOOKS messages through the worker's normal handler (decode, apply
// atomically in Redis, publish) on a temporary consumer, and returns once it has settled every
// message the stream held. Dedupe makes it safe: an event already applied is a duplicate. It is
// how order state is rebuilt after Redis lost its data.
func Replay(ctx context.Context, cfg Config, log *zap.Logger, o ReplayOptions) (ReplayProgress, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	book, err := orders.NewBook(cfg.Base.Registry())
	if err != nil {
		return ReplayProgress{}, fmt.Errorf("lifecycles: %w", err)
	}
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		return ReplayProgress{}, err
	}
	rdb, store, err := newRedis(cfg, log)
	if err != nil {
		return ReplayProgress{}, err
	}
	defer rdb.Close()
	defer store.Close()
	if err := store.Ping(ctx); err != nil {
		return ReplayProgress{}, fmt.Errorf("redis: %w", err)
	}
	nc, err := natsconn.Connect(cfg.Base.NATSURL, log, natsconn.Options{Name: "hookline-replay"})
	if err != nil {
		return ReplayProgress{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		return ReplayProgress{}, fmt.Errorf("jetstream: %w", err)
	}

	cc := jetstream.ConsumerConfig{
		Description:       "Hookline replay",
		FilterSubject:     FilterSubject,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           cfg.Worker.AckWait,
		MaxDeliver:        -1,
		MaxAckPending:     2 * o.Concurrency,
		InactiveThreshold: time.Minute,
	}
	switch {
	case !o.StartTime.IsZero():
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &o.StartTime
	case o.StartSeq > 0:
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, o.StartSeq
	}
	cons, err := js.CreateConsumer(ctx, streams.Webhooks, cc)
	if err != nil {
		return ReplayProgress{}, fmt.Errorf("replay consumer: %w", err)
	}
	name := cons.CachedInfo().Name
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := js.DeleteConsumer(dctx, streams.Webhooks, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			log.Warn("delete replay consumer (it expires on its own)", zap.String("consumer", name), zap.Error(err))
		}
	}()
	progress := ReplayProgress{Total: cons.CachedInfo().NumPending}

	var pub process.Publisher = discard{}
	if o.Publish {
		pub = events.NewPublisher(js, publishTimeout)
	}
	handler := process.New(process.Options{
		Providers: cfg.Base.Registry(), Book: book, Store: store, Publisher: pub, Metrics: m, Log: log,
		Backoff: cfg.Worker.Backoff, OutageDLQ: cfg.Worker.OutageDLQ,
	})
	var handled atomic.Uint64
	loop := consume.New(cons, js, handler.Handle, logging.NewKV(log), consume.Options{
		Workers: o.Concurrency, MaxDeliver: cfg.Worker.MaxDeliver, Backoff: cfg.Worker.Backoff, AckWait: cfg.Worker.AckWait,
		OnDone: func(r consume.Result) {
			if r.Outcome != consume.Retried {
				handled.Add(1)
			}
		},
	})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	loopErr := make(chan error, 1)
	go func() { loopErr <- loop.Run(runCtx) }()

	report := func() {
		progress.Handled = handled.Load()
		if o.Progress != nil {
			o.Progress(progress)
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastReport := time.Now()
	for {
		select {
		case err := <-loopErr:
			report()
			if err == nil {
				err = ctx.Err()
			}
			return progress, fmt.Errorf("replay stopped early: %w", err)
		case <-tick.C:
		}
		info, err := cons.Info(ctx)
		if err != nil {
			if ctx.Err() != nil {
				stop()
				return progress, fmt.Errorf("replay: %w", errors.Join(ctx.Err(), <-loopErr))
			}
			continue // a passing NATS hiccup; the loop retries on its own
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && handled.Load() >= progress.Total {
			stop()
			if err := <-loopErr; err != nil {
				return progress, err
			}
			report()
			return progress, nil
		}
		if time.Since(lastReport) >= time.Second {
			report()
			lastReport = time.Now()
		}
	}
}

// discard publishes nothing: a state-only replay.
type discard struct{}

func (discard) Publish(context.Context, []*nats.Msg) error { return nil }

var _ process.Publisher = discard{}
