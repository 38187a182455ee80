// Package config reads Hookline's configuration once at start: the environment first, then an
// optional YAML tenants file (HOOKLINE_CONFIG) for several tenants and extra Standard Webhooks
// sources. Every error names the setting and wraps ErrInvalid.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/safedial"
	"github.com/hookline/hookline/pkg/streams"
	"gopkg.in/yaml.v3"
)

// DefaultTenant is used when a request carries no X-Tenant-ID.
const DefaultTenant = "default"

// RateLimit is a token bucket; RPS 0 turns it off.
type RateLimit struct {
	RPS   float64
	Burst int
}

// Provider is one provider's settings for one tenant.
type Provider struct {
	Secrets []Secret
	// Tolerance is the provider's window (providers.Knobs.Window): a signature freshness
	// tolerance, or the maximum body-timestamp age.
	Tolerance time.Duration
	// TenantKeys are the values of the provider's tenant rule that pick this tenant
	// (providers.Knobs.TenantKeys: Shopify's shops), lower case.
	TenantKeys []string
}

// Tenant is one tenant with its providers.
type Tenant struct {
	ID        string
	RateLimit RateLimit
	// Providers by name (a registered provider's Name). A provider without secrets is absent.
	Providers map[string]*Provider
}

// Source is an extra Standard Webhooks source, served at POST /webhooks/<Name>.
type Source struct {
	Name      string
	Tenant    string
	Secrets   []Secret
	Tolerance time.Duration
}

// Defaults differ per service.
type Defaults struct {
	HTTPAddr  string
	AdminAddr string
	// Providers is the provider registry (nil: the built-in providers, all.Registry()).
	Providers *providers.Registry
}

// Config is everything the services read at start.
type Config struct {
	NATSURL  string
	RedisURL string
	LogLevel string

	HTTPAddr  string
	AdminAddr string

	MaxBodyBytes int64
	// Windows holds each provider's default window (providers.Knobs.Window), by provider name.
	Windows map[string]time.Duration
	Streams streams.Options

	JWTSecret            Secret
	CallbackSecret       Secret
	CallbackRetryDelays  []time.Duration
	CallbackAllowPrivate bool
	CallbackAllowCIDRs   []safedial.AllowCIDR

	Tenants map[string]*Tenant
	Sources map[string]*Source

	// Providers is the registry the configuration was read with; nil means all.Registry().
	Providers *providers.Registry
}

// Registry returns the provider registry: Providers, else the built-in providers.
func (c *Config) Registry() *providers.Registry {
	if c.Providers != nil {
		return c.Providers
	}
	return all.Registry()
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// NormalizeTenantID lowercases id and reports whether it is `default` or a UUID.
func NormalizeTenantID(id string) (string, bool) {
	id = strings.ToLower(strings.TrimSpace(id))
	return id, id == DefaultTenant || uuidRe.MatchString(id)
}

// Where the services find NATS and Redis when NATS_URL and REDIS_URL are not set.
const (
	DefaultNATSURL  = "nats://127.0.0.1:4222"
	DefaultRedisURL = "redis://127.0.0.1:6379/0"
)

// DefaultCallbackRetryDelays returns the contract's retry schedule, a new slice on every call.
func DefaultCallbackRetryDelays() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}
}

