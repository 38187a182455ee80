package config_test

import (
	"errors"
	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/safedial"
	"github.com/hookline/hookline/pkg/streams"
)

// env is a fake environment.
type env map[string]string

func (e env) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

var testDefaults = config.Defaults{HTTPAddr: ":8080", AdminAddr: ":9090"}

func load(t *testing.T, e env) *config.Config {
	t.Helper()
	c, err := config.Load(e.lookup, testDefaults)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// writeFile writes content into a new file in a temporary folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	c := load(t, env{})
	want := &config.Config{
		NATSURL:      "nats://127.0.0.1:4222",
		RedisURL:     "redis://127.0.0.1:6379/0",
		LogLevel:     "info",
		HTTPAddr:     ":8080",
		AdminAddr:    ":9090",
		MaxBodyBytes: 1 << 20,
		Windows:      map[string]time.Duration{petstore.Name: 72 * time.Hour, bunjang.Name: 300 * time.Second},
		Streams: streams.Options{
			Replicas:        1,
			DuplicateWindow: 2 * time.Minute,
			MaxAge:          7 * 24 * time.Hour,
		},
		CallbackRetryDelays: []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour},
		Tenants: map[string]*config.Tenant{
			config.DefaultTenant: {ID: config.DefaultTenant, Providers: map[string]*config.Provider{}},
		},
		Sources: map[string]*config.Source{},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Load(empty env) =\n%+v\nwant\n%+v", *c, *want)
	}
	if !c.JWTSecret.IsZero() || !c.CallbackSecret.IsZero() {
		t.Error("secrets set without configuration")
	}
}

func TestLoadDefaultsPerService(t *testing.T) {
	c := load(t, env{})
	if c.HTTPAddr != ":8080" || c.AdminAddr != ":9090" {
		t.Fatalf("addresses %q %q", c.HTTPAddr, c.AdminAddr)
	}
	c2, err := config.Load(env{}.lookup, config.Defaults{AdminAddr: ":9091"})
	if err != nil {
		t.Fatal(err)
	}
	if c2.HTTPAddr != "" || c2.AdminAddr != ":9091" {
		t.Fatalf("worker addresses %q %q", c2.HTTPAddr, c2.AdminAddr)
	}
}

