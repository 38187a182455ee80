package deploy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

var composeFile = filepath.Join(repoRoot, "docker-compose.yml")

// loadCompose loads a compose file the way `docker compose` does: schema validation (an unknown
// key is an error), interpolation, merge keys, normalization and the consistency checks. Only the
// variables in env are visible to interpolation, so the test does not depend on the caller's
// shell and sees the file's defaults.
func loadCompose(ctx context.Context, path string, env map[string]string) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("compose file path: %w", err)
	}
	var vars []string
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithEnv(vars),
	)
	if err != nil {
		return nil, fmt.Errorf("compose options: %w", err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return p, nil
}

func mustLoadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	p, err := loadCompose(t.Context(), composeFile, env)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestComposeServices(t *testing.T) {
	// The project is named by the folder or COMPOSE_PROJECT_NAME (the file has no name: key).
	p := mustLoadCompose(t, map[string]string{"COMPOSE_PROJECT_NAME": "hookline"})
	if p.Name != "hookline" {
		t.Errorf("project name = %q, want hookline", p.Name)
	}
	got := slices.Sorted(maps.Keys(p.Services))
	want := []string{"dispatcher", "ingress", "nats", "redis", "worker"}
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
	for _, vol := range []string{"nats-data", "redis-data"} {
		if _, ok := p.Volumes[vol]; !ok {
			t.Errorf("volume %s is not declared", vol)
		}
	}
}

func TestComposeNATS(t *testing.T) {
	s := mustLoadCompose(t, nil).Services["nats"]
	if !strings.HasPrefix(s.Image, "nats:2.") {
		t.Errorf("nats image = %q, want nats:2.x", s.Image)
	}
	cmd := strings.Join(s.Command, " ")
	for _, flag := range []string{"--jetstream", "--store_dir /data", "--http_port 8222"} {
		if !strings.Contains(cmd, flag) {
			t.Errorf("nats command %q lacks %q", cmd, flag)
		}
	}
	requireVolume(t, s, "nats-data", "/data")
	requirePublished(t, s, 4222, "14222", "127.0.0.1")
	requirePublished(t, s, 8222, "18222", "127.0.0.1")
	requireHealthcheck(t, s, []string{"CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8222/healthz?js-enabled-only=true"})
}

func TestComposeRedis(t *testing.T) {
	s := mustLoadCompose(t, nil).Services["redis"]
	if !strings.HasPrefix(s.Image, "redis:7") {
		t.Errorf("redis image = %q, want redis:7", s.Image)
	}
	if cmd := strings.Join(s.Command, " "); !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis command %q does not turn on AOF (--appendonly yes)", cmd)
	}
	requireVolume(t, s, "redis-data", "/data")
	requirePublished(t, s, 6379, "16379", "127.0.0.1")
	requireHealthcheck(t, s, []string{"CMD", "redis-cli", "ping"})
}

// The environment each Hookline service gets, by the contract's names; values are the file's
// defaults (no variable set in the environment).
var composeEnv = map[string]map[string]string{
	"ingress": {
		"HOOKLINE_HTTP_ADDR":              ":8080",
		"HOOKLINE_ADMIN_ADDR":             ":9090",
		"HOOKLINE_PETSTORE_SECRETS":       "dev-petstore-secret",
		"HOOKLINE_BUNJANG_SECRETS":        "dev-bunjang-secret",
		"HOOKLINE_JWT_SECRET":             "dev-jwt-secret",
		"HOOKLINE_RATE_LIMIT_RPS":         "0",
		"HOOKLINE_RATE_LIMIT_BURST":       "0",
		"HOOKLINE_CALLBACK_ALLOW_PRIVATE": "false",
	},
	"worker": {
		"REDIS_URL":                   "redis://redis:6379/0",
		"HOOKLINE_ADMIN_ADDR":         ":9091",
		"HOOKLINE_WORKER_CONCURRENCY": "64",
		"HOOKLINE_DEDUPE_TTL":         "168h",
	},
	"dispatcher": {
		"HOOKLINE_ADMIN_ADDR":             ":9092",
		"HOOKLINE_CALLBACK_SECRET":        "dev-callback-secret",
		"HOOKLINE_CALLBACK_RETRY_DELAYS":  "1m,5m,30m,1h,6h,24h",
		"HOOKLINE_CALLBACK_ALLOW_PRIVATE": "false",
	},
}

