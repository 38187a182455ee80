package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"
)

// Where the reference handler stores what it accepts: a stream of its own, defined like WEBHOOKS,
// so the ingress's stream and its counts are left alone.
const (
	benchRefStream  = "BENCHREF"
	benchRefSubject = "benchref."
)

// ErrNoBenchSecret is returned when the reference handler has no signing secret for a provider.
var ErrNoBenchSecret = errors.New("no signing secret")

// referenceTarget is the minimal webhook handler the ingress is measured against: check the
// HMAC, publish the raw body to JetStream, answer 202 after the PubAck. Nothing else: no
// envelope parsing, tenants, deduplication ids, headers, limits or metrics.
type referenceTarget struct {
	js        jetstream.JetStream
	verifiers map[string]providers.Verifier
	timeout   time.Duration
}

// newReferenceTarget builds the verifiers from the default tenant's first secrets (those
// `hookline bench` signs with) and creates the BENCHREF stream.
func newReferenceTarget(ctx context.Context, cfg *config.Config, js jetstream.JetStream) (*referenceTarget, error) {
	verifiers := map[string]providers.Verifier{}
	for _, p := range cfg.Registry().All() {
		if p.Knobs().SecretsEnv == "" {
			continue // configured Standard Webhooks sources: not a bench target
		}
		secret := signingSecret(cfg, "", p.Name())
		if secret == nil {
			continue
		}
		v, err := p.Verifier([][]byte{secret}, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("%s verifier: %w", p.Name(), err)
		}
		verifiers[p.Name()] = v
	}
	if len(verifiers) == 0 {
		return nil, fmt.Errorf("reference target: %w (set HOOKLINE_PETSTORE_SECRETS or another provider's secrets)", ErrNoBenchSecret)
	}
	sc := streams.Configs(streams.Options{})[0] // WEBHOOKS: same storage, retention, window
	sc.Name, sc.Subjects, sc.Description = benchRefStream, []string{benchRefSubject + ">"}, "hookline bench-target reference handler"
	if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", benchRefStream, err)
	}
	return &referenceTarget{
		js:        js,
		verifiers: verifiers,
		timeout:   2 * time.Second,
	}, nil
}

func (t *referenceTarget) handle(c echo.Context) error {
	provider := c.Param("provider")
	v := t.verifiers[provider]
	if v == nil {
		return c.NoContent(http.StatusNotFound)
	}
	body, err := readAll(c.Request())
	if err != nil {
		return c.NoContent(http.StatusBadRequest)
	}
	if err := v.Verify(c.Request().Header, body); err != nil {
		return c.NoContent(http.StatusUnauthorized)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), t.timeout)
	defer cancel()
	if _, err := t.js.Publish(ctx, benchRefSubject+provider, body); err != nil {
		return c.NoContent(http.StatusServiceUnavailable)
	}
	return c.NoContent(http.StatusAccepted)
}

// benchTargetHandler returns the handler of a bench-target mode and a function releasing what it
// holds.
func benchTargetHandler(ctx context.Context, env Env, mode, natsURL string) (echo.HandlerFunc, func(), error) {
	switch mode {
	case "echo":
		return func(c echo.Context) error {
			if _, err := readAll(c.Request()); err != nil {
				return fmt.Errorf("read body: %w", err)
			}
			return c.NoContent(http.StatusAccepted)
		}, func() {}, nil
	case "reference":
		cfg, err := config.Load(withDevDefaults(env.Lookup), config.Defaults{})
		if err != nil {
			return nil, nil, err
		}
		nc, js, err := connectJS(natsURL)
		if err != nil {
			return nil, nil, err
		}
		t, err := newReferenceTarget(ctx, cfg, js)
		if err != nil {
			nc.Close()
			return nil, nil, err
		}
		return t.handle, nc.Close, nil
	}
	return nil, nil, fmt.Errorf("%w: -mode is echo or reference, got %q", ErrUsage, mode)
}
