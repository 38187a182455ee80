package deploy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scaledObject is the part of KEDA's ScaledObject (keda.sh/v1alpha1) that Hookline uses. KEDA's
// Go types (github.com/kedacore/keda/v2/apis) live in the operator's module, whose requirements
// (controller-runtime, every scaler's cloud SDK) would dwarf this test module's; this subset is
// decoded as strictly as the built-in kinds, so a field it does not list fails: add the field
// here, spelt as in KEDA's CRD, when the manifests start using it.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              scaledObjectSpec `json:"spec"`
}

type scaledObjectSpec struct {
	ScaleTargetRef        scaleTarget           `json:"scaleTargetRef"`
	PollingInterval       *int32                `json:"pollingInterval,omitempty"`
	InitialCooldownPeriod *int32                `json:"initialCooldownPeriod,omitempty"`
	CooldownPeriod        *int32                `json:"cooldownPeriod,omitempty"`
	IdleReplicaCount      *int32                `json:"idleReplicaCount,omitempty"`
	MinReplicaCount       *int32                `json:"minReplicaCount,omitempty"`
	MaxReplicaCount       *int32                `json:"maxReplicaCount,omitempty"`
	Advanced              *scaledObjectAdvanced `json:"advanced,omitempty"`
	Fallback              *scaledObjectFallback `json:"fallback,omitempty"`
	Triggers              []scaleTrigger        `json:"triggers"`
}

type scaleTarget struct {
	APIVersion             string `json:"apiVersion,omitempty"`
	Kind                   string `json:"kind,omitempty"`
	Name                   string `json:"name"`
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
}

type scaledObjectAdvanced struct {
	RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
	HorizontalPodAutoscalerConfig *struct {
		Name     string                                         `json:"name,omitempty"`
		Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
	} `json:"horizontalPodAutoscalerConfig,omitempty"`
}

type scaledObjectFallback struct {
	FailureThreshold int32 `json:"failureThreshold"`
	Replicas         int32 `json:"replicas"`
}

type scaleTrigger struct {
	Type       string            `json:"type"`
	Name       string            `json:"name,omitempty"`
	MetricType string            `json:"metricType,omitempty"`
	Metadata   map[string]string `json:"metadata"`
}

// natsJetStreamMetadata lists the nats-jetstream scaler's metadata keys (KEDA 2.8+,
// keda.sh/docs/scalers/nats-jetstream) and whether each is required here. KEDA reads the
// metadata as a map and ignores a key it does not know, so a misspelt lagThreshold would silently
// fall back to the scaler's default of 10; strict decoding cannot see that, this list does.
var natsJetStreamMetadata = map[string]bool{
	"natsServerMonitoringEndpoint": true,
	"account":                      true,
	"stream":                       true,
	"consumer":                     true,
	"lagThreshold":                 true,
	"activationLagThreshold":       true,
	"useHttps":                     false,
}

