package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/redisconn"
	dispatcherapp "github.com/hookline/hookline/services/dispatcher/app"
	ingressapp "github.com/hookline/hookline/services/ingress/app"
	workerapp "github.com/hookline/hookline/services/worker/app"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ErrDependency is returned when something the pipeline needs does not answer.
var ErrDependency = errors.New("dependency unavailable")

// runDev runs the whole pipeline in one process for development: an embedded NATS server with
// JetStream (unless NATS_URL is set), and the ingress, worker and dispatcher with their normal
// code, against Redis at REDIS_URL.
func runDev(ctx context.Context, env Env) error {
	fs := newFlags("dev", "dev [flags]",
		"Run the whole pipeline in one process: an embedded NATS server with JetStream (unless NATS_URL is\n"+
			"set), the ingress, the worker and the dispatcher, against Redis at REDIS_URL. Everything listens\n"+
			"on 127.0.0.1 (HOOKLINE_HTTP_ADDR moves the ingress). The addresses it chose go to <data>/dev.json\n"+
			"(or HOOKLINE_DEV_STATE), where the other commands find them; the file is removed on exit.")
	data := fs.String("data", stateDir, "folder for the embedded NATS server's data and the state file")
	natsPort := fs.Int("nats-port", 4222, "port of the embedded NATS server (taken: a free one)")
	ingressAdmin := fs.String("ingress-admin", "127.0.0.1:9090", "ingress admin address (default taken: a free port)")
	workerAdmin := fs.String("worker-admin", "127.0.0.1:9091", "worker admin address (default taken: a free port)")
	dispatcherAdmin := fs.String("dispatcher-admin", "127.0.0.1:9092", "dispatcher admin address (default taken: a free port)")
	if err := parseFlags(env, fs, env.Args); err != nil {
		return err
	}
	defer takeForeground()()
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	lookup := withDevDefaults(env.Lookup)
	statePath := filepath.Join(*data, stateName)
	if p, ok := env.Lookup(stateEnv); ok && p != "" {
		statePath = p
	}

	var natsURL string
	var embedded *server.Server
	if v, ok := env.Lookup("NATS_URL"); ok && v != "" {
		natsURL = v
	} else {
		srv, err := startEmbeddedNATS(filepath.Join(*data, "nats"), *natsPort)
		if err != nil {
			return err
		}
		embedded = srv
		defer func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		}()
		natsURL = srv.ClientURL()
	}
	redisURL, _ := lookup("REDIS_URL")
	if redisURL == "" {
		redisURL = config.DefaultRedisURL
	}
	if err := pingRedis(ctx, func(name string) (string, bool) {
		if name == redisconn.EnvURL {
			return redisURL, true
		}
		return lookup(name)
	}); err != nil {
		return err
	}

	// One process, three services: each keeps its own admin port, so the shared
	// HOOKLINE_ADMIN_ADDR does not apply here.
	overrides := map[string]string{"NATS_URL": natsURL, "REDIS_URL": redisURL}
	if v, ok := env.Lookup("HOOKLINE_HTTP_ADDR"); !ok || v == "" {
		// The dev secrets are public: listen on loopback only, on a free port when 8080 is taken.
		overrides["HOOKLINE_HTTP_ADDR"] = freeOr(devHTTPAddr)
	}
	if !explicit["ingress-admin"] {
		*ingressAdmin = freeOr(*ingressAdmin)
	}
	if v, ok := env.Lookup("HOOKLINE_CALLBACK_ALLOW_PRIVATE"); !ok || v == "" {
		overrides["HOOKLINE_CALLBACK_ALLOW_PRIVATE"] = "true" // local receivers are the point of dev
	}
	svcLookup := func(admin string) config.Lookup {
		return func(name string) (string, bool) {
			if name == "HOOKLINE_ADMIN_ADDR" {
				return admin, true
			}
			if v, ok := overrides[name]; ok {
				return v, true
			}
			return lookup(name)
		}
	}
	icfg, err := ingressapp.LoadConfig(svcLookup(*ingressAdmin))
	if err != nil {
		return err
	}
	wcfg, err := workerapp.LoadConfig(svcLookup(*workerAdmin))
	if err != nil {
		return err
	}
	dcfg, err := dispatcherapp.LoadConfig(svcLookup(*dispatcherAdmin))
	if err != nil {
		return err
	}
	log, err := devLogger(icfg.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr sync errors are not actionable

	wln, err := listenOr(*workerAdmin, !explicit["worker-admin"])
	if err != nil {
		return fmt.Errorf("worker admin %s: %w", *workerAdmin, err)
	}
	wcfg.AdminListener = wln
	dln, err := listenOr(*dispatcherAdmin, !explicit["dispatcher-admin"])
	if err != nil {
		_ = wln.Close() // not served yet
		return fmt.Errorf("dispatcher admin %s: %w", *dispatcherAdmin, err)
	}
	dcfg.AdminListener = dln
	ingressAddrs := make(chan [2]net.Addr, 1)
	icfg.OnListen = func(pub, adm net.Addr) { ingressAddrs <- [2]net.Addr{pub, adm} }

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	start := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel() // one service down takes the dev pipeline down
			}
		}()
	}
	start("ingress", func(ctx context.Context) error { return ingressapp.Run(ctx, icfg, log.Named("ingress")) })
	start("worker", func(ctx context.Context) error { return workerapp.Run(ctx, wcfg, log.Named("worker")) })
	start("dispatcher", func(ctx context.Context) error { return dispatcherapp.Run(ctx, dcfg, log.Named("dispatcher")) })

	var pub, adm net.Addr
	select {
	case a := <-ingressAddrs:
		pub, adm = a[0], a[1]
	case <-ctx.Done():
	}
	if pub != nil {
		readyURLs := []string{"http://" + adm.String(), "http://" + wln.Addr().String(), "http://" + dln.Addr().String()}
		if waitReady(ctx, readyURLs, 60*time.Second) {
			natsNote := natsURL
			if embedded != nil {
				natsNote += " (embedded, data in " + filepath.Join(*data, "nats") + ")"
			}
			st := devState{PID: os.Getpid(), NATS: natsURL, Redis: redisURL, Ingress: "http://" + dialable(pub),
				Worker: readyURLs[1], Dispatcher: readyURLs[2]}
			if err := writeState(statePath, st); err != nil {
				log.Warn("the other hookline commands will not find this pipeline by themselves", zap.Error(err))
			} else {
				defer func() { _ = os.Remove(statePath) }() // gone with the pipeline; a leftover is ignored anyway
			}
			banner(env, st, readyURLs[0], natsNote, statePath)
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

// dialable turns a listener bound to every interface ([::]:8080) into an address a client can
// use (127.0.0.1:8080).
func dialable(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok && t.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(t.Port))
	}
	return a.String()
}

