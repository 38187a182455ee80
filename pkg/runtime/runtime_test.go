package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/natsconn"
	"github.com/hookline/hookline/pkg/runtime"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var errNoBucket = errors.New("bucket not made yet")

// running is one Service.Run in the background.
type running struct {
	t      *testing.T
	admin  string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, s runtime.Service, build func(runtime.Env) (runtime.Parts, error)) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.AdminListener = ln
	if s.Name == "" {
		s.Name = "test"
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, admin: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx, build) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// stop cancels the run and returns Run's error.
func (r *running) stop() error {
	r.t.Helper()
	r.cancel()
	return r.wait()
}

// wait returns Run's error once it returns.
func (r *running) wait() error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatal("Run did not return")
		return nil
	}
}

func (r *running) readyz() int {
	code, _ := r.readyzBody()
	return code
}

func (r *running) readyzBody() (int, string) {
	resp, err := http.Get(r.admin + "/readyz")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, ""
	}
	return resp.StatusCode, string(b)
}

// bucketSetup is a Setup that needs JetStream: it makes a KV bucket and counts its attempts.
func bucketSetup(env runtime.Env, attempts *atomic.Int32) func(context.Context) error {
	return func(ctx context.Context) error {
		attempts.Add(1)
		js, err := jetstream.New(env.Conn)
		if err != nil {
			return err
		}
		_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "runtime_test"})
		return err
	}
}

// Setup is retried while NATS is down, /readyz says 503 meanwhile and the components start only
// once it succeeded; the errors logged name the URL without its credentials.
func TestSetupRetriedUntilNATSComesUp(t *testing.T) {
	n := testkit.StartNATS(t)
	n.Stop()
	core, logs := observer.New(zapcore.WarnLevel)
	var attempts atomic.Int32
	started := make(chan struct{})
	r := start(t, runtime.Service{
		Log: zap.New(core), NATSURL: strings.Replace(n.URL, "nats://", "nats://user:hunter2@", 1),
		NATS:       natsconn.Options{NoReconnectBuffer: true}, // attempts fail at once while NATS is down
		ReadyCheck: "bucket", NotReady: errNoBucket,
	}, func(env runtime.Env) (runtime.Parts, error) {
		return runtime.Parts{
			Setup: bucketSetup(env, &attempts),
			Start: func(context.Context) ([]runtime.Component, error) {
				close(started)
				return []runtime.Component{{Name: "idle", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }}}, nil
			},
		}, nil
	})
	testkit.Eventually(t, 20*time.Second, "a second setup attempt", func() bool { return attempts.Load() >= 2 })
	if code, body := r.readyzBody(); code != http.StatusServiceUnavailable || !strings.Contains(body, errNoBucket.Error()) {
		t.Fatalf("/readyz while NATS is down = %d %s, want 503 naming the setup check", code, body)
	}
	select {
	case <-started:
		t.Fatal("components started before setup succeeded")
	default:
	}
	n.Start()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("components did not start after NATS came up")
	}
	testkit.Eventually(t, 20*time.Second, "/readyz 200", func() bool { return r.readyz() == http.StatusOK })
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}

	retries := logs.FilterMessage("test setup failed, retrying").All()
	if len(retries) == 0 {
		t.Fatal("no setup retry logged")
	}
	msg := fmt.Sprint(retries[0].ContextMap()["error"])
	if want := fmt.Sprintf("127.0.0.1:%d", n.Port); !strings.Contains(msg, want) || !strings.Contains(msg, "unreachable") {
		t.Errorf("setup error %q does not name %s as unreachable", msg, want)
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("setup error %q shows the password", msg)
	}
}

