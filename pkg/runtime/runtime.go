// Package runtime is the one lifecycle every Hookline service runs: listen on the admin port,
// connect to NATS, report readiness, set up (streams, consumers, buckets) with retries until NATS
// answers, run the service's components, and on shutdown stop them, drain within a bound and
// return every error joined. A service supplies only its own parts (Parts); the CLI's
// `hookline dev` runs several services in one process, so nothing here touches globals or exits.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/pkg/admin"
	"github.com/hookline/hookline/pkg/natsconn"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// DefaultShutdownTimeout bounds the shutdown when Service.ShutdownTimeout is zero.
const DefaultShutdownTimeout = 10 * time.Second

// Setup retries: the first after firstRetry, doubling up to maxRetry; one attempt may take
// attemptTimeout at the most.
const (
	firstRetry     = 250 * time.Millisecond
	maxRetry       = 5 * time.Second
	attemptTimeout = 10 * time.Second
	// reconnectPoll: how often a setup waiting out a NATS outage checks for the connection.
	reconnectPoll = 100 * time.Millisecond
)

// ErrStoppedEarly means a component returned nil while the service was still meant to run.
var ErrStoppedEarly = errors.New("component stopped before shutdown")

// ErrNotReady is the readiness answer until setup is done, when Service.NotReady is nil.
var ErrNotReady = errors.New("not set up yet")

// Service is what one service tells the runtime about itself.
type Service struct {
	// Name names the service in logs and, as "hookline-<name>", its NATS connection.
	Name string
	Log  *zap.Logger
	// AdminAddr is where the admin port listens, unless AdminListener is set (tests pass a
	// listener on port 0 and read its address).
	AdminAddr     string
	AdminListener net.Listener
	// NATSURL is the server (or comma-separated list) to connect to; NATS holds the connection
	// options (an empty Name is filled from Name).
	NATSURL string
	NATS    natsconn.Options
	// ReadyStream, if set, makes the "nats" readiness check ask JetStream for this stream's info
	// (cached briefly) instead of only looking at the connection, so /readyz tells the truth
	// during a stream leader election in a cluster.
	ReadyStream string
	// ShutdownTimeout bounds stopping the components and draining (DefaultShutdownTimeout if 0).
	ShutdownTimeout time.Duration
	// ReadyCheck names the readiness check that fails with NotReady (ErrNotReady if nil) from
	// start-up until setup is done and the components run, and again once shutdown begins.
	// Empty: no such check.
	ReadyCheck string
	NotReady   error
	// WrapCheck, if set, wraps the runtime's own readiness checks ("nats" and ReadyCheck), for a
	// service that stays ready through an outage (the ingress with its spool).
	WrapCheck func(admin.Check) admin.Check
}

// Env is what build gets: the connection (maybe not connected yet), the admin server, on which
// a service registers its metrics, checks and routes, the admin port's address, and the
// service's tracing (export on only when the OTEL_EXPORTER_OTLP_* variables say so; propagation
// always), which the runtime flushes and stops after Drain.
type Env struct {
	Conn      *nats.Conn
	Admin     *admin.Server
	AdminAddr net.Addr
	Tracing   *tracing.Tracing
	// SetUp is closed once Setup has succeeded and the ReadyCheck passes (at once without a
	// Setup). A component that must not run before (the ingress's spool forwarder, whose drain
	// is only "done" once the service is ready again) waits on it.
	SetUp <-chan struct{}
}

// Parts are the service's own steps. Each is optional.
type Parts struct {
	// Setup makes what the service needs on NATS. It is retried with backoff until it succeeds
	// or ctx ends (then Run returns nil: a stop asked for is not a failure); the admin port
	// answers (alive, not ready) meanwhile. Each attempt's ctx is bounded.
	Setup func(ctx context.Context) error
	// SetupInBackground: Start does not wait for Setup, which is retried beside the components
	// until it succeeds (ReadyCheck passes from then on). For a service that can serve before
	// NATS is reached (the ingress with its spool).
	SetupInBackground bool
	// Start runs once after Setup and returns the components to run. An error stops the service.
	Start func(ctx context.Context) ([]Component, error)
	// Drain runs after every component has returned, before the NATS connection is drained,
	// within the shutdown bound (flush publishes, close stores). It runs even when setup never
	// finished, so what Build created is always released.
	Drain func(ctx context.Context) error
}

