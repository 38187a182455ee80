package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hookline/hookline/cmd/hookline/internal/loadgen"
	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotPersisted is returned when the stream holds fewer new messages than 2xx answers.
var ErrNotPersisted = errors.New("acknowledged webhooks missing from the stream")

func envOr(env Env, name, def string) string {
	if v, ok := env.Lookup(name); ok && v != "" {
		return v
	}
	return def
}

func runBench(ctx context.Context, env Env) error {
	if len(env.Args) > 0 {
		switch env.Args[0] {
		case "corpus":
			return runBenchCorpus(env)
		case "stream-count":
			return runStreamCount(ctx, env)
		}
	}
	fs := newFlags("bench", "bench [flags] | bench corpus [flags] | bench stream-count [flags]",
		"Send signed webhooks at a fixed rate or concurrency and report latency.\n"+
			"  bench corpus        write pre-signed requests for wrk\n"+
			"  bench stream-count  print how many messages a stream holds")
	target := fs.String("target", envOr(env, "HOOKLINE_URL", defaultIngress), "ingress base URL, or several comma-separated (requests take turns, a retry goes to the next; default: HOOKLINE_URL, else a running hookline dev)")
	conc := fs.Int("c", 64, "connections (closed loop: requests in flight)")
	rate := fs.Float64("rate", 0, "fixed total rate in requests/s (0: closed loop); latency counts from the intended send time")
	dur := fs.Duration("d", 10*time.Second, "duration")
	count := fs.Int64("n", 0, "stop after this many requests (0: run for -d)")
	orders := fs.Int("orders", 10000, "orders per round")
	weights := mixFlags(fs)
	shop := fs.String("shop", "", "shop domain to send, for providers whose tenant rule reads one")
	dups := fs.Float64("dup", 0, "share of events sent twice")
	shuffle := fs.Float64("shuffle", 0, "share of orders whose events are sent out of order")
	tenant := fs.String("tenant", "", "X-Tenant-ID to send (empty: default tenant)")
	retries := fs.Int("retries", 0, "resend a request answered 5xx/429 or lost in transit up to this often, as providers do")
	natsURL := fs.String("nats", "", "NATS URL: check every acknowledged webhook is in WEBHOOKS, and measure end-to-end latency by subscribing to ORDERS")
	oraclePath := fs.String("oracle", "", "write the expected final state of every order to this file (for hookline verify)")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	pngOut := fs.String("png", "", "draw latency and throughput over time into this PNG file")
	quiet := fs.Bool("q", false, "no per-second progress")
	if err := parseFlags(env, fs, env.Args); err != nil {
		return err
	}
	cfg, err := config.Load(withDevDefaults(env.Lookup), config.Defaults{})
	if err != nil {
		return err
	}
	o := loadgen.Options{
		Target: *target, Concurrency: *conc, Rate: *rate, Duration: *dur, Count: *count, Retries: *retries,
		Scenario: loadgen.Scenario{
			Orders: *orders, Mix: weights.mix(cfg, *tenant), DuplicateRate: *dups, ShuffleRate: *shuffle, Tenant: *tenant,
			Shop:  *shop,
			RunID: strconv.FormatInt(time.Now().UnixNano(), 36),
		},
	}
	if !*quiet {
		o.Progress = env.Stderr
	}
	var before uint64
	var stream jetstream.Stream
	var e2e *endToEnd
	if *natsURL != "" {
		nc, s, err := openStream(ctx, *natsURL, streams.Webhooks)
		if err != nil {
			return err
		}
		defer nc.Close()
		stream = s
		info, err := stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("stream info on %s: %w", *natsURL, err)
		}
		before = info.State.Msgs
		if e2e, err = watchOrders(nc); err != nil {
			return err
		}
		o.OnSend = e2e.sent
	}
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		return err
	}
	res.Summary(env.Stdout)
	if e2e != nil {
		e2e.settle(10 * time.Second)
		e2e.summary(env.Stdout)
	}
	if *oraclePath != "" {
		if err := loadgen.WriteOracle(*oraclePath, res.Oracle(o.Scenario)); err != nil {
			return err
		}
	}
	if *jsonOut != "" {
		out := struct {
			*loadgen.Result
			EndToEnd *loadgen.Percentiles `json:"endToEnd,omitempty"`
		}{Result: res}
		if e2e != nil {
			p := e2e.percentiles()
			out.EndToEnd = &p
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *jsonOut, err)
		}
	}
	if *pngOut != "" {
		mode := fmt.Sprintf("closed loop, %d connections", *conc)
		if *rate > 0 {
			mode = fmt.Sprintf("%.0f req/s fixed rate", *rate)
		}
		if err := res.WritePNG(*pngOut, fmt.Sprintf("hookline bench: %s, %s", mode, res.Elapsed.Round(time.Second))); err != nil {
			return err
		}
	}
	if stream != nil {
		info, err := stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("stream info on %s: %w", *natsURL, err)
		}
		unique := map[string]bool{}
		for _, a := range res.AckedIDs {
			unique[a.Provider+":"+a.EventID] = true
		}
		stored := info.State.Msgs - before
		fmt.Fprintf(env.Stdout, "persisted  %d new messages in %s for %d acknowledged webhooks\n", stored, streams.Webhooks, len(unique))
		if stored < uint64(len(unique)) {
			return fmt.Errorf("%w: %d stored, %d acknowledged", ErrNotPersisted, stored, len(unique))
		}
	}
	return nil
}