// Stopped before NATS was ever reachable, Run returns nil: a stop asked for is not a failure.
func TestCancelDuringSetupReturnsNil(t *testing.T) {
	var attempts atomic.Int32
	r := start(t, runtime.Service{NATSURL: fmt.Sprintf("nats://127.0.0.1:%d", testkit.FreePort(t)), ReadyCheck: "bucket"},
		func(env runtime.Env) (runtime.Parts, error) {
			return runtime.Parts{Setup: bucketSetup(env, &attempts)}, nil
		})
	testkit.Eventually(t, 20*time.Second, "a setup attempt", func() bool { return attempts.Load() >= 1 })
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

// Stopped while NATS is down after a good start, Run still returns nil.
func TestStopDuringOutageReturnsNil(t *testing.T) {
	n := testkit.StartNATS(t)
	var attempts atomic.Int32
	r := start(t, runtime.Service{NATSURL: n.URL, ReadyCheck: "bucket"}, func(env runtime.Env) (runtime.Parts, error) {
		return runtime.Parts{Setup: bucketSetup(env, &attempts)}, nil
	})
	testkit.Eventually(t, 20*time.Second, "/readyz 200", func() bool { return r.readyz() == http.StatusOK })
	n.Stop()
	testkit.Eventually(t, 20*time.Second, "/readyz 503", func() bool { return r.readyz() == http.StatusServiceUnavailable })
	if err := r.stop(); err != nil {
		t.Fatalf("Run during an outage = %v, want nil", err)
	}
}

// A component that fails stops the others; Run joins them all, drains and returns the error.
func TestComponentErrorStopsTheOthers(t *testing.T) {
	n := testkit.StartNATS(t)
	boom := errors.New("boom")
	var othersStopped, drained atomic.Bool
	r := start(t, runtime.Service{NATSURL: n.URL}, func(runtime.Env) (runtime.Parts, error) {
		return runtime.Parts{
			Start: func(context.Context) ([]runtime.Component, error) {
				return []runtime.Component{
					{Name: "other", Run: func(ctx context.Context) error {
						<-ctx.Done()
						othersStopped.Store(true)
						return nil
					}},
					{Name: "failing", Run: func(context.Context) error { return boom }},
				}, nil
			},
			Drain: func(context.Context) error {
				drained.Store(othersStopped.Load()) // the components are joined before Drain
				return nil
			},
		}, nil
	})
	err := r.wait()
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "failing") {
		t.Fatalf("Run = %v, want the failing component's error", err)
	}
	if !othersStopped.Load() || !drained.Load() {
		t.Fatalf("other component stopped %v, drained after it %v; want both", othersStopped.Load(), drained.Load())
	}
}

// A component returning nil while the service should run is no clean stop.
func TestComponentStoppingEarlyIsAnError(t *testing.T) {
	n := testkit.StartNATS(t)
	r := start(t, runtime.Service{NATSURL: n.URL}, func(runtime.Env) (runtime.Parts, error) {
		return runtime.Parts{Start: func(context.Context) ([]runtime.Component, error) {
			return []runtime.Component{{Name: "quitter", Run: func(context.Context) error { return nil }}}, nil
		}}, nil
	})
	if err := r.wait(); !errors.Is(err, runtime.ErrStoppedEarly) {
		t.Fatalf("Run = %v, want ErrStoppedEarly", err)
	}
}

// A Start error stops the service; the admin port closes and Run returns it.
func TestStartErrorIsReturned(t *testing.T) {
	n := testkit.StartNATS(t)
	bad := errors.New("bad limit")
	r := start(t, runtime.Service{NATSURL: n.URL}, func(runtime.Env) (runtime.Parts, error) {
		return runtime.Parts{Start: func(context.Context) ([]runtime.Component, error) { return nil, bad }}, nil
	})
	if err := r.wait(); !errors.Is(err, bad) {
		t.Fatalf("Run = %v, want %v", err, bad)
	}
	if code := r.readyz(); code != 0 {
		t.Fatalf("admin port still answers (%d) after Run returned", code)
	}
}

// Stop and Drain share one bound: a Stop that never finishes by itself gets a deadline no later
// than ShutdownTimeout from when it was called, and Run returns its error.
func TestShutdownIsBounded(t *testing.T) {
	n := testkit.StartNATS(t)
	const bound = 300 * time.Millisecond
	stopped := make(chan struct{})
	var left, drainLeft atomic.Int64 // time to the deadline when Stop and Drain were called
	r := start(t, runtime.Service{NATSURL: n.URL, ShutdownTimeout: bound}, func(runtime.Env) (runtime.Parts, error) {
		return runtime.Parts{
			Start: func(context.Context) ([]runtime.Component, error) {
				return []runtime.Component{{
					Name: "stuck",
					Run:  func(context.Context) error { <-stopped; return nil },
					Stop: func(ctx context.Context) error {
						defer close(stopped)
						if dl, ok := ctx.Deadline(); ok {
							left.Store(int64(time.Until(dl)))
						}
						<-ctx.Done() // a shutdown that would never end by itself
						return ctx.Err()
					},
				}}, nil
			},
			Drain: func(ctx context.Context) error {
				if dl, ok := ctx.Deadline(); ok {
					drainLeft.Store(int64(time.Until(dl)))
				}
				return nil
			},
		}, nil
	})
	time.Sleep(100 * time.Millisecond) // let it start; the test holds either way
	err := r.stop()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Run = %v, want the stuck component's deadline error", err)
	}
	if l := time.Duration(left.Load()); l <= 0 || l > bound {
		t.Errorf("Stop had %s to its deadline, want (0, %s]", l, bound)
	}
	if l := time.Duration(drainLeft.Load()); l > 0 {
		t.Errorf("Drain had %s left after the bound was spent, want none", l)
	}
}