// Component is one part of the service that runs until shutdown, such as a consume loop or an
// HTTP server.
type Component struct {
	// Name prefixes the component's error.
	Name string
	// Run runs until ctx ends (or Stop is called) and returns. Returning earlier starts the
	// shutdown of the whole service; a nil return then counts as ErrStoppedEarly.
	Run func(ctx context.Context) error
	// Stop, if set, is called once shutdown begins, with the shutdown bound, for components that
	// do not stop by ctx alone (http.Server.Shutdown). Run must return after it.
	Stop func(ctx context.Context) error
}

// Run runs the service until ctx ends or a component fails, then shuts down: readiness fails,
// the components are stopped and joined, Drain runs, the NATS connection is drained, the spans
// still buffered are exported, and the admin port closes last. Every goroutine it starts has returned when it returns. The error
// joins everything that failed; nil after a stop asked for through ctx, also during an outage
// or before NATS was ever reachable.
func (s Service) Run(ctx context.Context, build func(Env) (Parts, error)) error {
	if s.Log == nil {
		s.Log = zap.NewNop()
	}
	if s.ShutdownTimeout <= 0 {
		s.ShutdownTimeout = DefaultShutdownTimeout
	}
	if s.NATS.Name == "" {
		s.NATS.Name = "hookline-" + s.Name
	}
	ln := s.AdminListener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.AdminAddr); err != nil {
			return fmt.Errorf("%s: admin listen %s: %w", s.Name, s.AdminAddr, err)
		}
	}
	tr, err := tracing.Setup(ctx, tracing.Options{Service: s.Name, Log: s.Log})
	if err != nil {
		_ = ln.Close() // nothing was served on it
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	nc, err := natsconn.Connect(s.NATSURL, s.Log, s.NATS)
	if err != nil {
		_ = ln.Close()
		return errors.Join(err, s.stopTracing(ctx, tr))
	}
	defer nc.Close()

	wrap := s.WrapCheck
	if wrap == nil {
		wrap = func(c admin.Check) admin.Check { return c }
	}
	adm := admin.New(s.Log)
	natsCheck := natsconn.Check(nc)
	if s.ReadyStream != "" {
		natsCheck = natsconn.CheckStream(nc, s.ReadyStream)
	}
	adm.AddCheck("nats", wrap(natsCheck))
	ready := readiness{done: make(chan struct{})}
	if s.ReadyCheck != "" {
		notReady := s.NotReady
		if notReady == nil {
			notReady = ErrNotReady
		}
		adm.AddCheck(s.ReadyCheck, wrap(func(context.Context) error {
			if !ready.ready() {
				return notReady
			}
			return nil
		}))
	}
	parts, err := build(Env{Conn: nc, Admin: adm, AdminAddr: ln.Addr(), Tracing: tr, SetUp: ready.done})
	if err != nil {
		_ = ln.Close()
		return errors.Join(err, s.stopTracing(ctx, tr))
	}

	// The admin port serves from here to the very end, so /healthz answers while NATS is still
	// coming up and /readyz says what is down. If it fails, the service stops.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmin()
	adminErr := make(chan error, 1)
	go func() {
		err := adm.Serve(adminCtx, ln)
		if err != nil {
			cancel()
		}
		adminErr <- err
	}()
	s.Log.Info(s.Name+" admin listening", zap.String("admin", ln.Addr().String()))

	comps, err := s.start(runCtx, nc, parts, &ready)
	errs := []error{err}
	exits := make(chan error, len(comps))
	for _, c := range comps {
		go func() { exits <- c.run(runCtx) }()
	}
	running := len(comps)
	setupDone := make(chan struct{})
	if err == nil && parts.SetupInBackground && parts.Setup != nil {
		go func() {
			defer close(setupDone)
			if s.setup(runCtx, nc, parts.Setup) == nil {
				ready.set()
			} // else ctx ended: it retries until then, so there is no error to report
		}()
	} else {
		close(setupDone)
	}
	if err == nil && runCtx.Err() == nil {
		select {
		case <-runCtx.Done():
		case err := <-exits:
			running--
			errs = append(errs, err)
		}
	}

	s.Log.Info(s.Name + " shutting down")
	ready.stop()
	dctx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), s.ShutdownTimeout)
	defer cancelDrain()
	cancel()
	for i := len(comps) - 1; i >= 0; i-- {
		if stop := comps[i].Stop; stop != nil {
			if err := stop(dctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: stop: %w", comps[i].Name, err))
			}
		}
	}
	for ; running > 0; running-- {
		errs = append(errs, <-exits)
	}
	<-setupDone
	if parts.Drain != nil {
		errs = append(errs, parts.Drain(dctx))
	}
	errs = append(errs, drain(dctx, nc))
	errs = append(errs, tr.Shutdown(dctx))
	stopAdmin()
	errs = append(errs, <-adminErr)
	err = errors.Join(errs...)
	s.Log.Info(s.Name+" stopped", zap.Error(err))
	return err
}

