// Package admin serves each service's admin port: GET /healthz (alive), GET /readyz (every
// dependency check passes: 200, else 503 naming what is down) and GET /metrics (Prometheus text).
// Services may mount more routes, such as the worker's order query API.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Check reports a dependency's health; nil means reachable.
type Check func(ctx context.Context) error

// Degraded marks a check failure that leaves the process ready because a fallback stands in
// (the ingress's outage spool for NATS): /readyz stays 200 and lists it under "degraded".
func Degraded(err error) error { return degradedError{err} }

type degradedError struct{ err error }

func (d degradedError) Error() string { return d.err.Error() }
func (d degradedError) Unwrap() error { return d.err }

func isDegraded(err error) bool {
	var d degradedError
	return errors.As(err, &d)
}

// Server is the admin HTTP server.
type Server struct {
	log      *zap.Logger
	mux      *http.ServeMux
	registry *prometheus.Registry

	mu     sync.RWMutex
	checks map[string]Check
}

// New returns a server with a fresh registry holding the Go and process collectors.
func New(log *zap.Logger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{log: log, mux: http.NewServeMux(), registry: reg, checks: map[string]Check{}}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s
}

// EnablePprof mounts net/http/pprof under /debug/pprof/ (opt-in: HOOKLINE_PPROF=true).
func (s *Server) EnablePprof() {
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// Registry is where the service registers its metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Handle mounts h on pattern (net/http ServeMux syntax, e.g. "GET /v1/orders/{provider}/{id}").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AddCheck adds a readiness check under name.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Ready runs every check and returns what is down, keyed by check name (degraded checks
// included).
func (s *Server) Ready(ctx context.Context) map[string]string {
	down, degraded := s.status(ctx)
	for n, msg := range degraded {
		down[n] = msg
	}
	return down
}

// status runs every check: what is down, and what is degraded (failing, with a fallback).
func (s *Server) status(ctx context.Context) (down, degraded map[string]string) {
	s.mu.RLock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	down, degraded = map[string]string{}, map[string]string{}
	for _, n := range names {
		s.mu.RLock()
		c := s.checks[n]
		s.mu.RUnlock()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c(cctx)
		cancel()
		switch {
		case err == nil:
		case isDegraded(err):
			degraded[n] = err.Error()
		default:
			down[n] = err.Error()
		}
	}
	return down, degraded
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	down, degraded := s.status(r.Context())
	switch {
	case len(down) > 0:
		body := map[string]any{"status": "unavailable", "down": down}
		if len(degraded) > 0 {
			body["degraded"] = degraded
		}
		writeJSON(w, http.StatusServiceUnavailable, body)
	case len(degraded) > 0:
		writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "degraded": degraded})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// Handler returns the admin routes, for tests.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves on ln until ctx ends, then shuts down within 5 s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("admin shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin serve: %w", err)
	}
	return nil
}

// WriteJSON writes v with status; shared by the routes services mount here.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing left to tell it
}