// runBenchTarget serves a comparison baseline: the bare echo handler (reads the body, answers
// 202) or the minimal reference webhook handler (HMAC check, JetStream publish, 202 after the
// PubAck).
func runBenchTarget(ctx context.Context, env Env) error {
	fs := newFlags("bench-target", "bench-target [-addr host:port] [-mode echo|reference] [-nats URL]",
		"Serve a baseline to compare the ingress against:\n"+
			"  echo       a bare echo handler: reads the body, answers 202\n"+
			"  reference  the minimal webhook handler: checks the HMAC, publishes the body to the\n"+
			"             BENCHREF stream, answers 202 after the PubAck; nothing else")
	addr := fs.String("addr", "127.0.0.1:8085", "listen address")
	mode := fs.String("mode", "echo", "echo or reference")
	natsURL := fs.String("nats", envOr(env, "NATS_URL", defaultNATS), "NATS URL for -mode reference (default: NATS_URL, else a running hookline dev)")
	if err := parseFlags(env, fs, env.Args); err != nil {
		return err
	}
	h, release, err := benchTargetHandler(ctx, env, *mode, *natsURL)
	if err != nil {
		return err
	}
	defer release()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/webhooks/:provider", h)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	fmt.Fprintf(env.Stdout, "%s bench target on http://%s\n", *mode, ln.Addr())
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx) // best effort on the way out
		cancel()
		err = <-serveErr
	case err = <-serveErr:
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// readAll reads the body the way the ingress does: one exact-size buffer when the length is known.
func readAll(r *http.Request) ([]byte, error) {
	if r.ContentLength >= 0 {
		b := make([]byte, r.ContentLength)
		_, err := io.ReadFull(r.Body, b)
		return b, err
	}
	return io.ReadAll(r.Body)
}

// weightFlags are the -<provider> weight flags of bench, one per registered provider.
type weightFlags []struct {
	p providers.Provider
	w *float64
}

// mixFlags registers a weight flag per provider: -petstore 0.5 -bunjang 0.5 by default
// (Knobs.BenchWeight), -shopify 1 adds Shopify orders.
func mixFlags(fs *flag.FlagSet) weightFlags {
	var out weightFlags
	for _, p := range all.Registry().All() {
		w := fs.Float64(p.Name(), p.Knobs().BenchWeight, "weight of "+p.Name()+" orders (0: none)")
		out = append(out, struct {
			p providers.Provider
			w *float64
		}{p, w})
	}
	return out
}

// mix is the scenario's providers, each signed with the tenant's first configured secret.
func (ws weightFlags) mix(cfg *config.Config, tenant string) []loadgen.Share {
	var out []loadgen.Share
	for _, w := range ws {
		if *w.w > 0 {
			out = append(out, loadgen.Share{Provider: w.p, Weight: *w.w, Secret: signingSecret(cfg, tenant, w.p.Name())})
		}
	}
	return out
}

// runBenchCorpus writes pre-signed requests for wrk (see scripts/wrk-corpus.lua).
func runBenchCorpus(env Env) error {
	fs := newFlags("bench corpus", "bench corpus [-o prefix] [-n N] [-split N] [flags]",
		"Write pre-signed requests for wrk (see scripts/wrk-corpus.lua).")
	out := fs.String("o", "corpus", "file prefix; parts are <prefix>.0 …")
	n := fs.Int("n", 100000, "requests in all")
	split := fs.Int("split", 2, "parts (one per wrk thread)")
	host := fs.String("host", "127.0.0.1:8080", "Host header")
	weights := mixFlags(fs)
	orders := fs.Int("orders", 0, "orders per round (0: every order is new)")
	if err := parseFlags(env, fs, env.Args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(env.Lookup, config.Defaults{})
	if err != nil {
		return err
	}
	s := loadgen.Scenario{
		Orders: *orders, Mix: weights.mix(cfg, ""),
		RunID: strconv.FormatInt(time.Now().UnixNano(), 36),
	}
	if err := loadgen.WriteCorpus(*out, *split, *n, *host, s); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %d requests to %s.0 … %s.%d\n", *n, *out, *out, *split-1)
	return nil
}

// connectJS connects to NATS for one CLI command. Once connected it reconnects for as long as
// the command runs (nats.go's default gives up after about two minutes, shorter than an outage a
// chaos run's bench lives through); each request still has its own timeout.
func connectJS(url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name("hookline-cli"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream on %s: %w", url, err)
	}
	return nc, js, nil
}

func openStream(ctx context.Context, url, name string) (*nats.Conn, jetstream.Stream, error) {
	nc, js, err := connectJS(url)
	if err != nil {
		return nil, nil, err
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("stream %s on %s: %w", name, url, err)
	}
	return nc, s, nil
}

// runStreamCount prints how many messages WEBHOOKS holds (for scripts).
func runStreamCount(ctx context.Context, env Env) error {
	fs := newFlags("bench stream-count", "bench stream-count [-stream NAME] [-nats URL]",
		"Print how many messages a stream holds (for scripts).")
	natsURL := fs.String("nats", envOr(env, "NATS_URL", defaultNATS), "NATS URL (default: NATS_URL, else a running hookline dev)")
	name := fs.String("stream", streams.Webhooks, "stream")
	if err := parseFlags(env, fs, env.Args[1:]); err != nil {
		return err
	}
	nc, s, err := openStream(ctx, *natsURL, *name)
	if err != nil {
		return err
	}
	defer nc.Close()
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info on %s: %w", *natsURL, err)
	}
	fmt.Fprintln(env.Stdout, info.State.Msgs)
	return nil
}
