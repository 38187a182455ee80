package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/all"
)

// runSend signs and sends one webhook, like `stripe trigger`: a sample built from flags, or a
// given body (-f). Secrets come from the same configuration the ingress reads.
func runSend(ctx context.Context, env Env) error {
	const about = "Sign a sample webhook (built from the flags) or a given body (-f) with the configured secrets\n" +
		"(the dev secrets when none is set) and send it to the ingress."
	reg := all.Registry()
	var verbs []verb
	for _, p := range append(reg.All(), reg.Source()) {
		verbs = append(verbs, verb{p.Name(), sendAbout(p, reg)})
	}
	kind, err := pickVerb(env, "send", about, verbs)
	if err != nil {
		return err
	}
	p := reg.For(kind)
	isSource := p == reg.Source()
	fs := newFlags("send "+kind, "send "+kind+" [flags]", about)
	target := fs.String("url", envOr(env, "HOOKLINE_URL", defaultIngress), "ingress base URL (default: HOOKLINE_URL, else a running hookline dev)")
	tenant := fs.String("tenant", "", "X-Tenant-ID (empty: default tenant)")
	file := fs.String("f", "", "send this file's bytes as the body instead of a sample")
	eventID := fs.String("event-id", "", "event id (default: a new one)")
	order := fs.String("order", "", "order id (default: a new one; a number where the provider's ids are numbers)")
	status := fs.String("status", "", "status, one of the provider's lifecycle (default: its first: "+strings.Join(p.Walk(), ", ")+"…)")
	typ := fs.String("type", "", "event type or topic (default: the one the status needs; petstore: payment.succeeded)")
	items := fs.String("items", "", "order item ids, comma-separated, for providers with items (default: <order>1)")
	shop := fs.String("shop", "", "shop domain, for providers whose tenant rule reads one (X-Shopify-Shop-Domain)")
	var source *string
	if isSource {
		source = fs.String("source", "", "the source name from the tenants file")
	}
	secret := fs.String("secret", "", "sign with this secret instead of the configured one")
	verbose := fs.Bool("v", false, "print the request")
	if err := parseFlags(env, fs, env.Args[1:]); err != nil {
		return err
	}
	now := time.Now()
	cfg, err := config.Load(withDevDefaults(env.Lookup), config.Defaults{})
	if err != nil {
		return err
	}
	spec := providers.SampleSpec{EventID: *eventID, OrderKey: *order, Status: *status, Type: *typ, Shop: *shop, At: now}
	if *items != "" {
		for _, it := range strings.Split(*items, ",") {
			spec.Items = append(spec.Items, strings.TrimSpace(it))
		}
	}
	sample, err := p.Sample(spec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("read %s: %w", *file, err)
		}
		sample.Body = b
	}
	*eventID = sample.EventID
	path := "/webhooks/" + kind
	var key []byte
	switch {
	case *secret != "":
		key = []byte(*secret)
	case isSource:
		if *source == "" {
			return fmt.Errorf("%w: send %s needs -source <name> from the tenants file", ErrUsage, kind)
		}
		src, ok := cfg.Sources[*source]
		if !ok {
			return fmt.Errorf("%w: no source %q in HOOKLINE_CONFIG", ErrUsage, *source)
		}
		key = src.Secrets[0].Bytes()
	default:
		if key = signingSecret(cfg, *tenant, kind); key == nil {
			return fmt.Errorf("%w: no %s secret configured (%s or the tenants file; or pass -secret)",
				ErrUsage, kind, p.Knobs().SecretsEnv)
		}
	}
	if isSource && *source != "" {
		path = "/webhooks/" + *source
	}
	sig, err := p.Sign(key, sample, now)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	headers := http.Header{}
	for _, kv := range append(sample.Headers, sig...) {
		headers.Set(kv[0], kv[1])
	}
	body := sample.Body
	if *tenant != "" {
		headers.Set("X-Tenant-ID", *tenant)
	}
	headers.Set("Content-Type", "application/json")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*target, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header = headers
	if *verbose {
		fmt.Fprintf(env.Stdout, "POST %s\n%s\n", req.URL, body)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096)) // what arrived is what we print
	fmt.Fprintf(env.Stdout, "%s %s -> %d %s\n", kind, *eventID, resp.StatusCode, bytes.TrimSpace(answer))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: ingress answered %d", ErrRejected, resp.StatusCode)
	}
	return nil
}

// sendAbout is a verb's line in `hookline send -h`.
func sendAbout(p providers.Provider, reg *providers.Registry) string {
	if p == reg.Source() {
		return "a Standard Webhooks event for a source of the tenants file (-source)"
	}
	return "a " + p.Name() + " event (" + strings.Join(p.Walk(), " → ") + ")"
}

// ErrRejected is returned when the ingress answers anything but 2xx.
var ErrRejected = errors.New("webhook rejected")