// With SetupInBackground the components start while NATS is down; the setup check passes once
// Setup succeeded in the background, and Run still returns nil.
func TestSetupInBackground(t *testing.T) {
	n := testkit.StartNATS(t)
	n.Stop()
	var attempts atomic.Int32
	started := make(chan struct{})
	r := start(t, runtime.Service{NATSURL: n.URL, NATS: natsconn.Options{NoReconnectBuffer: true},
		ReadyCheck: "bucket", NotReady: errNoBucket,
	}, func(env runtime.Env) (runtime.Parts, error) {
		return runtime.Parts{
			Setup:             bucketSetup(env, &attempts),
			SetupInBackground: true,
			Start: func(context.Context) ([]runtime.Component, error) {
				close(started)
				return []runtime.Component{{Name: "idle", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }}}, nil
			},
		}, nil
	})
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("components did not start while NATS was down")
	}
	testkit.Eventually(t, 20*time.Second, "a second setup attempt", func() bool { return attempts.Load() >= 2 })
	if code, body := r.readyzBody(); code != http.StatusServiceUnavailable || !strings.Contains(body, errNoBucket.Error()) {
		t.Fatalf("/readyz before setup = %d %s, want 503 naming the setup check", code, body)
	}
	n.Start()
	testkit.Eventually(t, 30*time.Second, "/readyz 200 after setup", func() bool { return r.readyz() == http.StatusOK })
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

// Build gets the service's tracing: off with nothing set; with an OTLP endpoint, a span ended
// just before shutdown is exported by the time Run returns (the runtime's drain flushes it), and
// the resource names the service.
func TestTracingFlushedOnShutdown(t *testing.T) {
	n := testkit.StartNATS(t)
	rcv := testkit.StartOTLPReceiver(t)
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("export=", on), func(t *testing.T) {
			if on {
				t.Setenv(tracing.EnvEndpoint, rcv.URL)
				t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "600000") // only the shutdown flush exports
			} else {
				t.Setenv(tracing.EnvEndpoint, "")
			}
			ended := make(chan struct{})
			r := start(t, runtime.Service{Name: "traced", NATSURL: n.URL}, func(env runtime.Env) (runtime.Parts, error) {
				if env.Tracing == nil || env.Tracing.Exporting() != on {
					return runtime.Parts{}, fmt.Errorf("env.Tracing %v, want exporting %v", env.Tracing, on)
				}
				return runtime.Parts{Start: func(context.Context) ([]runtime.Component, error) {
					return []runtime.Component{{Name: "span", Run: func(ctx context.Context) error {
						_, span := env.Tracing.StartFrom(ctx, tracing.HTTPCarrier(http.Header{}), "work", trace.SpanKindInternal)
						span.End()
						close(ended)
						<-ctx.Done()
						return nil
					}}}, nil
				}}, nil
			})
			<-ended
			before := len(rcv.Spans())
			if err := r.stop(); err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			got := len(rcv.Spans()) - before
			if want := map[bool]int{false: 0, true: 1}[on]; got != want {
				t.Fatalf("%d spans exported by the time Run returned, want %d", got, want)
			}
			if on {
				if _, ok := rcv.Find("hookline-traced", "work"); !ok {
					t.Errorf("no span of service hookline-traced: %+v", rcv.Spans())
				}
			}
		})
	}
}

// A setup waiting out a NATS outage retries as soon as the connection is back, not when its
// backoff runs out; Env.SetUp stays open until setup succeeded and is closed once the service
// is ready.
func TestSetupRetriedAtReconnect(t *testing.T) {
	n := testkit.StartNATS(t)
	n.Stop()
	core, logs := observer.New(zapcore.WarnLevel)
	var attempts atomic.Int32
	setUp := make(chan (<-chan struct{}), 1)
	r := start(t, runtime.Service{Log: zap.New(core), NATSURL: n.URL, NATS: natsconn.Options{NoReconnectBuffer: true},
		ReadyCheck: "bucket", NotReady: errNoBucket,
	}, func(env runtime.Env) (runtime.Parts, error) {
		setUp <- env.SetUp
		return runtime.Parts{
			Setup:             bucketSetup(env, &attempts),
			SetupInBackground: true,
			Start: func(context.Context) ([]runtime.Component, error) {
				return []runtime.Component{{Name: "idle", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }}}, nil
			},
		}, nil
	})
	done := <-setUp
	var backoff time.Duration // the wait of the last failed attempt, once it is long
	var failedAt time.Time
	testkit.Eventually(t, 30*time.Second, "a setup retry waiting 4s or more", func() bool {
		retries := logs.FilterMessage("test setup failed, retrying").All()
		if len(retries) == 0 {
			return false
		}
		last := retries[len(retries)-1]
		d, _ := last.ContextMap()["in"].(time.Duration)
		backoff, failedAt = d, last.Time
		return d >= 4*time.Second
	})
	select {
	case <-done:
		t.Fatal("Env.SetUp closed before setup succeeded")
	default:
	}
	n.Start()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Env.SetUp not closed after NATS came back")
	}
	if took := time.Since(failedAt); took >= backoff {
		t.Errorf("set up %v after the last failure: it waited out its %v backoff instead of retrying at the reconnect", took, backoff)
	}
	if code := r.readyz(); code != http.StatusOK {
		t.Errorf("/readyz once Env.SetUp is closed = %d, want 200", code)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}
