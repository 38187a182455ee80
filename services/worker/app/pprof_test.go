package app

import (
	"net/http"
	"strings"
	"testing"
)

func TestLoadSettingsPprof(t *testing.T) {
	tests := []struct {
		give envMap
		want bool
	}{
		{envMap{}, false},
		{envMap{EnvPprof: "true"}, true},
		{envMap{EnvPprof: "1"}, true},
		{envMap{EnvPprof: "false"}, false},
	}
	for _, tt := range tests {
		got, err := LoadSettings(tt.give.lookup)
		if err != nil {
			t.Fatalf("LoadSettings(%v): %v", tt.give, err)
		}
		if got.Pprof != tt.want {
			t.Errorf("LoadSettings(%v).Pprof = %t, want %t", tt.give, got.Pprof, tt.want)
		}
	}
	if _, err := LoadSettings(envMap{EnvPprof: "perhaps"}.lookup); err == nil || !strings.Contains(err.Error(), EnvPprof) {
		t.Fatalf("LoadSettings(%s=perhaps) = %v, want an error naming it", EnvPprof, err)
	}
}

// TestIntegrationPprof: /debug/pprof is on the worker's admin port only with HOOKLINE_PPROF.
func TestIntegrationPprof(t *testing.T) {
	e := newEnv(t, false)
	off := e.startWorker(e.config())
	on := e.startWorker(e.config(func(c *Config) { c.Worker.Pprof = true }))
	paths := []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"}
	for _, path := range paths {
		if code, _ := off.get(t, path, nil); code != http.StatusNotFound {
			t.Errorf("GET %s without %s: %d, want 404", path, EnvPprof, code)
		}
		code, body := on.get(t, path, nil)
		if code != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s with %s: %d (%d bytes), want 200 with a body", path, EnvPprof, code, len(body))
		}
	}
	if _, body := on.get(t, "/debug/pprof/goroutine?debug=1", nil); !strings.Contains(string(body), "goroutine profile: total") {
		t.Errorf("GET /debug/pprof/goroutine?debug=1 is not a goroutine profile: %.300s", body)
	}
	for _, w := range []*worker{off, on} {
		if code, _ := w.get(t, "/healthz", nil); code != http.StatusOK {
			t.Errorf("GET /healthz: %d, want 200", code)
		}
	}
}