func TestLoadEnv(t *testing.T) {
	secretFile := writeFile(t, "jwt", "file-secret\n")
	tests := []struct {
		name  string
		give  env
		check func(t *testing.T, c *config.Config)
	}{
		{"NATS_URL", env{"NATS_URL": "nats://nats:4222"}, func(t *testing.T, c *config.Config) {
			if c.NATSURL != "nats://nats:4222" {
				t.Errorf("NATSURL = %q", c.NATSURL)
			}
		}},
		{"NATS_URL tls", env{"NATS_URL": "tls://nats:4222"}, func(t *testing.T, c *config.Config) {
			if c.NATSURL != "tls://nats:4222" {
				t.Errorf("NATSURL = %q", c.NATSURL)
			}
		}},
		{"REDIS_URL", env{"REDIS_URL": "rediss://:pw@redis:6380/2"}, func(t *testing.T, c *config.Config) {
			if c.RedisURL != "rediss://:pw@redis:6380/2" {
				t.Errorf("RedisURL = %q", c.RedisURL)
			}
		}},
		{"HOOKLINE_LOG_LEVEL upper case", env{"HOOKLINE_LOG_LEVEL": "DEBUG"}, func(t *testing.T, c *config.Config) {
			if c.LogLevel != "debug" {
				t.Errorf("LogLevel = %q", c.LogLevel)
			}
		}},
		{"HOOKLINE_HTTP_ADDR", env{"HOOKLINE_HTTP_ADDR": "0.0.0.0:18080"}, func(t *testing.T, c *config.Config) {
			if c.HTTPAddr != "0.0.0.0:18080" {
				t.Errorf("HTTPAddr = %q", c.HTTPAddr)
			}
		}},
		{"HOOKLINE_ADMIN_ADDR", env{"HOOKLINE_ADMIN_ADDR": "127.0.0.1:19090"}, func(t *testing.T, c *config.Config) {
			if c.AdminAddr != "127.0.0.1:19090" {
				t.Errorf("AdminAddr = %q", c.AdminAddr)
			}
		}},
		{"HOOKLINE_MAX_BODY_BYTES", env{"HOOKLINE_MAX_BODY_BYTES": "2048"}, func(t *testing.T, c *config.Config) {
			if c.MaxBodyBytes != 2048 {
				t.Errorf("MaxBodyBytes = %d", c.MaxBodyBytes)
			}
		}},
		{"HOOKLINE_PETSTORE_MAX_AGE", env{"HOOKLINE_PETSTORE_MAX_AGE": "2d"}, func(t *testing.T, c *config.Config) {
			if c.Windows[petstore.Name] != 48*time.Hour {
				t.Errorf("PetstoreMaxAge = %s", c.Windows[petstore.Name])
			}
		}},
		{"HOOKLINE_BUNJANG_TOLERANCE bare seconds", env{"HOOKLINE_BUNJANG_TOLERANCE": "120"}, func(t *testing.T, c *config.Config) {
			if c.Windows[bunjang.Name] != 2*time.Minute {
				t.Errorf("BunjangTolerance = %s", c.Windows[bunjang.Name])
			}
		}},
		{"HOOKLINE_STREAM_REPLICAS", env{"HOOKLINE_STREAM_REPLICAS": "3"}, func(t *testing.T, c *config.Config) {
			if c.Streams.Replicas != 3 {
				t.Errorf("Replicas = %d", c.Streams.Replicas)
			}
		}},
		{"HOOKLINE_DUPLICATE_WINDOW", env{"HOOKLINE_DUPLICATE_WINDOW": "10m"}, func(t *testing.T, c *config.Config) {
			if c.Streams.DuplicateWindow != 10*time.Minute {
				t.Errorf("DuplicateWindow = %s", c.Streams.DuplicateWindow)
			}
		}},
		{"HOOKLINE_STREAM_MAX_AGE", env{"HOOKLINE_STREAM_MAX_AGE": "36h"}, func(t *testing.T, c *config.Config) {
			if c.Streams.MaxAge != 36*time.Hour {
				t.Errorf("MaxAge = %s", c.Streams.MaxAge)
			}
		}},
		{"HOOKLINE_CALLBACK_RETRY_DELAYS", env{"HOOKLINE_CALLBACK_RETRY_DELAYS": "0s, 10s,1m,1d"}, func(t *testing.T, c *config.Config) {
			want := []time.Duration{0, 10 * time.Second, time.Minute, 24 * time.Hour}
			if !reflect.DeepEqual(c.CallbackRetryDelays, want) {
				t.Errorf("CallbackRetryDelays = %v", c.CallbackRetryDelays)
			}
		}},
		{"HOOKLINE_CALLBACK_ALLOW_PRIVATE", env{"HOOKLINE_CALLBACK_ALLOW_PRIVATE": "true"}, func(t *testing.T, c *config.Config) {
			if !c.CallbackAllowPrivate {
				t.Error("CallbackAllowPrivate = false")
			}
		}},
		{"HOOKLINE_CALLBACK_ALLOW_CIDRS masked", env{"HOOKLINE_CALLBACK_ALLOW_CIDRS": "10.1.2.3/16, fd00::/8"}, func(t *testing.T, c *config.Config) {
			want := []safedial.AllowCIDR{{Prefix: netip.MustParsePrefix("10.1.0.0/16")}, {Prefix: netip.MustParsePrefix("fd00::/8")}}
			if !reflect.DeepEqual(c.CallbackAllowCIDRs, want) {
				t.Errorf("CallbackAllowCIDRs = %v", c.CallbackAllowCIDRs)
			}
		}},
		{"HOOKLINE_CALLBACK_ALLOW_CIDRS with ports", env{"HOOKLINE_CALLBACK_ALLOW_CIDRS": "127.0.0.1/32:8080,[fd00::/8]:443"}, func(t *testing.T, c *config.Config) {
			want := []safedial.AllowCIDR{
				{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 8080},
				{Prefix: netip.MustParsePrefix("fd00::/8"), Port: 443},
			}
			if !reflect.DeepEqual(c.CallbackAllowCIDRs, want) {
				t.Errorf("CallbackAllowCIDRs = %v", c.CallbackAllowCIDRs)
			}
		}},
		{"HOOKLINE_JWT_SECRET", env{"HOOKLINE_JWT_SECRET": "jwt-secret"}, func(t *testing.T, c *config.Config) {
			if string(c.JWTSecret.Bytes()) != "jwt-secret" {
				t.Error("JWTSecret not read")
			}
		}},
		{"HOOKLINE_JWT_SECRET file:", env{"HOOKLINE_JWT_SECRET": "file:" + secretFile}, func(t *testing.T, c *config.Config) {
			if string(c.JWTSecret.Bytes()) != "file-secret" {
				t.Errorf("JWTSecret from file = %q", c.JWTSecret.Bytes())
			}
		}},
		{"HOOKLINE_CALLBACK_SECRET env:", env{"HOOKLINE_CALLBACK_SECRET": "env:CB", "CB": "cb-secret"}, func(t *testing.T, c *config.Config) {
			if string(c.CallbackSecret.Bytes()) != "cb-secret" {
				t.Errorf("CallbackSecret from env = %q", c.CallbackSecret.Bytes())
			}
		}},
		{"HOOKLINE_PETSTORE_SECRETS rotation", env{"HOOKLINE_PETSTORE_SECRETS": "new, old ,"}, func(t *testing.T, c *config.Config) {
			p := c.Tenants[config.DefaultTenant].Providers[petstore.Name]
			if p == nil || len(p.Secrets) != 2 || string(p.Secrets[0].Bytes()) != "new" || string(p.Secrets[1].Bytes()) != "old" {
				t.Fatalf("petstore provider = %+v", p)
			}
			if p.Tolerance != 72*time.Hour {
				t.Errorf("petstore tolerance = %s, want the max age", p.Tolerance)
			}
		}},
		{"HOOKLINE_BUNJANG_SECRETS with tolerance", env{"HOOKLINE_BUNJANG_SECRETS": "b1", "HOOKLINE_BUNJANG_TOLERANCE": "60s"}, func(t *testing.T, c *config.Config) {
			p := c.Tenants[config.DefaultTenant].Providers[bunjang.Name]
			if p == nil || len(p.Secrets) != 1 || string(p.Secrets[0].Bytes()) != "b1" || p.Tolerance != time.Minute {
				t.Fatalf("bunjang provider = %+v", p)
			}
			if _, ok := c.Tenants[config.DefaultTenant].Providers[petstore.Name]; ok {
				t.Error("petstore configured without secrets")
			}
		}},
		{"HOOKLINE_RATE_LIMIT_RPS derives burst", env{"HOOKLINE_RATE_LIMIT_RPS": "250.5"}, func(t *testing.T, c *config.Config) {
			rl := c.Tenants[config.DefaultTenant].RateLimit
			if rl.RPS != 250.5 || rl.Burst != 250 {
				t.Errorf("RateLimit = %+v", rl)
			}
		}},
		{"HOOKLINE_RATE_LIMIT_RPS small derives burst 1", env{"HOOKLINE_RATE_LIMIT_RPS": "0.5"}, func(t *testing.T, c *config.Config) {
			if rl := c.Tenants[config.DefaultTenant].RateLimit; rl.Burst != 1 {
				t.Errorf("RateLimit = %+v", rl)
			}
		}},
		{"HOOKLINE_RATE_LIMIT_BURST", env{"HOOKLINE_RATE_LIMIT_RPS": "10", "HOOKLINE_RATE_LIMIT_BURST": "40"}, func(t *testing.T, c *config.Config) {
			if rl := c.Tenants[config.DefaultTenant].RateLimit; rl.RPS != 10 || rl.Burst != 40 {
				t.Errorf("RateLimit = %+v", rl)
			}
		}},
		{"white space only means unset", env{"NATS_URL": "  ", "HOOKLINE_MAX_BODY_BYTES": " "}, func(t *testing.T, c *config.Config) {
			if c.NATSURL != "nats://127.0.0.1:4222" || c.MaxBodyBytes != 1<<20 {
				t.Errorf("NATSURL %q MaxBodyBytes %d", c.NATSURL, c.MaxBodyBytes)
			}
		}},
		{"values are trimmed", env{"HOOKLINE_STREAM_REPLICAS": " 3 "}, func(t *testing.T, c *config.Config) {
			if c.Streams.Replicas != 3 {
				t.Errorf("Replicas = %d", c.Streams.Replicas)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, load(t, tt.give))
		})
	}
}