// Load reads the configuration from lookup (os.LookupEnv in production).
func Load(lookup Lookup, d Defaults) (*Config, error) {
	e := NewEnv(lookup)
	c := &Config{
		NATSURL:      e.String("NATS_URL", DefaultNATSURL),
		RedisURL:     e.String("REDIS_URL", DefaultRedisURL),
		LogLevel:     strings.ToLower(e.String("HOOKLINE_LOG_LEVEL", "info")),
		HTTPAddr:     e.String("HOOKLINE_HTTP_ADDR", d.HTTPAddr),
		AdminAddr:    e.String("HOOKLINE_ADMIN_ADDR", d.AdminAddr),
		MaxBodyBytes: int64(e.Int("HOOKLINE_MAX_BODY_BYTES", 1<<20, 1, 64<<20)),
		Windows:      map[string]time.Duration{},
		Streams: streams.Options{
			Replicas:        e.Int("HOOKLINE_STREAM_REPLICAS", 1, 1, 5),
			DuplicateWindow: e.Duration("HOOKLINE_DUPLICATE_WINDOW", 2*time.Minute),
			MaxAge:          e.Duration("HOOKLINE_STREAM_MAX_AGE", 7*24*time.Hour),
		},
		CallbackRetryDelays:  e.Durations("HOOKLINE_CALLBACK_RETRY_DELAYS", DefaultCallbackRetryDelays()),
		CallbackAllowPrivate: e.Bool("HOOKLINE_CALLBACK_ALLOW_PRIVATE", false),
		Tenants:              map[string]*Tenant{},
		Sources:              map[string]*Source{},
		Providers:            d.Providers,
	}
	reg := c.Registry()
	for _, p := range reg.All() {
		if w := p.Knobs().Window; w.Env != "" {
			c.Windows[p.Name()] = e.Duration(w.Env, w.Default)
		}
	}
	checkURL(e, "NATS_URL", c.NATSURL, "nats", "tls", "ws", "wss")
	checkURL(e, "REDIS_URL", c.RedisURL, "redis", "rediss", "unix")
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		e.Fail("HOOKLINE_LOG_LEVEL", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	checkAddr(e, "HOOKLINE_HTTP_ADDR", c.HTTPAddr)
	checkAddr(e, "HOOKLINE_ADMIN_ADDR", c.AdminAddr)
	c.JWTSecret = optionalSecret(e, lookup, "HOOKLINE_JWT_SECRET")
	c.CallbackSecret = optionalSecret(e, lookup, "HOOKLINE_CALLBACK_SECRET")
	for _, s := range e.List("HOOKLINE_CALLBACK_ALLOW_CIDRS") {
		a, err := safedial.ParseAllowCIDR(s)
		if err != nil {
			e.Fail("HOOKLINE_CALLBACK_ALLOW_CIDRS", "want CIDRs with an optional port such as 10.1.0.0/16, 10.1.0.0/16:8443 or [fd00::/8]:443, got %q", s)
			break
		}
		c.CallbackAllowCIDRs = append(c.CallbackAllowCIDRs, a)
	}

	def := &Tenant{
		ID: DefaultTenant,
		RateLimit: RateLimit{
			RPS:   e.Float("HOOKLINE_RATE_LIMIT_RPS", 0),
			Burst: e.Int("HOOKLINE_RATE_LIMIT_BURST", 0, 0, 1<<30),
		},
		Providers: map[string]*Provider{},
	}
	for _, p := range reg.All() {
		if env := p.Knobs().SecretsEnv; env != "" {
			if secrets := envSecrets(e, lookup, env); len(secrets) > 0 {
				def.Providers[p.Name()] = &Provider{Secrets: secrets, Tolerance: c.Windows[p.Name()]}
			}
		}
	}
	c.Tenants[DefaultTenant] = def
	if err := e.Err(); err != nil {
		return nil, err
	}
	if path := e.String("HOOKLINE_CONFIG", ""); path != "" {
		if err := c.loadFile(path, lookup); err != nil {
			return nil, err
		}
	}
	for _, t := range c.Tenants {
		if t.RateLimit.RPS > 0 && t.RateLimit.Burst < 1 {
			t.RateLimit.Burst = max(1, int(t.RateLimit.RPS))
		}
	}
	return c, nil
}

func checkURL(e *Env, name, v string, schemes ...string) {
	u, err := url.Parse(v)
	if err != nil {
		e.Fail(name, "not a URL: %q", redactURL(v))
		return
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return
		}
	}
	e.Fail(name, "want a %s:// URL, got %q", schemes[0], redactURL(v))
}

func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

func checkAddr(e *Env, name, v string) {
	if v == "" {
		return
	}
	if i := strings.LastIndex(v, ":"); i < 0 {
		e.Fail(name, "want host:port, got %q", v)
	}
}