// checkScaledObject catches what strict decoding cannot in a ScaledObject: its trigger metadata
// is a map. Called by render for every ScaledObject.
func checkScaledObject(so *scaledObject) error {
	var errs []error
	for i, tr := range so.Spec.Triggers {
		at := fmt.Sprintf("ScaledObject %s: triggers[%d]", so.Name, i)
		if tr.Type != "nats-jetstream" {
			errs = append(errs, fmt.Errorf("%s: type %q, want nats-jetstream (the only scaler these manifests use)", at, tr.Type))
			continue
		}
		for k := range tr.Metadata {
			if _, ok := natsJetStreamMetadata[k]; !ok {
				errs = append(errs, fmt.Errorf("%s: unknown metadata key %q", at, k))
			}
		}
		for k, required := range natsJetStreamMetadata {
			if required && tr.Metadata[k] == "" {
				errs = append(errs, fmt.Errorf("%s: metadata %s is not set", at, k))
			}
		}
		for _, k := range []string{"lagThreshold", "activationLagThreshold"} {
			if v, ok := tr.Metadata[k]; ok {
				if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
					errs = append(errs, fmt.Errorf("%s: metadata %s = %q, want a positive integer", at, k, v))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// kedaScaled is what the keda component must scale: each workload on its own consumer of its own
// stream (pkg/streams: WEBHOOKS/worker, CALLBACKS/dispatcher).
var kedaScaled = map[string]struct{ stream, consumer string }{
	"worker":     {"WEBHOOKS", "worker"},
	"dispatcher": {"CALLBACKS", "dispatcher"},
}

// checkScaledObjects: with the keda component, the worker and the dispatcher each have one
// ScaledObject on their consumer's backlog and nothing else scales them; without it there are
// none.
func checkScaledObjects(t *testing.T, m *manifests, ov overlay) {
	t.Helper()
	sos := of[scaledObject](m)
	if !ov.keda {
		if len(sos) > 0 {
			t.Errorf("%s renders ScaledObjects but is not meant to", ov.name)
		}
		return
	}
	deps := workloads(t, m)
	hpaTargets := map[string]bool{}
	for _, h := range of[autoscalingv2.HorizontalPodAutoscaler](m) {
		hpaTargets[h.Spec.ScaleTargetRef.Name] = true
	}
	var targets []string
	for name, so := range sos {
		ref := so.Spec.ScaleTargetRef
		targets = append(targets, ref.Name)
		want, scaled := kedaScaled[ref.Name]
		w, rendered := deps[ref.Name]
		if !scaled || !rendered || ref.Kind != w.kind || ref.APIVersion != "apps/v1" {
			t.Errorf("ScaledObject %s targets %s %s %s, want the worker or dispatcher Deployment", name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		if hpaTargets[ref.Name] {
			t.Errorf("%s is scaled by ScaledObject %s and by an HPA: KEDA's own HPA and the other one would fight", ref.Name, name)
		}
		if w.replicas != nil {
			t.Errorf("%s %s sets replicas %d although ScaledObject %s owns the count: every apply would reset it", w.kind, ref.Name, *w.replicas, name)
		}
		s := so.Spec
		if s.MinReplicaCount == nil || s.MaxReplicaCount == nil || *s.MinReplicaCount < ov.minHPAReplicas || *s.MinReplicaCount > *s.MaxReplicaCount {
			t.Errorf("ScaledObject %s: minReplicaCount %v, maxReplicaCount %v; want %d ≤ min ≤ max (never to zero: the order query API runs in the worker)",
				name, s.MinReplicaCount, s.MaxReplicaCount, ov.minHPAReplicas)
		} else if f := s.Fallback; f == nil || f.FailureThreshold < 1 || f.Replicas < *s.MinReplicaCount || f.Replicas > *s.MaxReplicaCount {
			t.Errorf("ScaledObject %s: fallback %+v, want replicas within [min, max] for when the monitoring endpoint fails", name, f)
		}
		if len(s.Triggers) != 1 {
			t.Errorf("ScaledObject %s: %d triggers, want one nats-jetstream trigger", name, len(s.Triggers))
			continue
		}
		md := s.Triggers[0].Metadata
		if md["stream"] != want.stream || md["consumer"] != want.consumer || md["account"] != "$G" {
			t.Errorf("ScaledObject %s scales on account %s stream %s consumer %s, want $G %s %s",
				name, md["account"], md["stream"], md["consumer"], want.stream, want.consumer)
		}
		lag, _ := strconv.Atoi(md["lagThreshold"])
		act, _ := strconv.Atoi(md["activationLagThreshold"])
		if act >= lag {
			t.Errorf("ScaledObject %s: activationLagThreshold %d ≥ lagThreshold %d", name, act, lag)
		}
		// The KEDA operator resolves the endpoint from its own namespace: it must be fully
		// qualified, name the overlay's namespace and the monitoring port (8222, deploy/nats).
		host, port, err := net.SplitHostPort(md["natsServerMonitoringEndpoint"])
		if err != nil || port != "8222" || !strings.HasSuffix(host, "."+ov.namespace+".svc.cluster.local") {
			t.Errorf("ScaledObject %s: natsServerMonitoringEndpoint %q, want <service>.%s.svc.cluster.local:8222",
				name, md["natsServerMonitoringEndpoint"], ov.namespace)
		}
	}
	slices.Sort(targets)
	if !slices.Equal(targets, []string{"dispatcher", "worker"}) {
		t.Errorf("ScaledObjects target %v, want dispatcher and worker", targets)
	}
}

// Without KEDA the prod overlay drops the keda component (one line) and must still render, with
// the worker on its CPU HPA at the ScaledObject's sizes and a fixed number of dispatchers.
func TestKustomizeProdWithoutKEDA(t *testing.T) {
	withKEDA := mustRender(t, "overlays/prod")
	root := copyManifests(t)
	path := filepath.Join(root, "overlays/prod/kustomization.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const line = "  - ../../components/keda\n"
	if !strings.Contains(string(src), line) {
		t.Fatalf("overlays/prod/kustomization.yaml does not include the keda component as %q", line)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(src), line, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	m := mustRender(t, filepath.Join(root, "overlays/prod"))

	ov := overlays[1]
	ov.keda = false
	checkAutoscalers(t, m, ov)
	checkScaledObjects(t, m, ov)
	checkDisruptionBudgets(t, m)

	hpa := of[autoscalingv2.HorizontalPodAutoscaler](m)["worker"]
	so := of[scaledObject](withKEDA)["worker"]
	if hpa == nil || so == nil {
		t.Fatalf("want the worker HPA without KEDA (%v) and the worker ScaledObject with it (%v)", hpa != nil, so != nil)
	}
	if *hpa.Spec.MinReplicas != *so.Spec.MinReplicaCount || hpa.Spec.MaxReplicas != *so.Spec.MaxReplicaCount {
		t.Errorf("worker HPA %d–%d, ScaledObject %d–%d: keep the two sizes equal", *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas,
			*so.Spec.MinReplicaCount, *so.Spec.MaxReplicaCount)
	}
	if r := workloads(t, m)["dispatcher"].replicas; r == nil || *r != *of[scaledObject](withKEDA)["dispatcher"].Spec.MinReplicaCount {
		t.Errorf("dispatcher replicas without KEDA = %v, want the ScaledObject's minReplicaCount", r)
	}
}