// Every Hookline service shares these, so the streams each one creates agree.
var composeSharedEnv = map[string]string{
	"NATS_URL":                  "nats://nats:4222",
	"HOOKLINE_LOG_LEVEL":        "info",
	"HOOKLINE_STREAM_REPLICAS":  "1",
	"HOOKLINE_DUPLICATE_WINDOW": "2m",
	"HOOKLINE_STREAM_MAX_AGE":   "168h",
}

func TestComposeHooklineServices(t *testing.T) {
	p := mustLoadCompose(t, nil)
	known := knownEnvNames(t)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range services {
		t.Run(name, func(t *testing.T) {
			s := p.Services[name]
			admin := adminPorts[name]

			if want := "hookline/" + name + ":dev"; s.Image != want {
				t.Errorf("image = %q, want %q", s.Image, want)
			}
			if s.Build == nil {
				t.Fatal("no build section")
			}
			if s.Build.Context != root {
				t.Errorf("build context = %q, want the repository root %q (the modules replace ../../pkg)", s.Build.Context, root)
			}
			if want := "services/" + name + "/Dockerfile"; s.Build.Dockerfile != want {
				t.Errorf("dockerfile = %q, want %q", s.Build.Dockerfile, want)
			}
			if _, err := os.Stat(filepath.Join(root, s.Build.Dockerfile)); err != nil {
				t.Errorf("dockerfile: %v", err)
			}

			requireHealthcheck(t, s, []string{"CMD", "/usr/local/bin/healthcheck", fmt.Sprintf("http://127.0.0.1:%d/readyz", admin)})

			// Environment: exactly the shared settings plus the service's own.
			want := maps.Clone(composeSharedEnv)
			maps.Copy(want, composeEnv[name])
			got := map[string]string{}
			for k, v := range s.Environment {
				if v == nil {
					t.Errorf("environment %s has no value", k)
					continue
				}
				got[k] = *v
			}
			if !maps.Equal(got, want) {
				t.Errorf("environment\n got %v\nwant %v", got, want)
			}
			checkEnvNames(t, "docker-compose.yml service "+name, slices.Collect(maps.Keys(got)), known)

			// Ports: the admin port always; the public one on the ingress only.
			requirePort(t, s, admin)
			if name == "ingress" {
				requirePublished(t, s, publicPort, strconv.Itoa(publicPort), "127.0.0.1")
				requirePublished(t, s, admin, strconv.Itoa(admin), "127.0.0.1")
			}
			if name == "dispatcher" {
				requirePublished(t, s, admin, strconv.Itoa(admin), "127.0.0.1")
			}
			if len(s.Ports) != map[string]int{"ingress": 2, "worker": 1, "dispatcher": 1}[name] {
				t.Errorf("ports = %+v: unexpected extra ports", s.Ports)
			}

			// Start order: NATS (and Redis for the worker) must be healthy first.
			deps := []string{"nats"}
			if name == "worker" {
				deps = append(deps, "redis")
			}
			if got := slices.Sorted(maps.Keys(s.DependsOn)); !slices.Equal(got, deps) {
				t.Errorf("depends_on = %v, want %v", got, deps)
			}
			for dep, d := range s.DependsOn {
				if d.Condition != types.ServiceConditionHealthy {
					t.Errorf("depends_on %s: condition %q, want %q", dep, d.Condition, types.ServiceConditionHealthy)
				}
			}

			// Hardening shared through the x-hookline-service anchor.
			if !s.ReadOnly {
				t.Error("read_only is not set")
			}
			if !slices.Equal(s.CapDrop, []string{"ALL"}) {
				t.Errorf("cap_drop = %v, want [ALL]", s.CapDrop)
			}
			if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= 15*time.Second {
				t.Errorf("stop_grace_period = %v, want more than HOOKLINE_SHUTDOWN_TIMEOUT (15s)", s.StopGracePeriod)
			}
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("restart = %q, want %q", s.Restart, types.RestartPolicyUnlessStopped)
			}
		})
	}
}