func optionalSecret(e *Env, lookup Lookup, name string) Secret {
	v := e.String(name, "")
	if v == "" {
		return Secret{}
	}
	s, err := ResolveSecret(v, lookup)
	if err != nil {
		e.Fail(name, "%v", err)
	}
	return s
}

func envSecrets(e *Env, lookup Lookup, name string) []Secret {
	var out []Secret
	for _, v := range e.List(name) {
		s, err := ResolveSecret(v, lookup)
		if err != nil {
			e.Fail(name, "%v", err)
			return nil
		}
		out = append(out, s)
	}
	return out
}

type fileConfig struct {
	Tenants []struct {
		ID        string `yaml:"id"`
		RateLimit *struct {
			RPS   float64 `yaml:"rps"`
			Burst int     `yaml:"burst"`
		} `yaml:"rateLimit"`
		// Providers by name; each provider's keys are its Knobs (secrets, its window's key, its
		// tenant keys), checked in providerSettings.
		Providers map[string]yaml.Node `yaml:"providers"`
	} `yaml:"tenants"`
	Sources []struct {
		Name      string   `yaml:"name"`
		Tenant    string   `yaml:"tenant"`
		Secrets   []string `yaml:"secrets"`
		Tolerance string   `yaml:"tolerance"`
	} `yaml:"sources"`
}

func (c *Config) loadFile(path string, lookup Lookup) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: HOOKLINE_CONFIG: %w", ErrInvalid, err)
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: HOOKLINE_CONFIG %s: %s", ErrInvalid, path, oneLine(err.Error()))
	}
	fail := func(where, format string, args ...any) error {
		return fmt.Errorf("%w: HOOKLINE_CONFIG %s: %s: %s", ErrInvalid, path, where, fmt.Sprintf(format, args...))
	}
	listed := map[string]bool{}
	keyOwner := map[string]string{} // provider and tenant key → tenant
	for i, ft := range fc.Tenants {
		where := fmt.Sprintf("tenants[%d]", i)
		id, ok := NormalizeTenantID(ft.ID)
		if !ok {
			return fail(where+".id", "want %q or a UUID, got %q", DefaultTenant, ft.ID)
		}
		if listed[id] {
			return fail(where+".id", "tenant %q is listed twice", id)
		}
		listed[id] = true
		t, exists := c.Tenants[id]
		if !exists {
			t = &Tenant{ID: id, Providers: map[string]*Provider{}}
			c.Tenants[id] = t
		}
		if ft.RateLimit != nil {
			if !(ft.RateLimit.RPS >= 0) || math.IsInf(ft.RateLimit.RPS, 0) || ft.RateLimit.Burst < 0 {
				return fail(where+".rateLimit", "rps and burst must be >= 0")
			}
			t.RateLimit = RateLimit{RPS: ft.RateLimit.RPS, Burst: ft.RateLimit.Burst}
		}
		for name, node := range ft.Providers {
			pw := where + ".providers." + name
			p, ok := c.Registry().Lookup(name)
			if !ok {
				return fail(pw, "unknown provider %q (want %s; other sources go under sources:)", name, builtinNames(c.Registry()))
			}
			prov, err := c.providerSettings(p, node, lookup, pw, fail)
			if err != nil {
				return err
			}
			for _, k := range prov.TenantKeys {
				owner := name + "\x00" + k
				if other, dup := keyOwner[owner]; dup && other != id {
					return fail(pw+"."+p.Knobs().TenantKeys, "%q is listed for tenants %s and %s", k, other, id)
				}
				keyOwner[owner] = id
			}
			t.Providers[name] = prov
		}
	}
	for i, fs := range fc.Sources {
		where := fmt.Sprintf("sources[%d]", i)
		if _, builtin := c.Registry().Lookup(fs.Name); builtin || !streams.ValidToken(fs.Name) {
			return fail(where+".name", "want a name of letters, digits, - and _ other than %s, got %q", builtinNames(c.Registry()), fs.Name)
		}
		if _, dup := c.Sources[fs.Name]; dup {
			return fail(where+".name", "source %q is listed twice", fs.Name)
		}
		tenant := DefaultTenant
		if fs.Tenant != "" {
			id, ok := NormalizeTenantID(fs.Tenant)
			if !ok {
				return fail(where+".tenant", "want %q or a UUID, got %q", DefaultTenant, fs.Tenant)
			}
			tenant = id
		}
		if _, ok := c.Tenants[tenant]; !ok {
			return fail(where+".tenant", "tenant %q is not listed under tenants:", tenant)
		}
		tol := 300 * time.Second
		if fs.Tolerance != "" {
			d, err := ParseDuration(fs.Tolerance)
			if err != nil || d <= 0 {
				return fail(where+".tolerance", "want a positive duration, got %q", fs.Tolerance)
			}
			tol = d
		}
		secrets, err := resolveAll(fs.Secrets, lookup)
		if err != nil {
			return fail(where+".secrets", "%v", err)
		}
		if len(secrets) == 0 {
			return fail(where+".secrets", "at least one secret is required")
		}
		c.Sources[fs.Name] = &Source{Name: fs.Name, Tenant: tenant, Secrets: secrets, Tolerance: tol}
	}
	return nil
}