// checkInvalid asserts err is a one-line configuration error naming setting and leaking none of
// secrets.
func checkInvalid(t *testing.T, err error, setting string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Load succeeded, want an error naming %s", setting)
	}
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("error %q does not wrap ErrInvalid", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, setting) {
		t.Errorf("error %q does not name %s", msg, setting)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error %q is not one line", msg)
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error %q leaks %q", msg, s)
		}
	}
}

func TestLoadEnvInvalid(t *testing.T) {
	tests := []struct {
		setting string
		give    string
		extra   env
		secrets []string // must not appear in the message
	}{
		{setting: "NATS_URL", give: "http://nats:4222"},
		{setting: "NATS_URL", give: "://"},
		{setting: "REDIS_URL", give: "http://:hunter2@redis:6379", secrets: []string{"hunter2"}},
		{setting: "REDIS_URL", give: "redis://:pass word@%zz", secrets: []string{"pass word"}},
		{setting: "HOOKLINE_LOG_LEVEL", give: "verbose"},
		{setting: "HOOKLINE_HTTP_ADDR", give: "8080"},
		{setting: "HOOKLINE_ADMIN_ADDR", give: "localhost"},
		{setting: "HOOKLINE_MAX_BODY_BYTES", give: "0"},
		{setting: "HOOKLINE_MAX_BODY_BYTES", give: "1MiB"},
		{setting: "HOOKLINE_MAX_BODY_BYTES", give: "999999999999"},
		{setting: "HOOKLINE_PETSTORE_MAX_AGE", give: "-1h"},
		{setting: "HOOKLINE_PETSTORE_MAX_AGE", give: "0"},
		{setting: "HOOKLINE_PETSTORE_MAX_AGE", give: "forever"},
		{setting: "HOOKLINE_BUNJANG_TOLERANCE", give: "5 minutes"},
		{setting: "HOOKLINE_BUNJANG_TOLERANCE", give: "NaN"},
		{setting: "HOOKLINE_STREAM_REPLICAS", give: "0"},
		{setting: "HOOKLINE_STREAM_REPLICAS", give: "7"},
		{setting: "HOOKLINE_STREAM_REPLICAS", give: "three"},
		{setting: "HOOKLINE_DUPLICATE_WINDOW", give: "soon"},
		{setting: "HOOKLINE_STREAM_MAX_AGE", give: "-7d"},
		{setting: "HOOKLINE_CALLBACK_RETRY_DELAYS", give: "1m,,5m"},
		{setting: "HOOKLINE_CALLBACK_RETRY_DELAYS", give: "1m,-5m"},
		{setting: "HOOKLINE_CALLBACK_RETRY_DELAYS", give: "1m;5m"},
		{setting: "HOOKLINE_CALLBACK_ALLOW_PRIVATE", give: "yes please"},
		{setting: "HOOKLINE_CALLBACK_ALLOW_CIDRS", give: "10.0.0.0/8,10.0.0.0/33"},
		{setting: "HOOKLINE_CALLBACK_ALLOW_CIDRS", give: "10.0.0.1"},
		{setting: "HOOKLINE_RATE_LIMIT_RPS", give: "-1"},
		{setting: "HOOKLINE_RATE_LIMIT_RPS", give: "fast"},
		{setting: "HOOKLINE_RATE_LIMIT_RPS", give: "NaN"},
		{setting: "HOOKLINE_RATE_LIMIT_RPS", give: "+Inf"},
		{setting: "HOOKLINE_RATE_LIMIT_BURST", give: "-1"},
		{setting: "HOOKLINE_JWT_SECRET", give: "env:HOOKLINE_TEST_UNSET"},
		{setting: "HOOKLINE_JWT_SECRET", give: "env:EMPTY", extra: env{"EMPTY": ""}},
		{setting: "HOOKLINE_CALLBACK_SECRET", give: "file:/nonexistent/hookline/secret"},
		{setting: "HOOKLINE_PETSTORE_SECRETS", give: "good-secret,env:HOOKLINE_TEST_UNSET", secrets: []string{"good-secret"}},
		{setting: "HOOKLINE_BUNJANG_SECRETS", give: "file:/nonexistent/hookline/secret"},
		{setting: "HOOKLINE_CONFIG", give: "/nonexistent/hookline.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.setting+"="+tt.give, func(t *testing.T) {
			e := env{tt.setting: tt.give}
			for k, v := range tt.extra {
				e[k] = v
			}
			c, err := config.Load(e.lookup, testDefaults)
			if c != nil {
				t.Errorf("Load returned a config with error %v", err)
			}
			checkInvalid(t, err, tt.setting, tt.secrets...)
		})
	}
}