// docker-compose 1.29 (Debian 12's package) refuses a top-level name: key, and the compose file
// is meant to work with it as well as with Compose v2.
func TestComposeWorksWithCompose1(t *testing.T) {
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	allowed := []string{"services", "volumes", "networks", "configs", "secrets"}
	for k := range top {
		if !slices.Contains(allowed, k) && !strings.HasPrefix(k, "x-") {
			t.Errorf("top-level key %q: docker-compose 1.29 refuses it (allowed: %v and x-…)", k, allowed)
		}
	}
}

// Every host port binds loopback only (the dev secrets are public), and none takes the ports of
// the nats-server and redis-server that `make run` and the tests use.
func TestComposePortsBindLoopback(t *testing.T) {
	p := mustLoadCompose(t, nil)
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		for _, port := range p.Services[name].Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s: port %d is published on %q, want 127.0.0.1", name, port.Target, port.HostIP)
			}
			if port.Published == "4222" || port.Published == "6379" {
				t.Errorf("%s: host port %s clashes with the servers make run and the tests start", name, port.Published)
			}
		}
	}
}

// Each fixed host port comes from a variable, so two stacks (or a stack and make run) can share
// a machine.
func TestComposePortsAreOverridable(t *testing.T) {
	vars := []struct {
		env, service string
		target       int
	}{
		{"HOOKLINE_NATS_PORT", "nats", 4222},
		{"HOOKLINE_NATS_MONITOR_PORT", "nats", 8222},
		{"HOOKLINE_REDIS_PORT", "redis", 6379},
		{"HOOKLINE_HTTP_PORT", "ingress", publicPort},
		{"HOOKLINE_INGRESS_ADMIN_PORT", "ingress", adminPorts["ingress"]},
		{"HOOKLINE_DISPATCHER_ADMIN_PORT", "dispatcher", adminPorts["dispatcher"]},
	}
	env := map[string]string{}
	for i, v := range vars {
		env[v.env] = strconv.Itoa(30001 + i)
	}
	p := mustLoadCompose(t, env)
	fixed := 0
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if port.Published != "" {
				fixed++
			}
		}
	}
	if fixed != len(vars) {
		t.Errorf("%d fixed host ports, want %d, each from a variable", fixed, len(vars))
	}
	for i, v := range vars {
		requirePublished(t, p.Services[v.service], v.target, strconv.Itoa(30001+i), "127.0.0.1")
	}
}

func TestComposeWorkerReplicas(t *testing.T) {
	s := mustLoadCompose(t, nil).Services["worker"]
	if s.Deploy == nil || s.Deploy.Replicas == nil || *s.Deploy.Replicas != 2 {
		t.Fatalf("worker deploy.replicas = %+v, want 2", s.Deploy)
	}
	// Two replicas cannot bind one host port: the admin port must be published on an
	// ephemeral host port, or not at all.
	for _, port := range s.Ports {
		if port.Published != "" {
			t.Errorf("worker publishes host port %s: the second replica could not start", port.Published)
		}
	}
}

// The secrets' defaults are for development only; a value set in the environment (or .env)
// replaces them.
func TestComposeSecretsComeFromTheEnvironment(t *testing.T) {
	env := map[string]string{
		"HOOKLINE_PETSTORE_SECRETS": "s1,s2",
		"HOOKLINE_BUNJANG_SECRETS":  "b1",
		"HOOKLINE_JWT_SECRET":       "jwt",
		"HOOKLINE_CALLBACK_SECRET":  "whsec_c2VjcmV0",
		"REDIS_URL":                 "rediss://user:pw@redis.example:6380/1",
		"HOOKLINE_IMAGE_TAG":        "v1.2.3",
	}
	p := mustLoadCompose(t, env)
	checks := []struct{ service, key string }{
		{"ingress", "HOOKLINE_PETSTORE_SECRETS"},
		{"ingress", "HOOKLINE_BUNJANG_SECRETS"},
		{"ingress", "HOOKLINE_JWT_SECRET"},
		{"dispatcher", "HOOKLINE_CALLBACK_SECRET"},
		{"worker", "REDIS_URL"},
	}
	for _, c := range checks {
		v := p.Services[c.service].Environment[c.key]
		if v == nil || *v != env[c.key] {
			t.Errorf("%s %s = %v, want %q from the environment", c.service, c.key, v, env[c.key])
		}
	}
	if got := p.Services["worker"].Image; got != "hookline/worker:v1.2.3" {
		t.Errorf("worker image = %q, want the HOOKLINE_IMAGE_TAG", got)
	}

	// Without them every secret is a visible development value.
	dev := mustLoadCompose(t, nil)
	for _, c := range checks {
		if c.key == "REDIS_URL" {
			continue
		}
		if v := dev.Services[c.service].Environment[c.key]; v == nil || !strings.HasPrefix(*v, "dev-") {
			t.Errorf("%s %s default = %v, want a dev- value", c.service, c.key, v)
		}
	}
}

