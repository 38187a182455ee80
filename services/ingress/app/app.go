// Package app runs the ingress: it connects to NATS, makes sure the streams exist, serves the
// public API and the admin port, and on shutdown stops accepting, finishes in-flight requests,
// flushes pending publishes and drains the connection. `hookline dev` calls Run in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/pkg/admin"
	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/natsconn"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/services/ingress/internal/callbacks"
	"github.com/hookline/hookline/services/ingress/internal/httpapi"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Config is the ingress configuration.
type Config struct {
	*config.Config
	// PublishTimeout bounds the wait for a PubAck before answering 503 (HOOKLINE_PUBLISH_TIMEOUT).
	PublishTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown (HOOKLINE_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// Pprof mounts /debug/pprof on the admin port (HOOKLINE_PPROF).
	Pprof bool
	// OnListen, if set, is called with the bound addresses once both ports listen (tests bind
	// port 0 and learn the ports here).
	OnListen func(public, admin net.Addr)
	// Now is the clock for freshness checks; nil means time.Now.
	Now func() time.Time
}

// Default ports (contract section 1).
var Defaults = config.Defaults{HTTPAddr: ":8080", AdminAddr: ":9090"}

// LoadConfig reads the ingress configuration from lookup (os.LookupEnv).
func LoadConfig(lookup config.Lookup) (Config, error) {
	base, err := config.Load(lookup, Defaults)
	if err != nil {
		return Config{}, err
	}
	e := config.NewEnv(lookup)
	c := Config{
		Config:          base,
		PublishTimeout:  e.Duration("HOOKLINE_PUBLISH_TIMEOUT", 2*time.Second),
		ShutdownTimeout: e.Duration("HOOKLINE_SHUTDOWN_TIMEOUT", 15*time.Second),
		Pprof:           e.Bool("HOOKLINE_PPROF", false),
	}
	return c, e.Err()
}

var errStreamsNotReady = errors.New("streams not created yet")

// Run serves until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	nc, err := natsconn.Connect(cfg.NATSURL, log, natsconn.Options{Name: "hookline-ingress", NoReconnectBuffer: true})
	if err != nil {
		return err
	}
	defer nc.Close()
	pub, err := publish.New(nc, publish.Options{Timeout: cfg.PublishTimeout})
	if err != nil {
		return err
	}
	adm := admin.New(log)
	adm.AddCheck("nats", natsconn.Check(nc))
	if cfg.Pprof {
		adm.EnablePprof()
	}
	var streamsReady atomic.Bool
	adm.AddCheck("streams", func(context.Context) error {
		if !streamsReady.Load() {
			return errStreamsNotReady
		}
		return nil
	})
	metrics := httpapi.NewMetrics(adm.Registry())
	keeper := newStreamKeeper(pub, pub.JetStream(), cfg.Streams, log)
	api, err := httpapi.New(cfg.Config, keeper, metrics, log, httpapi.Options{Now: cfg.Now, RetryAfter503: cfg.PublishTimeout})
	if err != nil {
		return err
	}

	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.AdminAddr, err)
	}
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmin()
	adminErr := make(chan error, 1)
	go func() { adminErr <- adm.Serve(adminCtx, adminLn) }()
	stopAdminAnd := func(err error) error {
		stopAdmin()
		return errors.Join(err, <-adminErr)
	}

	// The admin port answers (alive, not ready) while NATS is still coming up.
	if err := ensureStreams(ctx, pub, cfg, log); err != nil {
		if ctx.Err() != nil {
			return stopAdminAnd(nil) // stopped before NATS was ever reachable: a clean stop
		}
		return stopAdminAnd(err)
	}
	streamsReady.Store(true)
	keeperCtx, stopKeeper := context.WithCancel(ctx)
	defer stopKeeper()
	go keeper.run(keeperCtx)

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpapi.ErrorHandler(log)
	e.Use(middleware.Recover())
	api.Register(e)
	intake := callbacks.New(cfg.Config, keeper, log, callbacks.Options{
		RetryAfter: cfg.PublishTimeout,
		Requests:   callbacks.NewBucketStore(pub.JetStream(), cfg.Streams),
	})
	e.POST(callbacks.Route, intake.Handle)

	publicLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return stopAdminAnd(fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err))
	}
	log.Info("ingress listening", zap.String("http", publicLn.Addr().String()), zap.String("admin", adminLn.Addr().String()))
	if cfg.OnListen != nil {
		cfg.OnListen(publicLn.Addr(), adminLn.Addr())
	}

	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(publicLn) }()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	case err := <-adminErr:
		runErr = err
		adminErr <- nil // stopAdminAnd below reads the channel once more
	}
	log.Info("ingress shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Stop accepting and wait for in-flight requests; each is waiting on its own PubAck.
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("http shutdown: %w", err))
	}
	if err := pub.Flush(sctx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if err := drain(sctx, nc); err != nil {
		runErr = errors.Join(runErr, err)
	}
	runErr = stopAdminAnd(runErr)
	log.Info("ingress stopped")
	return runErr
}

// ensureStreams creates or updates the streams. NATS may not be up yet (the connection retries in
// the background), so it keeps trying until ctx ends; /readyz says 503 meanwhile.
func ensureStreams(ctx context.Context, pub *publish.Publisher, cfg Config, log *zap.Logger) error {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := streams.Ensure(actx, pub.JetStream(), cfg.Streams)
		cancel()
		if err == nil {
			return nil
		}
		if attempt%10 == 0 {
			log.Warn("streams not ready, retrying", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensure streams: %w", errors.Join(ctx.Err(), err))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// drain flushes and closes the connection. While NATS is unreachable there is nothing to drain:
// publishes are never buffered while reconnecting (NoReconnectBuffer) and Flush has settled the
// pending ones, so the connection is closed and the shutdown is still clean.
func drain(ctx context.Context, nc *nats.Conn) error {
	if err := nc.Drain(); err != nil {
		if errors.Is(err, nats.ErrConnectionReconnecting) {
			nc.Close()
			return nil
		}
		return fmt.Errorf("drain nats: %w", err)
	}
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain nats: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
