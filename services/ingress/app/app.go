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
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/natsconn"
	"github.com/hookline/hookline/pkg/runtime"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/hookline/hookline/services/ingress/internal/callbacks"
	"github.com/hookline/hookline/services/ingress/internal/httpapi"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/hookline/hookline/services/ingress/internal/spool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
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
	// SpoolDir turns on the outage spool (HOOKLINE_SPOOL_DIR; empty: off), bounded by
	// SpoolMaxBytes (HOOKLINE_SPOOL_MAX_BYTES, default 1 GiB). Contract section 10.
	SpoolDir      string
	SpoolMaxBytes int64
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
		SpoolDir:          e.String("HOOKLINE_SPOOL_DIR", ""),
		// Any positive number of bytes (contract section 10): a small bound is how a test fills
		// the spool on purpose; a webhook larger than the bound is answered 503.
		SpoolMaxBytes: int64(e.Int("HOOKLINE_SPOOL_MAX_BYTES", spool.DefaultMaxBytes, 1, 1<<50)),
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

// Run serves until ctx ends, then shuts down gracefully: stop accepting and finish in-flight
// requests (each waits on its own PubAck), flush pending publishes and drain the connection,
// all within ShutdownTimeout. With the outage spool on it serves before NATS is reached, and the
// streams are made in the background.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	sp, err := openSpool(cfg, log) // nil when off; a damaged spool file stops the start here
	if err != nil {
		return err
	}
	defer func() { _ = sp.Close() }() // closed after the forwarder and the server stopped
	svc := runtime.Service{
		Name: "ingress", Log: log, AdminAddr: cfg.AdminAddr, NATSURL: cfg.NATSURL, ReadyStream: streams.Webhooks,
		NATS:            natsconn.Options{NoReconnectBuffer: true},
		ShutdownTimeout: cfg.ShutdownTimeout, ReadyCheck: "streams", NotReady: errStreamsNotReady,
		WrapCheck: sp.Check,
	}
	return svc.Run(ctx, func(env runtime.Env) (runtime.Parts, error) {
		pub, err := publish.New(env.Conn, publish.Options{Timeout: cfg.PublishTimeout})
		if err != nil {
			return runtime.Parts{}, err
		}
		sp.Register(env.Admin.Registry())
		if cfg.Pprof {
			env.Admin.EnablePprof()
		}
		metrics := httpapi.NewMetrics(env.Admin.Registry())
		keeper := newStreamKeeper(pub, pub.JetStream(), cfg.Streams, log)
		spooled := sp.Wrap(keeper, spool.WrapOptions{Connected: pub.Connected})
		ipOf := clientIP(cfg.TrustedProxies)
		api, err := httpapi.New(cfg.Config, spooled, metrics, log, httpapi.Options{Now: cfg.Now, RetryAfter503: cfg.PublishTimeout,
			ClientIP: ipOf, FailedVerifyRPS: cfg.FailedVerifyRPS, FailedVerifyBurst: cfg.FailedVerifyBurst, Tracing: env.Tracing})
		if err != nil {
			return runtime.Parts{}, err
		}
		return runtime.Parts{
			Setup:             func(ctx context.Context) error { return streams.Ensure(ctx, pub.JetStream(), cfg.Streams) },
			SetupInBackground: sp != nil,
			Start: func(context.Context) ([]runtime.Component, error) {
				// The body limit is what this server can store, known once connected.
				maxBody, err := bodyLimit(cfg, maxPayload(sp, pub), log)
				if err != nil {
					return nil, err
				}
				api.LimitBody(maxBody)
				srv, ln, err := publicServer(cfg, api, spooled, sp != nil, pub, ipOf, maxBody, env.Tracing, log)
				if err != nil {
					return nil, err
				}
				log.Info("ingress listening", zap.String("http", ln.Addr().String()))
				if cfg.OnListen != nil {
					cfg.OnListen(ln.Addr(), env.AdminAddr)
				}
				comps := []runtime.Component{
					{Name: "stream keeper", Run: func(ctx context.Context) error { keeper.run(ctx); return nil }},
					{Name: "http", Run: func(context.Context) error { return serve(srv, ln) }, Stop: srv.Shutdown},
				}
				if sp != nil {
					// What is left when it stops stays spooled for the next start. It starts once the
					// streams were made (so a drained spool means a ready ingress); setup retries
					// as soon as NATS is back, so this costs no time after an outage.
					comps = append(comps, runtime.Component{Name: "spool forwarder", Run: func(ctx context.Context) error {
						select {
						case <-env.SetUp:
						case <-ctx.Done():
							return nil
						}
						sp.Forward(ctx, pub.JetStream(), spool.ForwardOptions{Timeout: cfg.PublishTimeout,
							Connected: pub.Connected, OnNoStream: keeper.kickStreams, Log: log.Named("spool")})
						return nil
					}})
				}
				return comps, nil
			},
			Drain: pub.Flush,
		}, nil
	})
}

// publicServer listens on the public address and returns the server for the API and the
// callback intake.
func publicServer(cfg Config, api *httpapi.API, pubs spool.Publisher, spooling bool, pub *publish.Publisher,
	ipOf echo.IPExtractor, maxBody int64, tr *tracing.Tracing, log *zap.Logger) (*http.Server, net.Listener, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpapi.ErrorHandler(log)
	e.IPExtractor = ipOf
	e.Use(middleware.Recover())
	api.Register(e)
	cbCfg := *cfg.Config // the callback body limit fits max_payload too
	cbCfg.MaxBodyBytes = maxBody
	intake := callbacks.New(&cbCfg, pubs, log, callbacks.Options{
		RetryAfter: cfg.PublishTimeout,
		Requests:   callbacks.NewBucketStore(pub.JetStream(), cfg.Streams),
		Spooling:   spooling,
		Tracing:    tr,
	})
	e.POST(callbacks.Route, intake.Handle)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	// The write deadline runs from the end of the headers, the read deadline from the first
	// byte: writes get the read timeout plus the publish timeout and a margin, so a body that
	// arrives at the last moment still gets its answer, and so does a read that timed out (503).
	srv := &http.Server{Handler: e, ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout), ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.ReadTimeout + cfg.PublishTimeout + 5*time.Second, IdleTimeout: 120 * time.Second}
	return srv, ln, nil
}

// serve serves until Shutdown, which the runtime calls with the shutdown bound.
func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