// providerSettings reads one tenant's settings of provider p: `secrets`, the key of its window
// (tolerance or maxAge) and the key of its tenant rule (shops); any other key is an error.
func (c *Config) providerSettings(p providers.Provider, node yaml.Node, lookup Lookup, pw string,
	fail func(where, format string, args ...any) error) (*Provider, error) {
	k := p.Knobs()
	var fields map[string]yaml.Node
	if err := node.Decode(&fields); err != nil {
		return nil, fail(pw, "want a mapping of settings")
	}
	prov := &Provider{Tolerance: c.Windows[p.Name()]}
	if _, ok := c.Windows[p.Name()]; !ok {
		prov.Tolerance = k.Window.Default
	}
	hasSecrets := false
	for key, v := range fields {
		switch {
		case key == "secrets":
			var vals []string
			if err := v.Decode(&vals); err != nil {
				return nil, fail(pw+".secrets", "want a list of strings")
			}
			secrets, err := resolveAll(vals, lookup)
			if err != nil {
				return nil, fail(pw+".secrets", "%v", err)
			}
			prov.Secrets, hasSecrets = secrets, len(secrets) > 0
		case k.Window.Key != "" && key == k.Window.Key:
			var raw string
			if err := v.Decode(&raw); err != nil {
				return nil, fail(pw+"."+key, "want a duration")
			}
			d, err := ParseDuration(raw)
			if err != nil || d <= 0 {
				return nil, fail(pw+"."+key, "want a positive duration, got %q", raw)
			}
			prov.Tolerance = d
		case k.TenantKeys != "" && key == k.TenantKeys:
			var vals []string
			if err := v.Decode(&vals); err != nil {
				return nil, fail(pw+"."+key, "want a list of strings")
			}
			for _, s := range vals {
				s = strings.ToLower(strings.TrimSpace(s))
				if s == "" {
					return nil, fail(pw+"."+key, "empty entry")
				}
				prov.TenantKeys = append(prov.TenantKeys, s)
			}
		case (key == "tolerance" || key == "maxAge") && k.Window.Key != "":
			return nil, fail(pw+"."+key, "%s has no %s; use %s", p.Name(), key, k.Window.Key)
		default:
			return nil, fail(pw+"."+key, "unknown field %q", key)
		}
	}
	if !hasSecrets {
		return nil, fail(pw+".secrets", "at least one secret is required")
	}
	return prov, nil
}

// builtinNames lists the registry's built-in providers for error messages: "a, b or c".
func builtinNames(r *providers.Registry) string {
	var names []string
	for _, p := range r.All() {
		names = append(names, p.Name())
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func resolveAll(vals []string, lookup Lookup) ([]Secret, error) {
	out := make([]Secret, 0, len(vals))
	for _, v := range vals {
		s, err := ResolveSecret(v, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