// The acceptance criterion: a misspelt field in the compose file fails the load. Each case
// changes one spot of a copy of the real file.
func TestComposeRejectsMisspeltFields(t *testing.T) {
	orig, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, wantErr string
	}{
		{"service key", "    healthcheck:\n      test: [\"CMD\", \"redis-cli\"", "    helthcheck:\n      test: [\"CMD\", \"redis-cli\"", "helthcheck"},
		{"deploy key", "      replicas: 2", "      replica: 2", "replica"},
		{"healthcheck key", "      start_period: 10s", "      start_perod: 10s", "start_perod"},
		{"depends_on condition key", "        condition: service_healthy", "        conditon: service_healthy", "conditon"}, //nolint:misspell // the typo is the test
		{"depends_on condition value", "        condition: service_healthy", "        condition: service_healty", "depends_on.nats.condition value must be one of"},
		{"anchored key", "  read_only: true", "  readonly: true", "readonly"},
		{"top-level key", "\nvolumes:\n", "\nvolume:\n", "volume"},
		{"volume that is not declared", "      - redis-data:/data", "      - redis-dta:/data", "redis-dta"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(orig), tc.old) {
				t.Fatalf("docker-compose.yml no longer contains %q: update this case", tc.old)
			}
			mutated := strings.Replace(string(orig), tc.old, tc.new, 1)
			path := filepath.Join(t.TempDir(), "docker-compose.yml")
			if err := os.WriteFile(path, []byte(mutated), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadCompose(t.Context(), path, nil)
			if err == nil {
				t.Fatalf("the loader accepted %q", tc.new)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not name %q", err, tc.wantErr)
			}
			t.Logf("rejected as expected: %v", err)
		})
	}

	// The unchanged copy loads, so the failures above come from the mutations.
	path := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t.Context(), path, nil); err != nil {
		t.Fatalf("an unchanged copy does not load: %v", err)
	}
}

func requireHealthcheck(t *testing.T, s types.ServiceConfig, test []string) {
	t.Helper()
	hc := s.HealthCheck
	if hc == nil || hc.Disable {
		t.Errorf("%s: no healthcheck", s.Name)
		return
	}
	if !slices.Equal([]string(hc.Test), test) {
		t.Errorf("%s: healthcheck test = %q, want %q", s.Name, hc.Test, test)
	}
	if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil || hc.StartPeriod == nil {
		t.Errorf("%s: healthcheck needs interval, timeout, retries and start_period: %+v", s.Name, hc)
		return
	}
	if *hc.Timeout > *hc.Interval {
		t.Errorf("%s: healthcheck timeout %v exceeds its interval %v", s.Name, *hc.Timeout, *hc.Interval)
	}
}

func requireVolume(t *testing.T, s types.ServiceConfig, source, target string) {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source == source && v.Target == target {
			return
		}
	}
	t.Errorf("%s: no named volume %s mounted at %s (volumes %+v)", s.Name, source, target, s.Volumes)
}

func requirePort(t *testing.T, s types.ServiceConfig, target int) {
	t.Helper()
	for _, p := range s.Ports {
		if int(p.Target) == target {
			return
		}
	}
	t.Errorf("%s: port %d is not listed (ports %+v)", s.Name, target, s.Ports)
}

func requirePublished(t *testing.T, s types.ServiceConfig, target int, published, hostIP string) {
	t.Helper()
	for _, p := range s.Ports {
		if int(p.Target) == target {
			if p.Published != published || p.HostIP != hostIP {
				t.Errorf("%s: port %d published as %s:%s, want %s:%s", s.Name, target, p.HostIP, p.Published, hostIP, published)
			}
			return
		}
	}
	t.Errorf("%s: port %d is not published", s.Name, target)
}
