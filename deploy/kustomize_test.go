package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that Hookline uses. The CRD's Go types would pull in the whole
// operator; this subset is decoded as strictly as the built-in kinds, so a field it does not list
// fails: add the field here when the manifests start using it.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              serviceMonitorSpec `json:"spec"`
}

type serviceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector *struct {
		Any        bool     `json:"any,omitempty"`
		MatchNames []string `json:"matchNames,omitempty"`
	} `json:"namespaceSelector,omitempty"`
	Endpoints []serviceMonitorEndpoint `json:"endpoints"`
}

type serviceMonitorEndpoint struct {
	Port          string `json:"port,omitempty"`
	Path          string `json:"path,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
}

// kinds maps every apiVersion/kind the manifests may contain to its Go type. Anything else fails
// the render: a new kind needs its type here first.
var kinds = map[string]func() any{
	"v1/Namespace":                            func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &serviceMonitor{} },
	"keda.sh/v1alpha1/ScaledObject":           func() any { return &scaledObject{} },
}

// manifests is one rendered kustomization, decoded.
type manifests struct {
	dir     string
	objects []any
}

// render builds the kustomization in dir with kustomize's Go API (what `kubectl kustomize` and
// `kustomize build` run; no network, no cluster) and decodes every object strictly.
func render(dir string) (*manifests, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out := &manifests{dir: dir}
	var errs []error
	for _, r := range m.Resources() {
		obj, err := decodeStrict(r)
		if err == nil {
			err = checkPodResources(obj)
		}
		if so, ok := obj.(*scaledObject); ok && err == nil {
			err = checkScaledObject(so)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.objects = append(out.objects, obj)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return out, nil
}

// decodeStrict decodes one resource into its API type the way the API server's strict field
// validation does (sigs.k8s.io/json): an unknown field, a field in the wrong case and a duplicate
// field are all errors.
func decodeStrict(r *resource.Resource) (any, error) {
	gvk := r.GetGvk()
	key := gvk.ApiVersion() + "/" + gvk.Kind
	id := fmt.Sprintf("%s %s", key, r.GetName())
	newObj, ok := kinds[key]
	if !ok {
		return nil, fmt.Errorf("%s: unknown kind: add its Go type to kinds", id)
	}
	js, err := r.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s: to JSON: %w", id, err)
	}
	obj := newObj()
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj)
	if err != nil {
		return nil, fmt.Errorf("%s: decode: %w", id, err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("%s: %w", id, errors.Join(strictErrs...))
	}
	return obj, nil
}

// checkPodResources catches what strict decoding cannot: resources are maps, so a misspelt
// resource name (memroy) decodes fine, and the API server would reject it.
func checkPodResources(obj any) error {
	var (
		pod *corev1.PodSpec
		id  string
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		pod, id = &o.Spec.Template.Spec, "Deployment "+o.Name
	case *appsv1.StatefulSet:
		pod, id = &o.Spec.Template.Spec, "StatefulSet "+o.Name
	default:
		return nil
	}
	var errs []error
	for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
		if err := checkResourceNames(c.Resources); err != nil {
			errs = append(errs, fmt.Errorf("%s container %s: %w", id, c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// checkResourceNames accepts what a container may request: cpu, memory, ephemeral-storage, huge
// pages, and extended resources (which carry a domain prefix).
func checkResourceNames(r corev1.ResourceRequirements) error {
	var errs []error
	for what, list := range map[string]corev1.ResourceList{"requests": r.Requests, "limits": r.Limits} {
		for name := range list {
			switch {
			case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage,
				strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix), strings.Contains(string(name), "/"):
			default:
				errs = append(errs, fmt.Errorf("resources.%s: unknown resource %q", what, name))
			}
		}
	}
	return errors.Join(errs...)
}

func of[T any](m *manifests) map[string]*T {
	out := map[string]*T{}
	for _, o := range m.objects {
		v, ok := o.(*T)
		if !ok {
			continue
		}
		if mo, ok := any(v).(metav1.Object); ok {
			out[mo.GetName()] = v
		}
	}
	return out
}

func mustRender(t *testing.T, dir string) *manifests {
	t.Helper()
	m, err := render(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// overlay is what each overlay must produce.
type overlay struct {
	name, dir, namespace, imageTag, streamReplicas string
	// ownSecret: the overlay generates hookline-secrets (dev); otherwise the Secret comes from
	// outside and must not be rendered (prod).
	ownSecret      bool
	serviceMonitor bool
	minHPAReplicas int32
	// spool: the ingress is a StatefulSet with a persistent volume per pod for the outage spool.
	spool bool
	// keda: the worker and the dispatcher scale on their consumers' backlog (components/keda).
	keda bool
}

var overlays = []overlay{
	{name: "dev", dir: "overlays/dev", namespace: "hookline-dev", imageTag: "dev", streamReplicas: "1",
		ownSecret: true, minHPAReplicas: 1},
	{name: "prod", dir: "overlays/prod", namespace: "hookline", imageTag: "v0.1.0", streamReplicas: "3",
		serviceMonitor: true, minHPAReplicas: 2, spool: true, keda: true},
}

func TestKustomizeBaseDecodes(t *testing.T) {
	m := mustRender(t, "base")
	if got := slices.Sorted(maps.Keys(of[appsv1.Deployment](m))); !slices.Equal(got, []string{"dispatcher", "ingress", "worker"}) {
		t.Fatalf("base Deployments = %v", got)
	}
	if n := len(of[corev1.Secret](m)); n != 0 {
		t.Fatalf("the base renders %d Secrets: secret values belong to the overlays or the cluster", n)
	}
}

func TestKustomizeOverlays(t *testing.T) {
	known := knownEnvNames(t)
	for _, ov := range overlays {
		t.Run(ov.name, func(t *testing.T) {
			m := mustRender(t, ov.dir)
			checkNamespaces(t, m, ov)
			cm := checkConfigMap(t, m, ov, known)
			checkDeployments(t, m, ov, cm, known)
			checkSpool(t, m, ov)
			checkServices(t, m)
			checkAutoscalers(t, m, ov)
			checkScaledObjects(t, m, ov)
			checkDisruptionBudgets(t, m)
			checkServiceMonitor(t, m, ov)
		})
	}
}

func checkNamespaces(t *testing.T, m *manifests, ov overlay) {
	t.Helper()
	ns := of[corev1.Namespace](m)
	if _, ok := ns[ov.namespace]; len(ns) != 1 || !ok {
		t.Errorf("Namespaces = %v, want only %s", slices.Collect(maps.Keys(ns)), ov.namespace)
	}
	for _, o := range m.objects {
		meta, ok := o.(metav1.Object)
		if !ok {
			t.Errorf("%T has no object metadata", o)
			continue
		}
		if _, isNS := o.(*corev1.Namespace); isNS {
			continue
		}
		if meta.GetNamespace() != ov.namespace {
			t.Errorf("%T %s is in namespace %q, want %q", o, meta.GetName(), meta.GetNamespace(), ov.namespace)
		}
	}
}

func checkConfigMap(t *testing.T, m *manifests, ov overlay, known map[string]bool) *corev1.ConfigMap {
	t.Helper()
	cms := of[corev1.ConfigMap](m)
	if len(cms) != 1 {
		t.Fatalf("ConfigMaps = %v, want one (hookline-config-<hash>)", slices.Collect(maps.Keys(cms)))
	}
	var cm *corev1.ConfigMap
	for _, c := range cms {
		cm = c
	}
	if !strings.HasPrefix(cm.Name, "hookline-config-") {
		t.Errorf("ConfigMap %s: want the generated hookline-config-<hash>, so a change rolls the pods", cm.Name)
	}
	checkEnvNames(t, ov.name+" ConfigMap", slices.Collect(maps.Keys(cm.Data)), known)
	if got := cm.Data["HOOKLINE_STREAM_REPLICAS"]; got != ov.streamReplicas {
		t.Errorf("HOOKLINE_STREAM_REPLICAS = %q, want %q", got, ov.streamReplicas)
	}
	if got := cm.Data["NATS_URL"]; got != "nats://nats:4222" {
		t.Errorf("NATS_URL = %q, want nats://nats:4222 (the Service of the NATS chart or the dev StatefulSet)", got)
	}
	for _, k := range []string{"HOOKLINE_LOG_LEVEL", "HOOKLINE_DUPLICATE_WINDOW", "HOOKLINE_STREAM_MAX_AGE"} {
		if cm.Data[k] == "" {
			t.Errorf("ConfigMap lacks %s", k)
		}
	}
	for k := range cm.Data {
		if strings.Contains(k, "SECRET") || k == "REDIS_URL" {
			t.Errorf("ConfigMap holds %s: it belongs in the Secret", k)
		}
	}
	return cm
}

func checkDeployments(t *testing.T, m *manifests, ov overlay, cm *corev1.ConfigMap, known map[string]bool) {
	t.Helper()
	deps := workloads(t, m)
	if got := slices.Sorted(maps.Keys(deps)); !slices.Equal(got, []string{"dispatcher", "ingress", "worker"}) {
		t.Fatalf("workloads = %v, want dispatcher, ingress, worker", got)
	}
	secrets := of[corev1.Secret](m)
	if !ov.ownSecret && len(secrets) > 0 {
		t.Errorf("%s renders Secrets %v: its secrets come from the cluster, no placeholder may overwrite them",
			ov.name, slices.Collect(maps.Keys(secrets)))
	}
	for _, name := range services {
		d := deps[name]
		t.Run("deployment/"+name, func(t *testing.T) {
			pod := d.template.Spec
			sel, err := metav1.LabelSelectorAsSelector(d.selector)
			if err != nil {
				t.Fatalf("selector: %v", err)
			}
			if !sel.Matches(labels.Set(d.template.Labels)) {
				t.Errorf("selector %s does not match the pod labels %v", sel, d.template.Labels)
			}
			if len(pod.Containers) != 1 || pod.Containers[0].Name != name {
				t.Fatalf("want one container named %s", name)
			}
			c := pod.Containers[0]

			if want := "hookline/" + name + ":" + ov.imageTag; c.Image != want {
				t.Errorf("image = %q, want %q", c.Image, want)
			}

			// Ports and the addresses the process listens on.
			admin := containerPort(c, "admin")
			if admin != int32(adminPorts[name]) {
				t.Errorf("container port admin = %d, want %d", admin, adminPorts[name])
			}
			env := plainEnv(c)
			if want := fmt.Sprintf(":%d", adminPorts[name]); env["HOOKLINE_ADMIN_ADDR"] != want {
				t.Errorf("HOOKLINE_ADMIN_ADDR = %q, want %q", env["HOOKLINE_ADMIN_ADDR"], want)
			}
			if name == "ingress" {
				if p := containerPort(c, "http"); p != int32(publicPort) {
					t.Errorf("container port http = %d, want %d", p, publicPort)
				}
				if env["HOOKLINE_HTTP_ADDR"] != fmt.Sprintf(":%d", publicPort) {
					t.Errorf("HOOKLINE_HTTP_ADDR = %q", env["HOOKLINE_HTTP_ADDR"])
				}
			}

			// Probes on the admin port: liveness /healthz, readiness /readyz.
			checkProbe(t, "readinessProbe", c.ReadinessProbe, "/readyz")
			checkProbe(t, "livenessProbe", c.LivenessProbe, "/healthz")

			// Resources: requests (the HPA's CPU target is relative to them) and a memory limit.
			req, lim := c.Resources.Requests, c.Resources.Limits
			if req.Cpu().IsZero() || req.Memory().IsZero() {
				t.Errorf("resources.requests = %v: cpu and memory are required", req)
			}
			if lim.Memory().IsZero() {
				t.Errorf("resources.limits.memory is not set")
			} else if lim.Memory().Cmp(*req.Memory()) < 0 {
				t.Errorf("memory limit %s is below the request %s", lim.Memory(), req.Memory())
			}

			checkRestricted(t, pod, c)

			// Configuration: the shared ConfigMap, the Secret, and only names the services read.
			if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
				t.Errorf("envFrom = %+v, want the ConfigMap %s", c.EnvFrom, cm.Name)
			}
			var names []string
			for _, e := range c.Env {
				names = append(names, e.Name)
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				if ref.Key != e.Name {
					t.Errorf("env %s reads Secret key %s: keep the key equal to the variable", e.Name, ref.Key)
				}
				if ov.ownSecret {
					s, ok := secrets[ref.Name]
					if !ok {
						t.Errorf("env %s: Secret %s is not rendered", e.Name, ref.Name)
					} else if len(s.Data[ref.Key]) == 0 {
						t.Errorf("env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
					}
				} else if ref.Name != "hookline-secrets" {
					t.Errorf("env %s reads Secret %s, want hookline-secrets (created outside the overlay)", e.Name, ref.Name)
				}
			}
			checkEnvNames(t, ov.name+" "+d.kind+" "+name, names, known)
			wantSecrets := map[string][]string{
				"ingress":    {"HOOKLINE_BUNJANG_SECRETS", "HOOKLINE_JWT_SECRET", "HOOKLINE_PETSTORE_SECRETS"},
				"worker":     {"REDIS_URL"},
				"dispatcher": {"HOOKLINE_CALLBACK_SECRET"},
			}[name]
			if got := secretEnv(c); !slices.Equal(got, wantSecrets) {
				t.Errorf("variables from the Secret = %v, want %v", got, wantSecrets)
			}
		})
	}
}

func checkProbe(t *testing.T, what string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: want an httpGet probe on %s", what, path)
		return
	}
	if p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString("admin") {
		t.Errorf("%s = GET %s on port %s, want GET %s on port admin", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
	}
}

// checkRestricted checks what the restricted Pod Security Standard asks of a pod.
func checkRestricted(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod securityContext.runAsNonRoot is not true")
	}
	if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		t.Errorf("pod runs as user 0")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile is not RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken is not false")
	}
	csc := c.SecurityContext
	if csc == nil {
		t.Errorf("container %s has no securityContext", c.Name)
		return
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Errorf("container %s: capabilities do not drop ALL", c.Name)
	}
}

func checkServices(t *testing.T, m *manifests) {
	t.Helper()
	svcs := of[corev1.Service](m)
	deps := workloads(t, m)
	for _, name := range services {
		s, ok := svcs[name]
		if !ok {
			t.Errorf("no Service %s", name)
			continue
		}
		if !maps.Equal(s.Spec.Selector, deps[name].selector.MatchLabels) {
			t.Errorf("Service %s selects %v, the %s's pods are %v", name, s.Spec.Selector, deps[name].kind, deps[name].selector.MatchLabels)
		}
		metrics := servicePort(s, "metrics")
		if metrics == nil || metrics.TargetPort != intstr.FromString("admin") || metrics.Port != int32(adminPorts[name]) {
			t.Errorf("Service %s: want a port named metrics, %d → admin, for a ServiceMonitor; ports %+v", name, adminPorts[name], s.Spec.Ports)
		}
		if name == "ingress" {
			if http := servicePort(s, "http"); http == nil || http.TargetPort != intstr.FromString("http") {
				t.Errorf("Service ingress: want a port named http → http; ports %+v", s.Spec.Ports)
			}
		}
	}
}

func checkAutoscalers(t *testing.T, m *manifests, ov overlay) {
	t.Helper()
	hpas := of[autoscalingv2.HorizontalPodAutoscaler](m)
	deps := workloads(t, m)
	var targets []string
	for name, h := range hpas {
		ref := h.Spec.ScaleTargetRef
		targets = append(targets, ref.Name)
		if w, ok := deps[ref.Name]; !ok || ref.Kind != w.kind || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA %s targets %s %s %s, which is not a rendered workload", name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < ov.minHPAReplicas || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			t.Errorf("HPA %s: minReplicas %v, maxReplicas %d; want %d ≤ min ≤ max", name, h.Spec.MinReplicas, h.Spec.MaxReplicas, ov.minHPAReplicas)
		}
		if len(h.Spec.Metrics) == 0 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			t.Errorf("HPA %s: want a CPU utilization metric", name)
		}
		if r := deps[ref.Name].replicas; r != nil {
			t.Errorf("%s %s sets replicas %d although HPA %s owns the count: every apply would reset it", deps[ref.Name].kind, ref.Name, *r, name)
		}
	}
	slices.Sort(targets)
	if ov.keda {
		// The worker and the dispatcher are KEDA's (checkScaledObjects).
		if !slices.Equal(targets, []string{"ingress"}) {
			t.Errorf("HPAs target %v, want only ingress: a ScaledObject scales the worker", targets)
		}
		return
	}
	if !slices.Equal(targets, []string{"ingress", "worker"}) {
		t.Errorf("HPAs target %v, want ingress and worker", targets)
	}
	if r := deps["dispatcher"].replicas; r == nil || *r < 1 {
		t.Errorf("dispatcher replicas = %v, want at least 1", r)
	}
}

func checkDisruptionBudgets(t *testing.T, m *manifests) {
	t.Helper()
	pdbs := of[policyv1.PodDisruptionBudget](m)
	for name, d := range workloads(t, m) {
		var covered int
		for _, p := range pdbs {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil {
				t.Errorf("PDB %s: %v", p.Name, err)
				continue
			}
			if sel.Matches(labels.Set(d.template.Labels)) {
				covered++
				if p.Spec.MaxUnavailable == nil && p.Spec.MinAvailable == nil {
					t.Errorf("PDB %s sets neither maxUnavailable nor minAvailable", p.Name)
				}
			}
		}
		if covered != 1 {
			t.Errorf("%s %s is covered by %d PodDisruptionBudgets, want 1", d.kind, name, covered)
		}
	}
}

func checkServiceMonitor(t *testing.T, m *manifests, ov overlay) {
	t.Helper()
	sms := of[serviceMonitor](m)
	if !ov.serviceMonitor {
		if len(sms) > 0 {
			t.Errorf("%s renders ServiceMonitors but is not meant to", ov.name)
		}
		return
	}
	if len(sms) != 1 {
		t.Fatalf("ServiceMonitors = %d, want 1", len(sms))
	}
	for _, sm := range sms {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatalf("ServiceMonitor selector: %v", err)
		}
		for _, svc := range of[corev1.Service](m) {
			_, hookline := adminPorts[svc.Name]
			if sel.Matches(labels.Set(svc.Labels)) != hookline {
				t.Errorf("ServiceMonitor %s: selects Service %s = %v, want %v", sm.Name, svc.Name, !hookline, hookline)
			}
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor %s endpoints = %+v, want port metrics, path /metrics", sm.Name, sm.Spec.Endpoints)
		}
	}
}

// The dev overlay brings its own single-node NATS and Redis; the URLs the services get must
// reach them.
func TestKustomizeDevDependencies(t *testing.T) {
	m := mustRender(t, "overlays/dev")
	sts := of[appsv1.StatefulSet](m)
	svcs := of[corev1.Service](m)

	nats, redis := sts["nats"], sts["redis"]
	if nats == nil || redis == nil {
		t.Fatalf("StatefulSets = %v, want nats and redis", slices.Collect(maps.Keys(sts)))
	}
	for _, s := range []*appsv1.StatefulSet{nats, redis} {
		if len(s.Spec.Template.Spec.Containers) != 1 {
			t.Fatalf("StatefulSet %s: want one container", s.Name)
		}
	}
	natsArgs := strings.Join(append(slices.Clone(nats.Spec.Template.Spec.Containers[0].Command), nats.Spec.Template.Spec.Containers[0].Args...), " ")
	for _, want := range []string{"--jetstream", "--store_dir /data", "--http_port 8222"} {
		if !strings.Contains(natsArgs, want) {
			t.Errorf("nats runs %q, lacking %q", natsArgs, want)
		}
	}
	redisArgs := strings.Join(redis.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(redisArgs, "--appendonly yes") {
		t.Errorf("redis runs %q: AOF (--appendonly yes) is off", redisArgs)
	}
	for _, s := range []*appsv1.StatefulSet{nats, redis} {
		c := s.Spec.Template.Spec.Containers[0]
		if len(s.Spec.VolumeClaimTemplates) != 1 || len(c.VolumeMounts) != 1 ||
			c.VolumeMounts[0].Name != s.Spec.VolumeClaimTemplates[0].Name || c.VolumeMounts[0].MountPath != "/data" {
			t.Errorf("StatefulSet %s: want its volume claim mounted at /data", s.Name)
		}
		if c.ReadinessProbe == nil || c.LivenessProbe == nil {
			t.Errorf("StatefulSet %s: want readiness and liveness probes", s.Name)
		}
		if svc := svcs[s.Spec.ServiceName]; svc == nil || !maps.Equal(svc.Spec.Selector, s.Spec.Selector.MatchLabels) {
			t.Errorf("StatefulSet %s: its Service %s is missing or selects other pods", s.Name, s.Spec.ServiceName)
		}
		checkRestricted(t, s.Spec.Template.Spec, c)
	}

	// NATS_URL and REDIS_URL name a rendered Service and one of its ports.
	var cm *corev1.ConfigMap
	for _, c := range of[corev1.ConfigMap](m) {
		cm = c
	}
	var secret *corev1.Secret
	for _, s := range of[corev1.Secret](m) {
		secret = s
	}
	if cm == nil || secret == nil {
		t.Fatal("the dev overlay renders no ConfigMap or no Secret")
	}
	for _, u := range []string{cm.Data["NATS_URL"], string(secret.Data["REDIS_URL"])} {
		requireServiceFor(t, svcs, u)
	}
	// The dev secrets are visibly development values.
	for k, v := range secret.Data {
		if strings.Contains(k, "SECRET") && !strings.HasPrefix(string(v), "dev-") {
			t.Errorf("dev Secret %s = %q: want a dev- value, so nobody mistakes it for a real one", k, v)
		}
	}
}

func requireServiceFor(t *testing.T, svcs map[string]*corev1.Service, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("URL %q: %v", raw, err)
		return
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Errorf("URL %q has no host:port: %v", raw, err)
		return
	}
	svc := svcs[host]
	if svc == nil {
		t.Errorf("URL %q: no Service %s", raw, host)
		return
	}
	for _, p := range svc.Spec.Ports {
		if fmt.Sprint(p.Port) == port {
			return
		}
	}
	t.Errorf("URL %q: Service %s has no port %s", raw, host, port)
}

// The acceptance criterion: a misspelt field anywhere in the manifests fails the test. Each case
// changes one spot of a copy of base/, components/ and overlays/, renders the overlay and must
// fail naming the field.
func TestKustomizeRejectsMisspeltFields(t *testing.T) {
	cases := []struct {
		name, overlay, file, old, new, wantErr string
	}{
		{"probe in the base", "overlays/dev", "base/worker.yaml", "readinessProbe:", "readinessProbes:", `unknown field "spec.template.spec.containers[0].readinessProbes"`},
		{"field in a patch", "overlays/prod", "overlays/prod/scale.yaml", "  minReplicas: 3", "  minReplica: 3", `unknown field "spec.minReplica"`},
		{"field in a dev patch", "overlays/dev", "overlays/dev/autoscaling.yaml", "  replicas: 1", "  replica: 1", `unknown field "spec.replica"`},
		{"wrong case", "overlays/prod", "base/dispatcher.yaml", "livenessProbe:", "LivenessProbe:", `LivenessProbe`},
		{"autoscaler field", "overlays/dev", "base/ingress.yaml", "averageUtilization: 70", "averageUtilisation: 70", `averageUtilisation`},
		{"disruption budget field", "overlays/prod", "base/dispatcher.yaml", "  maxUnavailable: 1\n  selector:", "  maxUnavailble: 1\n  selector:", `unknown field "spec.maxUnavailble"`},
		{"resource name", "overlays/prod", "overlays/prod/scale.yaml", "              memory: 512Mi", "              memroy: 512Mi", `unknown resource "memroy"`},
		{"dev StatefulSet field", "overlays/dev", "overlays/dev/redis.yaml", "volumeClaimTemplates:", "volumeClaimTemplate:", `volumeClaimTemplate`},
		{"ServiceMonitor field", "overlays/prod", "components/monitoring/servicemonitor.yaml", "scrapeTimeout:", "scrapTimeout:", `unknown field "spec.endpoints[0].scrapTimeout"`},
		{"ScaledObject field", "overlays/prod", "components/keda/scaledobjects.yaml", "  minReplicaCount: 3", "  minReplicasCount: 3", `unknown field "spec.minReplicasCount"`},
		{"ScaledObject nested field", "overlays/prod", "components/keda/scaledobjects.yaml", "    failureThreshold: 3", "    failureTreshold: 3", `unknown field "spec.fallback.failureTreshold"`},
		{"scaler metadata key", "overlays/prod", "components/keda/scaledobjects.yaml", "        lagThreshold:", "        lagTreshold:", `unknown metadata key "lagTreshold"`},
		{"scaler type", "overlays/prod", "components/keda/scaledobjects.yaml", "type: nats-jetstream", "type: nats-jetsteam", `type "nats-jetsteam"`},
		{"scaler threshold value", "overlays/prod", "components/keda/scaledobjects.yaml", `lagThreshold: "25000"`, `lagThreshold: "25k"`, `lagThreshold = "25k"`},
		{"unknown kind", "overlays/prod", "base/serviceaccount.yaml", "kind: ServiceAccount", "kind: ServiceAcount", `unknown kind`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyManifests(t)
			path := filepath.Join(root, tc.file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), tc.old) {
				t.Fatalf("%s no longer contains %q: update this case", tc.file, tc.old)
			}
			mutated := strings.Replace(string(src), tc.old, tc.new, 1)
			if err := os.WriteFile(path, []byte(mutated), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = render(filepath.Join(root, tc.overlay))
			if err == nil {
				t.Fatalf("%s with %q rendered and decoded without error", tc.overlay, tc.new)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error does not name %q:\n%v", tc.wantErr, err)
			}
			t.Logf("rejected as expected: %v", err)
		})
	}

	// The unchanged copies render, so the failures above come from the mutations.
	root := copyManifests(t)
	for _, ov := range overlays {
		if _, err := render(filepath.Join(root, ov.dir)); err != nil {
			t.Fatalf("an unchanged copy of %s does not render: %v", ov.dir, err)
		}
	}
}

// copyManifests copies base/, components/ and overlays/ into a temporary directory, keeping their
// relative layout (the overlays refer to ../../base).
func copyManifests(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"base", "components", "overlays"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			dst := filepath.Join(root, path)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		})
		if err != nil {
			t.Fatalf("copy %s: %v", dir, err)
		}
	}
	return root
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func servicePort(s *corev1.Service, name string) *corev1.ServicePort {
	for i := range s.Spec.Ports {
		if s.Spec.Ports[i].Name == name {
			return &s.Spec.Ports[i]
		}
	}
	return nil
}

// plainEnv returns the container's variables with literal values.
func plainEnv(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

// secretEnv returns, sorted, the container's variables read from a Secret.
func secretEnv(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			out = append(out, e.Name)
		}
	}
	slices.Sort(out)
	return out
}

// workload is the Deployment or StatefulSet that runs one of the services.
type workload struct {
	kind     string
	selector *metav1.LabelSelector
	template corev1.PodTemplateSpec
	replicas *int32
	sts      *appsv1.StatefulSet // set for a StatefulSet
}

// workloads returns the services' workloads by name; a service run twice fails the test.
func workloads(t *testing.T, m *manifests) map[string]workload {
	t.Helper()
	out := map[string]workload{}
	for n, d := range of[appsv1.Deployment](m) {
		out[n] = workload{kind: "Deployment", selector: d.Spec.Selector, template: d.Spec.Template, replicas: d.Spec.Replicas}
	}
	for n, s := range of[appsv1.StatefulSet](m) {
		if _, service := adminPorts[n]; !service {
			continue // the dev overlay's NATS and Redis
		}
		if _, dup := out[n]; dup {
			t.Fatalf("%s is both a Deployment and a StatefulSet", n)
		}
		out[n] = workload{kind: "StatefulSet", selector: s.Spec.Selector, template: s.Spec.Template, replicas: s.Spec.Replicas, sts: s}
	}
	return out
}

// checkSpool: in prod the ingress is a StatefulSet with a persistent volume per pod for the
// outage spool, mounted at HOOKLINE_SPOOL_DIR and kept when the set scales down or is deleted.
func checkSpool(t *testing.T, m *manifests, ov overlay) {
	t.Helper()
	w := workloads(t, m)["ingress"]
	env := plainEnv(w.template.Spec.Containers[0])
	if !ov.spool {
		if env["HOOKLINE_SPOOL_DIR"] != "" || w.kind != "Deployment" {
			t.Errorf("%s: ingress is a %s with HOOKLINE_SPOOL_DIR %q, want a Deployment without a spool", ov.name, w.kind, env["HOOKLINE_SPOOL_DIR"])
		}
		return
	}
	if w.sts == nil {
		t.Fatalf("%s: ingress is a %s, want a StatefulSet (a volume per pod for the spool)", ov.name, w.kind)
	}
	dir := env["HOOKLINE_SPOOL_DIR"]
	if dir == "" {
		t.Fatalf("%s: ingress has no HOOKLINE_SPOOL_DIR", ov.name)
	}
	if v := env["HOOKLINE_SPOOL_MAX_BYTES"]; v != "" && v != "1073741824" {
		t.Errorf("HOOKLINE_SPOOL_MAX_BYTES = %q: keep it matched to the claim size below", v)
	}
	var claim *corev1.PersistentVolumeClaim
	for i := range w.sts.Spec.VolumeClaimTemplates {
		if c := &w.sts.Spec.VolumeClaimTemplates[i]; c.Name == "spool" {
			claim = c
		}
	}
	if claim == nil {
		t.Fatalf("ingress StatefulSet has no volumeClaimTemplate named spool")
	}
	if !slices.Equal(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("spool claim access modes = %v, want ReadWriteOnce", claim.Spec.AccessModes)
	}
	if size := claim.Spec.Resources.Requests[corev1.ResourceStorage]; size.Value() < 1<<30 {
		t.Errorf("spool claim requests %s, want at least HOOKLINE_SPOOL_MAX_BYTES (1Gi)", size.String())
	}
	var mounted bool
	for _, vm := range w.template.Spec.Containers[0].VolumeMounts {
		if vm.Name == "spool" && vm.MountPath == dir && !vm.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("the spool claim is not mounted read-write at HOOKLINE_SPOOL_DIR %s", dir)
	}
	for _, v := range w.template.Spec.Volumes {
		if v.Name == "spool" {
			t.Errorf("pod volume spool shadows the claim template (an emptyDir would lose the spool with the pod)")
		}
	}
	if psc := w.template.Spec.SecurityContext; psc == nil || psc.FSGroup == nil || psc.RunAsUser == nil || *psc.FSGroup != *psc.RunAsUser {
		t.Errorf("pod fsGroup must be the ingress user so the spool volume is writable")
	}
	p := w.sts.Spec.PersistentVolumeClaimRetentionPolicy
	if p == nil || p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("claim retention = %+v, want Retain on scale-down and deletion (a claim may hold answered webhooks)", p)
	}
	if w.sts.Spec.ServiceName != "ingress" {
		t.Errorf("serviceName = %q, want ingress", w.sts.Spec.ServiceName)
	}
}