func TestLoadEmptySecretFile(t *testing.T) {
	p := writeFile(t, "empty", "\n")
	_, err := config.Load(env{"HOOKLINE_JWT_SECRET": "file:" + p}.lookup, testDefaults)
	checkInvalid(t, err, "HOOKLINE_JWT_SECRET")
}

func TestLoadFirstErrorWins(t *testing.T) {
	_, err := config.Load(env{"NATS_URL": "http://x", "HOOKLINE_LOG_LEVEL": "loud"}.lookup, testDefaults)
	checkInvalid(t, err, "NATS_URL")
	if strings.Contains(err.Error(), "HOOKLINE_LOG_LEVEL") {
		t.Errorf("error %q names two settings", err)
	}
}

const sampleFile = `
tenants:
  - id: default                      # or a UUID, matched against X-Tenant-ID
    rateLimit: {rps: 1000, burst: 2000}
    providers:
      petstore: {secrets: ["pet-default"]}
      bunjang: {secrets: ["bun-default"], tolerance: 300s}
  - id: 6F1C2D3E-4B5A-4C6D-8E7F-0123456789AB
    rateLimit: {rps: 5}
    providers:
      petstore: {secrets: ["env:PET_SECRET", "pet-old"], maxAge: 24h}
      bunjang: {secrets: ["file:%s"], tolerance: 1m}
sources:                             # extra Standard Webhooks sources: POST /webhooks/<name>
  - name: acme
    tenant: default
    secrets: ["whsec_c2VjcmV0"]
  - name: globex_2
    tenant: 6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab
    secrets: ["raw"]
    tolerance: 10m
`

