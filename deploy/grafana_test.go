package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"
)

// exportedMetric is one metric family a Hookline service registers.
type exportedMetric struct {
	name string // fully qualified
	kind string // Counter, Gauge, Histogram, Summary
	dir  string // where it is defined, e.g. services/worker
}

// serviceMetrics finds every prometheus.<Kind>Opts literal in the non-test Go files under root's
// services/ and pkg/ and returns the metric families they define. The services build their
// metrics in internal packages this module cannot import, and a registry only shows a vector
// once a label set was observed, so the definitions are read from the source.
func serviceMetrics(t *testing.T, root string) []exportedMetric {
	t.Helper()
	var out []exportedMetric
	for _, top := range []string{"services", "pkg"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			dir := strings.Join(strings.Split(filepath.ToSlash(rel), "/")[:2], "/")
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				sel, ok := lit.Type.(*ast.SelectorExpr)
				if !ok || !isIdent(sel.X, "prometheus") || !strings.HasSuffix(sel.Sel.Name, "Opts") {
					return true
				}
				kind := strings.TrimSuffix(sel.Sel.Name, "Opts")
				if !slices.Contains([]string{"Counter", "Gauge", "Histogram", "Summary"}, kind) {
					return true
				}
				parts := map[string]string{}
				for _, e := range lit.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					key, _ := kv.Key.(*ast.Ident)
					val, ok := kv.Value.(*ast.BasicLit)
					if key == nil || !ok || val.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(val.Value)
					if err != nil {
						t.Fatalf("%s: %v", path, err)
					}
					parts[key.Name] = s
				}
				if parts["Name"] == "" {
					t.Fatalf("%s: a prometheus.%s without a literal Name: read it by hand here", path, sel.Sel.Name)
				}
				out = append(out, exportedMetric{
					name: prometheus.BuildFQName(parts["Namespace"], parts["Subsystem"], parts["Name"]),
					kind: kind, dir: dir,
				})
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// runtimeMetrics is what the Go and process collectors export, which pkg/admin registers on
// every service's registry (checked in its source).
func runtimeMetrics(t *testing.T, root string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "pkg", "admin", "admin.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"collectors.NewGoCollector(", "collectors.NewProcessCollector("} {
		if !strings.Contains(string(src), want) {
			t.Fatalf("pkg/admin/admin.go no longer calls %s: update the dashboard test", want)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}

// series are the names a PromQL query can use for a metric family of this kind.
func (m exportedMetric) series() []string {
	switch m.kind {
	case "Histogram":
		return []string{m.name + "_bucket", m.name + "_sum", m.name + "_count"}
	case "Summary":
		return []string{m.name, m.name + "_sum", m.name + "_count"}
	}
	return []string{m.name}
}

// dashboardQueries returns every PromQL expression of a Grafana dashboard: the panels' targets
// (rows' nested panels included) and the metric selectors of query variables (label_values).
func dashboardQueries(t *testing.T, raw []byte) []string {
	t.Helper()
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var exprs []string
	var walk func(ps []json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, p := range ps {
			var panel struct {
				Type    string            `json:"type"`
				Title   string            `json:"title"`
				Panels  []json.RawMessage `json:"panels"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			}
			if err := json.Unmarshal(p, &panel); err != nil {
				t.Fatalf("panel: %v", err)
			}
			if panel.Type != "row" && len(panel.Targets) == 0 {
				t.Errorf("panel %q has no query", panel.Title)
			}
			for _, tg := range panel.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has an empty query", panel.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(panel.Panels)
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Fatalf("variable %s: query %s", v.Name, v.Query)
			}
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(<selector>, <label>)", v.Name, q.Query)
		}
		exprs = append(exprs, m[1])
	}
	return exprs
}

// grafanaVars are Grafana's interval variables, replaced by a duration so the query parses.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// metricNames parses a PromQL expression and returns the metric names it selects.
func metricNames(expr string) ([]string, error) {
	e, err := promparser.NewParser(promparser.Options{}).ParseExpr(grafanaVars.Replace(expr))
	if err != nil {
		return nil, err
	}
	var names []string
	promparser.Inspect(e, func(n promparser.Node, _ []promparser.Node) error {
		vs, ok := n.(*promparser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if name == "" && m.Name == "__name__" && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		names = append(names, name) // "" (a regexp on __name__) is no exported metric

		return nil
	})
	return names, nil
}

// Issue 13, item 6: every query of the Grafana dashboard parses as PromQL and names only metrics
// the services really define (or the Go and process collectors every admin port serves), and
// every Hookline metric family appears on the dashboard.
func TestGrafanaDashboardQueriesNameExportedMetrics(t *testing.T) {
	root := ".."
	defined := serviceMetrics(t, root)
	perService := map[string]int{}
	exported := map[string]string{} // series name -> family
	for _, m := range defined {
		perService[m.dir]++
		for _, s := range m.series() {
			exported[s] = m.name
		}
	}
	for _, svc := range []string{"services/ingress", "services/worker", "services/dispatcher"} {
		if perService[svc] == 0 {
			t.Fatalf("found no metric defined under %s (found %v): the source scan is broken", svc, perService)
		}
	}
	for _, n := range runtimeMetrics(t, root) {
		exported[n] = n
	}

	raw, err := os.ReadFile(filepath.Join("grafana", "hookline.json"))
	if err != nil {
		t.Fatal(err)
	}
	exprs := dashboardQueries(t, raw)
	if len(exprs) < 10 {
		t.Fatalf("only %d queries found in the dashboard", len(exprs))
	}
	used := map[string]bool{}
	for _, expr := range exprs {
		names, err := metricNames(expr)
		if err != nil {
			t.Errorf("query %q: %v", expr, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("query %q selects no metric", expr)
		}
		for _, n := range names {
			fam, ok := exported[n]
			if !ok {
				t.Errorf("query %q: no service exports %s", expr, n)
				continue
			}
			used[fam] = true
		}
	}
	for _, m := range defined {
		if strings.HasPrefix(m.name, "hookline_") && !used[m.name] {
			t.Errorf("%s (%s, %s) is on no dashboard panel: add one to deploy/grafana/hookline.json", m.name, m.kind, m.dir)
		}
	}
}

// The query checker itself: names come from selectors (not functions, labels or strings), and a
// name no service exports is caught.
func TestMetricNames(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{`sum by (status) (rate(hookline_ingress_requests_total{provider=~"$provider"}[$__rate_interval]))`, []string{"hookline_ingress_requests_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(hookline_worker_end_to_end_seconds_bucket[5m])))`, []string{"hookline_worker_end_to_end_seconds_bucket"}},
		{`sum(increase(a_total[1h])) + sum(increase(b_total{kind="rate"}[1h]))`, []string{"a_total", "b_total"}},
		{`{__name__="go_goroutines"}`, []string{"go_goroutines"}},
		{`{__name__=~"go_.*"}`, []string{""}},
	}
	for _, tt := range tests {
		got, err := metricNames(tt.give)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
		}
	}
	if _, err := metricNames(`rate(foo[5m]`); err == nil {
		t.Error("an unbalanced query parsed")
	}
}
