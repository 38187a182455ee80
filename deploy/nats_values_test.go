package deploy

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// natsValues is the part of the official NATS chart's values (nats-io/k8s, chart `nats` 2.x) that
// deploy/nats/values.yaml sets. The chart cannot be rendered here (that needs Helm and the
// chart), so the file is decoded strictly into this model of the chart's keys: a misspelt key
// fails, and a key the model lacks must be added here, checked against the chart's values.yaml.
type natsValues struct {
	FullnameOverride string `json:"fullnameOverride"`
	Config           struct {
		Cluster struct {
			Enabled  bool `json:"enabled"`
			Replicas int  `json:"replicas"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				Enabled bool   `json:"enabled"`
				Dir     string `json:"dir"`
				PVC     struct {
					Enabled          bool    `json:"enabled"`
					Size             string  `json:"size"`
					StorageClassName *string `json:"storageClassName"`
				} `json:"pvc"`
				MaxSize string `json:"maxSize,omitempty"`
			} `json:"fileStore"`
			MemoryStore struct {
				Enabled bool   `json:"enabled"`
				MaxSize string `json:"maxSize,omitempty"`
			} `json:"memoryStore"`
		} `json:"jetstream"`
		Monitor struct {
			Enabled bool `json:"enabled"`
			Port    int  `json:"port"`
		} `json:"monitor"`
	} `json:"config"`
	Container struct {
		Env       map[string]string           `json:"env"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"container"`
	PodTemplate struct {
		// topologyKey → constraint; the chart adds the key and its pods' label selector.
		TopologySpreadConstraints map[string]struct {
			MaxSkew           int32                                `json:"maxSkew"`
			WhenUnsatisfiable corev1.UnsatisfiableConstraintAction `json:"whenUnsatisfiable"`
		} `json:"topologySpreadConstraints"`
	} `json:"podTemplate"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
	PromExporter struct {
		Enabled    bool `json:"enabled"`
		PodMonitor struct {
			Enabled bool `json:"enabled"`
		} `json:"podMonitor"`
	} `json:"promExporter"`
	NatsBox struct {
		Enabled bool `json:"enabled"`
	} `json:"natsBox"`
}

var natsValuesFile = filepath.Join("nats", "values.yaml")

func decodeNATSValues(src []byte) (*natsValues, error) {
	js, err := yaml.YAMLToJSONStrict(src)
	if err != nil {
		return nil, fmt.Errorf("NATS values: %w", err)
	}
	var v natsValues
	strictErrs, err := sigsjson.UnmarshalStrict(js, &v)
	if err != nil {
		return nil, fmt.Errorf("NATS values: %w", err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("NATS values: %w", errors.Join(strictErrs...))
	}
	if err := checkResourceNames(v.Container.Resources); err != nil {
		return nil, fmt.Errorf("NATS values: container: %w", err)
	}
	return &v, nil
}

func TestNATSHelmValues(t *testing.T) {
	src, err := os.ReadFile(natsValuesFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeNATSValues(src)
	if err != nil {
		t.Fatal(err)
	}

	// The chart's client Service is named after fullnameOverride: NATS_URL must point at it.
	prod := mustRender(t, "overlays/prod")
	var natsURL, streamReplicas string
	for _, cm := range of[corev1.ConfigMap](prod) {
		natsURL, streamReplicas = cm.Data["NATS_URL"], cm.Data["HOOKLINE_STREAM_REPLICAS"]
	}
	u, err := url.Parse(natsURL)
	if err != nil {
		t.Fatalf("prod NATS_URL %q: %v", natsURL, err)
	}
	if u.Hostname() != v.FullnameOverride || u.Port() != "4222" {
		t.Errorf("prod NATS_URL %q does not reach the chart's Service %s:4222", natsURL, v.FullnameOverride)
	}

	// JetStream R3: three clustered servers, file storage on volumes, and streams asking for as
	// many replicas as there are servers.
	if !v.Config.Cluster.Enabled || v.Config.Cluster.Replicas < 3 {
		t.Errorf("cluster = %+v, want enabled with 3 servers", v.Config.Cluster)
	}
	replicas, err := strconv.Atoi(streamReplicas)
	if err != nil || replicas != 3 || replicas > v.Config.Cluster.Replicas {
		t.Errorf("prod HOOKLINE_STREAM_REPLICAS = %q with %d servers, want 3 (R3)", streamReplicas, v.Config.Cluster.Replicas)
	}
	js := v.Config.JetStream
	if !js.Enabled || !js.FileStore.Enabled || !js.FileStore.PVC.Enabled || js.MemoryStore.Enabled {
		t.Errorf("jetstream = %+v, want file storage on a PVC and no memory store", js)
	}
	if q, err := resource.ParseQuantity(js.FileStore.PVC.Size); err != nil || q.Sign() <= 0 {
		t.Errorf("jetstream PVC size %q: %v", js.FileStore.PVC.Size, err)
	}
	if !v.Config.Monitor.Enabled || v.Config.Monitor.Port != 8222 {
		t.Errorf("monitor = %+v, want enabled on 8222 (the chart's probes use it)", v.Config.Monitor)
	}

	// One server per node, or losing a node could take two of the three.
	if c, ok := v.PodTemplate.TopologySpreadConstraints["kubernetes.io/hostname"]; !ok || c.WhenUnsatisfiable != corev1.DoNotSchedule {
		t.Errorf("topologySpreadConstraints = %+v, want kubernetes.io/hostname with DoNotSchedule", v.PodTemplate.TopologySpreadConstraints)
	}
	if !v.PodDisruptionBudget.Enabled {
		t.Error("the chart's PodDisruptionBudget is off")
	}

	// GOMEMLIMIT below the memory limit, so nats-server collects before it is killed.
	limit := v.Container.Resources.Limits.Memory()
	if limit.IsZero() {
		t.Fatal("container.resources.limits.memory is not set")
	}
	memLimit, err := parseGoMemLimit(v.Container.Env["GOMEMLIMIT"])
	if err != nil {
		t.Fatalf("GOMEMLIMIT: %v", err)
	}
	if memLimit >= limit.Value() {
		t.Errorf("GOMEMLIMIT %d bytes is not below the memory limit %s", memLimit, limit)
	}
}

// parseGoMemLimit parses the GOMEMLIMIT forms used here: a number of bytes with a B, KiB, MiB or
// GiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("want a positive size such as 1800MiB, got %q", s)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("want a size with a B, KiB, MiB or GiB suffix, got %q", s)
}

func TestNATSHelmValuesRejectMisspeltKeys(t *testing.T) {
	src, err := os.ReadFile(natsValuesFile)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ old, new, wantErr string }{
		{"    replicas: 3", "    replica: 3", `unknown field "config.cluster.replica"`},
		{"    fileStore:", "    filestore:", `unknown field "config.jetstream.filestore"`},
		{"podDisruptionBudget:", "podDisruptionBudgets:", `unknown field "podDisruptionBudgets"`},
		{"      memory: 2Gi", "      memroy: 2Gi", `unknown resource "memroy"`},
		{"  resources:", "  resource:", `unknown field "container.resource"`},
		{"natsBox:\n  enabled: true", "natsBox:\n  enabled: true\n  enabled: false", `key "enabled" already set`},
	}
	for _, tc := range cases {
		t.Run(tc.new, func(t *testing.T) {
			if !strings.Contains(string(src), tc.old) {
				t.Fatalf("%s no longer contains %q: update this case", natsValuesFile, tc.old)
			}
			_, err := decodeNATSValues([]byte(strings.Replace(string(src), tc.old, tc.new, 1)))
			if err == nil {
				t.Fatalf("%q decoded without error", tc.new)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error does not name %q: %v", tc.wantErr, err)
			}
		})
	}
}

func TestParseGoMemLimit(t *testing.T) {
	for in, want := range map[string]int64{"1800MiB": 1800 << 20, "2GiB": 2 << 30, "512KiB": 512 << 10, "100B": 100} {
		if got, err := parseGoMemLimit(in); err != nil || got != want {
			t.Errorf("parseGoMemLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1800", "1.5GiB", "-1MiB", "MiB", "2Gi"} {
		if _, err := parseGoMemLimit(bad); err == nil {
			t.Errorf("parseGoMemLimit(%q) accepted", bad)
		}
	}
}