func TestLoadFile(t *testing.T) {
	bunFile := writeFile(t, "bun", "bun-from-file\r\n")
	path := writeFile(t, "tenants.yaml", strings.Replace(sampleFile, "%s", bunFile, 1))
	c := load(t, env{
		"HOOKLINE_CONFIG":           path,
		"PET_SECRET":                "pet-from-env",
		"HOOKLINE_PETSTORE_SECRETS": "env-pet",
		"HOOKLINE_RATE_LIMIT_RPS":   "1",
	})
	const uuid = "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"
	if len(c.Tenants) != 2 {
		t.Fatalf("tenants = %v", c.Tenants)
	}
	def := c.Tenants[config.DefaultTenant]
	if def.RateLimit != (config.RateLimit{RPS: 1000, Burst: 2000}) {
		t.Errorf("default rate limit = %+v", def.RateLimit)
	}
	secretsOf := func(p *config.Provider) []string {
		var out []string
		for _, s := range p.Secrets {
			out = append(out, string(s.Bytes()))
		}
		return out
	}
	if p := def.Providers[petstore.Name]; p == nil || !reflect.DeepEqual(secretsOf(p), []string{"pet-default"}) || p.Tolerance != 72*time.Hour {
		t.Errorf("default petstore = %+v (the file replaces the environment's secrets)", p)
	}
	if p := def.Providers[bunjang.Name]; p == nil || !reflect.DeepEqual(secretsOf(p), []string{"bun-default"}) || p.Tolerance != 300*time.Second {
		t.Errorf("default bunjang = %+v", p)
	}
	ten := c.Tenants[uuid]
	if ten == nil || ten.ID != uuid {
		t.Fatalf("tenant %s = %+v (ids are lower-cased)", uuid, ten)
	}
	if ten.RateLimit != (config.RateLimit{RPS: 5, Burst: 5}) {
		t.Errorf("tenant rate limit = %+v (burst defaults to rps)", ten.RateLimit)
	}
	if p := ten.Providers[petstore.Name]; p == nil || !reflect.DeepEqual(secretsOf(p), []string{"pet-from-env", "pet-old"}) || p.Tolerance != 24*time.Hour {
		t.Errorf("tenant petstore = %+v", p)
	}
	if p := ten.Providers[bunjang.Name]; p == nil || !reflect.DeepEqual(secretsOf(p), []string{"bun-from-file"}) || p.Tolerance != time.Minute {
		t.Errorf("tenant bunjang = %+v", p)
	}
	if len(c.Sources) != 2 {
		t.Fatalf("sources = %v", c.Sources)
	}
	acme := c.Sources["acme"]
	if acme == nil || acme.Name != "acme" || acme.Tenant != config.DefaultTenant || acme.Tolerance != 300*time.Second ||
		len(acme.Secrets) != 1 || string(acme.Secrets[0].Bytes()) != "whsec_c2VjcmV0" {
		t.Errorf("acme = %+v", acme)
	}
	g := c.Sources["globex_2"]
	if g == nil || g.Tenant != uuid || g.Tolerance != 10*time.Minute || string(g.Secrets[0].Bytes()) != "raw" {
		t.Errorf("globex_2 = %+v", g)
	}
}

