package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRunExitCodes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"nats":"down"}`))
	})
	mux.HandleFunc("GET /moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/healthz", http.StatusFound)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A port nothing listens on: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	_ = ln.Close()

	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"200 is healthy", []string{srv.URL + "/healthz"}, exitHealthy, ""},
		{"204 is healthy", []string{srv.URL + "/empty"}, exitHealthy, ""},
		{"503 is unhealthy", []string{srv.URL + "/readyz"}, exitUnhealthy, "answered 503"},
		{"404 is unhealthy", []string{srv.URL + "/nothing"}, exitUnhealthy, "answered 404"},
		{"a redirect is not followed", []string{srv.URL + "/moved"}, exitUnhealthy, "answered 302"},
		{"timeout is unhealthy", []string{"-timeout", "100ms", srv.URL + "/slow"}, exitUnhealthy, "GET"},
		{"refused is unhealthy", []string{"http://" + closedAddr + "/healthz"}, exitUnhealthy, "GET"},
		{"no URL", nil, exitUsage, "usage"},
		{"two URLs", []string{srv.URL, srv.URL}, exitUsage, "usage"},
		{"not http", []string{"ftp://example.invalid/x"}, exitUsage, "http://"},
		{"no host", []string{"/readyz"}, exitUsage, "http://"},
		{"bad timeout", []string{"-timeout", "0s", srv.URL + "/healthz"}, exitUsage, "positive"},
		{"unknown flag", []string{"-nope", srv.URL}, exitUsage, "not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got := run(tc.args, &stderr)
			if got != tc.want {
				t.Fatalf("run(%q) = %d, want %d (stderr %q)", tc.args, got, tc.want, stderr.String())
			}
			if tc.wantErr != "" && !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("stderr %q does not mention %q", stderr.String(), tc.wantErr)
			}
			if tc.wantErr == "" && stderr.Len() > 0 {
				t.Fatalf("healthy check wrote to stderr: %q", stderr.String())
			}
		})
	}
}