func startEmbeddedNATS(dir string, port int) (*server.Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("nats data folder: %w", err)
	}
	if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		port = server.RANDOM_PORT
	} else {
		_ = ln.Close() // only probing whether the port is free
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "hookline-dev", Host: "127.0.0.1", Port: port,
		JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("%w: embedded nats did not start", ErrDependency)
	}
	return srv, nil
}

// pingRedis checks that Redis answers where the worker will look for it: REDIS_URL, or the
// cluster or sentinels REDIS_CLUSTER_ADDRS / REDIS_SENTINEL_ADDRS name.
func pingRedis(ctx context.Context, lookup config.Lookup) error {
	rs, err := redisconn.Load(lookup)
	if err != nil {
		return err
	}
	c, err := rs.NewClient(redisconn.Tuning{PoolSize: 1})
	if err != nil {
		return err
	}
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		if rs.Mode != redisconn.Single {
			return fmt.Errorf("%w: Redis %s does not answer: %w", ErrDependency, rs, err)
		}
		addr := "127.0.0.1:6379"
		if o, perr := redis.ParseURL(rs.URL); perr == nil {
			addr = o.Addr
		}
		return fmt.Errorf("%w: nothing answers at %s (REDIS_URL); start one with: redis-server --port %s --appendonly yes",
			ErrDependency, redactedURL(rs.URL), portOf(addr))
	}
	return nil
}

func portOf(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		return port
	}
	return "6379"
}

func redactedURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

func waitReady(ctx context.Context, bases []string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for _, b := range bases {
		for {
			resp, err := client.Get(b + "/readyz")
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return false
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return true
}

func banner(env Env, st devState, ingressAdmin, natsNote, statePath string) {
	prog := env.Program
	if prog == "" {
		prog = "hookline"
	}
	fmt.Fprintf(env.Stdout, `Hookline dev pipeline is ready.
  webhooks    POST %[1]s/webhooks/{petstore,bunjang,<source>}
  callbacks   POST %[1]s/v1/orders/{id}
  orders      GET  %[3]s/v1/orders/{provider}/{orderId}[/history]
  console     %[10]s
  admin       %[2]s (ingress), %[3]s (worker), %[4]s (dispatcher): /healthz /readyz /metrics
  nats        %[5]s
  redis       %[6]s
  state       %[7]s (the hookline commands read it when NATS_URL and their URL flags are unset)
Try it (in another terminal, from this folder):
  %[8]s send petstore -order ord-1 -status PLACED
  %[8]s orders get petstore ord-1
  %[8]s dlq list
For other NATS clients (the docs/consumers.md example, the nats CLI):
  export NATS_URL=%[9]s
`, st.Ingress, ingressAdmin, st.Worker, st.Dispatcher, natsNote, redactedURL(st.Redis), statePath, prog, st.NATS, consoleNote(env, st.Worker))
}

// devHTTPAddr is where `hookline dev` puts the ingress unless HOOKLINE_HTTP_ADDR says otherwise.
const devHTTPAddr = "127.0.0.1:8080"

// freeOr returns addr when it can be listened on now, else the same host on a free port.
func freeOr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		host, _, _ := net.SplitHostPort(addr)
		return net.JoinHostPort(host, "0")
	}
	_ = ln.Close() // only probing whether the port is free
	return addr
}

// listenOr listens on addr; when that fails and fallback is set, on the same host's free port.
func listenOr(addr string, fallback bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil && fallback {
		host, _, _ := net.SplitHostPort(addr)
		return net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	return ln, err
}

func devLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("%w: HOOKLINE_LOG_LEVEL: %w", config.ErrInvalid, err)
	}
	cfg := zap.NewDevelopmentConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.DisableStacktrace = true
	log, err := cfg.Build()
	if err != nil {
		return nil, fmt.Errorf("logger: %w", err)
	}
	return log, nil
}