func TestLoadFileEnvProvidersKept(t *testing.T) {
	// A file listing default without providers keeps the providers configured by environment.
	path := writeFile(t, "t.yaml", "tenants:\n  - id: default\n    rateLimit: {rps: 3, burst: 4}\n")
	c := load(t, env{"HOOKLINE_CONFIG": path, "HOOKLINE_BUNJANG_SECRETS": "b"})
	def := c.Tenants[config.DefaultTenant]
	if def.Providers[bunjang.Name] == nil || def.RateLimit != (config.RateLimit{RPS: 3, Burst: 4}) {
		t.Fatalf("default = %+v", def)
	}
}

func TestLoadFileEmpty(t *testing.T) {
	c := load(t, env{"HOOKLINE_CONFIG": writeFile(t, "empty.yaml", "")})
	if len(c.Tenants) != 1 || len(c.Sources) != 0 {
		t.Fatalf("tenants %v sources %v", c.Tenants, c.Sources)
	}
}

func TestLoadFileInvalid(t *testing.T) {
	const uuid = "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"
	tests := []struct {
		name  string
		give  string
		where string // must appear in the message
	}{
		{"not yaml", "tenants: [", "HOOKLINE_CONFIG"},
		{"unknown top-level field", "tenant: []", "tenant"},
		{"unknown tenant field", "tenants:\n  - id: default\n    name: x\n", "name"},
		{"unknown provider field", "tenants:\n  - id: default\n    providers:\n      petstore: {secrets: [a], secret: b}\n", "secret"},
		{"unknown source field", "sources:\n  - name: acme\n    secrets: [a]\n    url: x\n", "url"},
		{"multi-line yaml errors are one line", "tenants:\n  - id: default\n    a: 1\n    b: 2\n", "HOOKLINE_CONFIG"},
		{"bad tenant id", "tenants:\n  - id: acme\n", "tenants[0].id"},
		{"empty tenant id", "tenants:\n  - rateLimit: {rps: 1}\n", "tenants[0].id"},
		{"uuid with braces", "tenants:\n  - id: \"{" + uuid + "}\"\n", "tenants[0].id"},
		{"duplicate tenant", "tenants:\n  - id: " + uuid + "\n  - id: " + strings.ToUpper(uuid) + "\n", "tenants[1].id"},
		{"duplicate default tenant", "tenants:\n  - id: default\n  - id: default\n", "tenants[1].id"},
		{"negative rps", "tenants:\n  - id: default\n    rateLimit: {rps: -1}\n", "tenants[0].rateLimit"},
		{"negative burst", "tenants:\n  - id: default\n    rateLimit: {rps: 1, burst: -1}\n", "tenants[0].rateLimit"},
		{"NaN rps", "tenants:\n  - id: default\n    rateLimit: {rps: .nan}\n", "tenants[0].rateLimit"},
		{"unknown provider", "tenants:\n  - id: default\n    providers:\n      stripe: {secrets: [a]}\n", "tenants[0].providers.stripe"},
		{"provider without secrets", "tenants:\n  - id: default\n    providers:\n      petstore: {}\n", "tenants[0].providers.petstore.secrets"},
		{"petstore tolerance", "tenants:\n  - id: default\n    providers:\n      petstore: {secrets: [a], tolerance: 5m}\n", "providers.petstore.tolerance"},
		{"bunjang maxAge", "tenants:\n  - id: default\n    providers:\n      bunjang: {secrets: [a], maxAge: 5m}\n", "providers.bunjang.maxAge"},
		{"bad petstore maxAge", "tenants:\n  - id: default\n    providers:\n      petstore: {secrets: [a], maxAge: soon}\n", "providers.petstore.maxAge"},
		{"zero bunjang tolerance", "tenants:\n  - id: default\n    providers:\n      bunjang: {secrets: [a], tolerance: 0s}\n", "providers.bunjang.tolerance"},
		{"unset env secret", "tenants:\n  - id: default\n    providers:\n      bunjang: {secrets: [\"env:HOOKLINE_TEST_UNSET\"]}\n", "providers.bunjang.secrets"},
		{"missing file secret", "tenants:\n  - id: default\n    providers:\n      bunjang: {secrets: [\"file:/nonexistent/x\"]}\n", "providers.bunjang.secrets"},
		{"empty secret", "tenants:\n  - id: default\n    providers:\n      bunjang: {secrets: [\"\"]}\n", "providers.bunjang.secrets"},
		{"source with unknown tenant", "sources:\n  - name: acme\n    tenant: " + uuid + "\n    secrets: [a]\n", "sources[0].tenant"},
		{"source with bad tenant", "sources:\n  - name: acme\n    tenant: acme\n    secrets: [a]\n", "sources[0].tenant"},
		{"source without name", "sources:\n  - secrets: [a]\n", "sources[0].name"},
		{"source named petstore", "sources:\n  - name: petstore\n    secrets: [a]\n", "sources[0].name"},
		{"source name with dot", "sources:\n  - name: a.b\n    secrets: [a]\n", "sources[0].name"},
		{"duplicate source", "sources:\n  - name: acme\n    secrets: [a]\n  - name: acme\n    secrets: [b]\n", "sources[1].name"},
		{"source without secrets", "sources:\n  - name: acme\n", "sources[0].secrets"},
		{"source bad tolerance", "sources:\n  - name: acme\n    secrets: [a]\n    tolerance: -5m\n", "sources[0].tolerance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "tenants.yaml", tt.give)
			c, err := config.Load(env{"HOOKLINE_CONFIG": path}.lookup, testDefaults)
			if c != nil {
				t.Errorf("Load returned a config with error %v", err)
			}
			checkInvalid(t, err, "HOOKLINE_CONFIG")
			if !strings.Contains(err.Error(), tt.where) {
				t.Errorf("error %q does not point at %s", err, tt.where)
			}
		})
	}
}

