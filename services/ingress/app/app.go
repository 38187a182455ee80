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
	"net/netip"
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
	// MaxBodyExplicit: HOOKLINE_MAX_BODY_BYTES was set. An explicit limit the NATS server cannot
	// store is a start-up error; the default is lowered to fit, with a warning.
	MaxBodyExplicit bool
	// ReadTimeout bounds reading one request, body included (HOOKLINE_READ_TIMEOUT); a body not
	// in by then is answered 503 with Retry-After and the connection closed.
	ReadTimeout time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For is believed for the client address
	// (HOOKLINE_TRUSTED_PROXIES, CIDRs; empty: the TCP peer address is the client).
	TrustedProxies []netip.Prefix
	// FailedVerifyRPS and FailedVerifyBurst limit failed signature verifications per client
	// address (HOOKLINE_FAILED_VERIFY_RPS, default 5; HOOKLINE_FAILED_VERIFY_BURST, default 20;
	// RPS 0: off).
	FailedVerifyRPS   float64
	FailedVerifyBurst int
	// OnListen, if set, is called with the bound addresses once both ports listen (tests bind
	// port 0 and learn the ports here).
	OnListen func(public, admin net.Addr)
	// Now is the clock for freshness checks; nil means time.Now.
	Now func() time.Time
}

// LoadConfig reads the ingress configuration from lookup (os.LookupEnv). Its defaults are here
// and in config.Load; the ports are contract section 1's.
func LoadConfig(lookup config.Lookup) (Config, error) {
	base, err := config.Load(lookup, config.Defaults{HTTPAddr: ":8080", AdminAddr: ":9090"})
	if err != nil {
		return Config{}, err
	}
	e := config.NewEnv(lookup)
	c := Config{
		Config:            base,
		PublishTimeout:    e.Duration("HOOKLINE_PUBLISH_TIMEOUT", 2*time.Second),
		ShutdownTimeout:   e.Duration("HOOKLINE_SHUTDOWN_TIMEOUT", 15*time.Second),
		Pprof:             e.Bool("HOOKLINE_PPROF", false),
		MaxBodyExplicit:   e.String(envMaxBody, "") != "",
		ReadTimeout:       e.Duration("HOOKLINE_READ_TIMEOUT", 30*time.Second),
		FailedVerifyRPS:   e.Float("HOOKLINE_FAILED_VERIFY_RPS", 5),
		FailedVerifyBurst: e.Int("HOOKLINE_FAILED_VERIFY_BURST", 20, 1, 1<<20),
	}
	for _, v := range e.List("HOOKLINE_TRUSTED_PROXIES") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			e.Fail("HOOKLINE_TRUSTED_PROXIES", "want CIDRs such as 10.0.0.0/8, got %q", v)
			break
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return c, e.Err()
}

const envMaxBody = "HOOKLINE_MAX_BODY_BYTES"

// clientIP is the extractor for the client address: the TCP peer, or with trusted proxies the
// right-most X-Forwarded-For entry not from a trusted proxy (loopback, link-local and private
// peers are trusted only when listed).
func clientIP(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(prefixNet(p)))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// bodyLimit is the largest body the server behind nc can store with its headers: the configured
// limit, or less when max_payload (less httpapi.HeaderReserve) is smaller. An explicitly
// configured limit over it is an error naming both numbers; the default is lowered with a
// warning.
func bodyLimit(cfg Config, maxPayload int64, log *zap.Logger) (int64, error) {
	fits := maxPayload - httpapi.HeaderReserve
	if fits < 1 {
		return 0, fmt.Errorf("%w: NATS max_payload %d leaves no room for a body after %d bytes of headers",
			config.ErrInvalid, maxPayload, httpapi.HeaderReserve)
	}
	if cfg.MaxBodyBytes <= fits {
		return cfg.MaxBodyBytes, nil
	}
	if cfg.MaxBodyExplicit {
		return 0, fmt.Errorf("%w: %s: %d is over the %d bytes the NATS server can store (max_payload %d less %d for headers)",
			config.ErrInvalid, envMaxBody, cfg.MaxBodyBytes, fits, maxPayload, httpapi.HeaderReserve)
	}
	log.Warn("body limit lowered to fit the NATS server's max_payload",
		zap.Int64("default", cfg.MaxBodyBytes), zap.Int64("max_body_bytes", fits), zap.Int64("max_payload", maxPayload))
	return fits, nil
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
	adm.AddCheck("nats", natsconn.CheckStream(nc, streams.Webhooks))
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
	ipOf := clientIP(cfg.TrustedProxies)
	api, err := httpapi.New(cfg.Config, keeper, metrics, log, httpapi.Options{Now: cfg.Now, RetryAfter503: cfg.PublishTimeout,
		ClientIP: ipOf, FailedVerifyRPS: cfg.FailedVerifyRPS, FailedVerifyBurst: cfg.FailedVerifyBurst})
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
	maxBody, err := bodyLimit(cfg, pub.MaxPayload(), log)
	if err != nil {
		return stopAdminAnd(err)
	}
	api.LimitBody(maxBody)
	streamsReady.Store(true)
	keeperCtx, stopKeeper := context.WithCancel(ctx)
	keeperDone := make(chan struct{})
	go func() {
		defer close(keeperDone)
		keeper.run(keeperCtx)
	}()
	defer func() { stopKeeper(); <-keeperDone }() // joined before Run returns

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpapi.ErrorHandler(log)
	e.IPExtractor = ipOf
	e.Use(middleware.Recover())
	api.Register(e)
	cbCfg := *cfg.Config // the callback body limit fits max_payload too
	cbCfg.MaxBodyBytes = maxBody
	intake := callbacks.New(&cbCfg, keeper, log, callbacks.Options{
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

	// The write deadline runs from the end of the headers, the read deadline from the first
	// byte: writes get the read timeout plus the publish timeout and a margin, so a body that
	// arrives at the last moment still gets its answer, and so does a read that timed out (503).
	srv := &http.Server{Handler: e, ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout), ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.ReadTimeout + cfg.PublishTimeout + 5*time.Second, IdleTimeout: 120 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(publicLn) }()

	var runErr error
	served := false // the Serve goroutine has returned
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		served = true
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
	if !served {
		<-serveErr // Serve returns ErrServerClosed as soon as Shutdown closes the listener
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
			log.Warn("streams not ready, retrying", zap.Error(natsconn.Describe(pub.JetStream().Conn(), err)))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensure streams: %w", errors.Join(ctx.Err(), natsconn.Describe(pub.JetStream().Conn(), err)))
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