// stopTracing stops tr within the shutdown bound, on a return before anything ran.
func (s Service) stopTracing(ctx context.Context, tr *tracing.Tracing) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.ShutdownTimeout)
	defer cancel()
	return tr.Shutdown(sctx)
}

// start retries Setup until it succeeds (unless it runs in the background), then calls Start.
// A ctx that ended is no error.
func (s Service) start(ctx context.Context, nc *nats.Conn, p Parts, ready *readiness) ([]Component, error) {
	if p.Setup != nil && !p.SetupInBackground {
		if err := s.setup(ctx, nc, p.Setup); err != nil {
			if ctx.Err() != nil {
				return nil, nil //nolint:nilerr // stopped before setup could finish: a clean stop
			}
			return nil, err
		}
	}
	var comps []Component
	if p.Start != nil {
		var err error
		if comps, err = p.Start(ctx); err != nil {
			return nil, err
		}
	}
	if p.Setup == nil || !p.SetupInBackground {
		ready.set()
	}
	return comps, nil
}

// readiness is the ReadyCheck's state: not ready, ready, then stopping for good. done is closed
// by the first set.
type readiness struct {
	state atomic.Int32
	done  chan struct{}
	once  sync.Once
}

const (
	notReady int32 = iota
	isReady
	stopping
)

func (r *readiness) set() {
	r.state.CompareAndSwap(notReady, isReady)
	r.once.Do(func() { close(r.done) })
}

func (r *readiness) stop()       { r.state.Store(stopping) }
func (r *readiness) ready() bool { return r.state.Load() == isReady }

// setup calls fn until it succeeds or ctx ends, waiting longer after each failure. The errors it
// logs name the NATS URL (without credentials) and say whether it is unreachable.
func (s Service) setup(ctx context.Context, nc *nats.Conn, fn func(context.Context) error) error {
	for wait := firstRetry; ; wait = min(2*wait, maxRetry) {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		err = fmt.Errorf("%s setup: %w", s.Name, natsconn.Describe(nc, err))
		if ctx.Err() != nil {
			return errors.Join(ctx.Err(), err)
		}
		s.Log.Warn(s.Name+" setup failed, retrying", zap.Duration("in", wait), zap.Error(err))
		if werr := waitRetry(ctx, nc, wait); werr != nil {
			return errors.Join(werr, err)
		}
	}
}

// waitRetry waits before the next setup attempt: up to d, or less when a connection that was
// down comes up meanwhile (so the service is set up and ready right after an outage, not up to
// maxRetry later). It returns ctx's error if ctx ends first.
func waitRetry(ctx context.Context, nc *nats.Conn, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	var poll <-chan time.Time
	if !nc.IsConnected() {
		tick := time.NewTicker(reconnectPoll)
		defer tick.Stop()
		poll = tick.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-poll:
			if nc.IsConnected() {
				return nil
			}
		}
	}
}

// run runs the component and names its error; nil while ctx is live becomes ErrStoppedEarly.
func (c Component) run(ctx context.Context) error {
	err := c.Run(ctx)
	if err == nil && ctx.Err() == nil {
		err = ErrStoppedEarly
	}
	if err != nil && c.Name != "" {
		err = fmt.Errorf("%s: %w", c.Name, err)
	}
	return err
}

// drain flushes what the connection holds (acks, publishes) and closes it, within ctx. While NATS
// is unreachable there is nothing to flush (the services do not buffer publishes while
// reconnecting, and a never-connected connection has sent nothing), so it is closed and the stop
// is still clean.
func drain(ctx context.Context, nc *nats.Conn) error {
	if nc.IsClosed() {
		return nil
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
		if errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		return fmt.Errorf("drain nats: %w", err)
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			nc.Close()
			return fmt.Errorf("drain nats: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}