func TestLoadFileSecretsNotLeaked(t *testing.T) {
	path := writeFile(t, "t.yaml", "tenants:\n  - id: default\n    providers:\n      petstore: {secrets: [\"literal-secret-value\"], maxAge: -1s}\n")
	_, err := config.Load(env{"HOOKLINE_CONFIG": path}.lookup, testDefaults)
	checkInvalid(t, err, "HOOKLINE_CONFIG", "literal-secret-value")
}

func TestNormalizeTenantID(t *testing.T) {
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{"default", "default", true},
		{" Default ", "default", true},
		{"6F1C2D3E-4B5A-4C6D-8E7F-0123456789AB", "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab", true},
		{"6f1c2d3e4b5a4c6d8e7f0123456789ab", "6f1c2d3e4b5a4c6d8e7f0123456789ab", false},
		{"", "", false},
		{"acme", "acme", false},
		{"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ag", "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ag", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := config.NormalizeTenantID(tt.give)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("NormalizeTenantID(%q) = %q, %v; want %q, %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		give    string
		want    time.Duration
		wantErr bool
	}{
		{give: "300", want: 300 * time.Second},
		{give: "1.5", want: 1500 * time.Millisecond},
		{give: "72h", want: 72 * time.Hour},
		{give: "1h30m", want: 90 * time.Minute},
		{give: "7d", want: 7 * 24 * time.Hour},
		{give: "0.5d", want: 12 * time.Hour},
		{give: "", wantErr: true},
		{give: "d", wantErr: true},
		{give: "abc", wantErr: true},
		{give: "5 m", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := config.ParseDuration(tt.give)
			if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
				t.Fatalf("ParseDuration(%q) = %s, %v; want %s, error %v", tt.give, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// Every Config gets its own retry schedule: changing one cannot change another's.
func TestDefaultCallbackRetryDelaysAreNotShared(t *testing.T) {
	a, err := config.Load(env{}.lookup, testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	a.CallbackRetryDelays[0] = time.Hour
	b, err := config.Load(env{}.lookup, testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.CallbackRetryDelays[0], config.DefaultCallbackRetryDelays()[0]; got != want || want != time.Minute {
		t.Fatalf("second Load's first retry delay = %s, want %s (1m)", got, want)
	}
}
