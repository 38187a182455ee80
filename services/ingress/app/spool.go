package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/hookline/hookline/services/ingress/internal/spool"
	"go.uber.org/zap"
)

// natsDefaultMaxPayload is nats-server's default max_payload, the body limit's basis when the
// spool lets the ingress start before NATS was ever reached.
const natsDefaultMaxPayload = 1 << 20

// openSpool opens HOOKLINE_SPOOL_DIR's spool, or returns nil when it is off. A damaged spool
// file is an error naming it: the ingress refuses to start rather than drop what it holds.
func openSpool(cfg Config, log *zap.Logger) (*spool.Spool, error) {
	if cfg.SpoolDir == "" {
		return nil, nil //nolint:nilnil // a nil spool is "off"; its methods pass through
	}
	sp, err := spool.Open(cfg.SpoolDir, spool.Options{MaxBytes: cfg.SpoolMaxBytes})
	if err != nil {
		return nil, fmt.Errorf("HOOKLINE_SPOOL_DIR: %w", err)
	}
	log.Info("outage spool on", zap.String("file", sp.Path()), zap.Int64("messages", sp.Messages()),
		zap.Int64("bytes", sp.Bytes()), zap.Int64("max_bytes", sp.MaxBytes()))
	return sp, nil
}

// ensureStreamsAsync creates the streams and sets ready. Without a spool the returned channel
// gives ensureStreams' result (Run waits for it, as before); with one it gives nil at once and
// the streams are made in the background while requests are spooled. stop joins the goroutine.
func ensureStreamsAsync(ctx context.Context, sp *spool.Spool, pub *publish.Publisher, cfg Config,
	ready *atomic.Bool, log *zap.Logger) (<-chan error, func()) {
	ctx, cancel := context.WithCancel(ctx)
	result := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := ensureStreams(ctx, pub, cfg, log)
		if err == nil {
			ready.Store(true)
		}
		if sp == nil {
			result <- err
		} else if err != nil && !errors.Is(err, context.Canceled) {
			log.Error("streams not created; webhooks stay spooled", zap.Error(err))
		}
	}()
	if sp != nil {
		result <- nil
	}
	return result, sync.OnceFunc(func() { cancel(); <-done })
}

// maxPayload is the connected server's max_payload, or with the spool on and NATS not reached
// yet, nats-server's default.
func maxPayload(sp *spool.Spool, pub *publish.Publisher) int64 {
	if mp := pub.MaxPayload(); mp > 0 || sp == nil {
		return mp
	}
	return natsDefaultMaxPayload
}

// forwardSpool runs the spool's forwarder until ctx ends or stop is called; stop joins it.
func forwardSpool(ctx context.Context, sp *spool.Spool, pub *publish.Publisher, keeper *streamKeeper, cfg Config,
	log *zap.Logger) (stop func()) {
	if sp == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sp.Forward(ctx, pub.JetStream(), spool.ForwardOptions{Timeout: cfg.PublishTimeout, OnNoStream: keeper.kickStreams,
			Log: log.Named("spool")})
	}()
	return sync.OnceFunc(func() { cancel(); <-done })
}
