package app

import (
	"errors"
	"net/http"
	"testing"

	"github.com/hookline/hookline/pkg/config"
)

// The client address is the TCP peer unless the peer is a listed trusted proxy; loopback and
// private peers are not trusted implicitly.
func TestClientIP(t *testing.T) {
	tests := []struct {
		name    string
		trusted string
		peer    string
		xff     string
		want    string
	}{
		{"no proxies: forwarded-for ignored", "", "10.0.0.7:5000", "203.0.113.9", "10.0.0.7"},
		{"loopback peer not trusted implicitly", "10.0.0.0/8", "127.0.0.1:5000", "203.0.113.9", "127.0.0.1"},
		{"trusted proxy: client from forwarded-for", "10.0.0.0/8", "10.0.0.7:5000", "203.0.113.9", "203.0.113.9"},
		{"spoofed left entry skipped", "10.0.0.0/8", "10.0.0.7:5000", "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		{"chain of trusted proxies", "10.0.0.0/8", "10.0.0.7:5000", "203.0.113.9, 10.1.1.1", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOOKLINE_TRUSTED_PROXIES": tt.trusted}
			cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{RemoteAddr: tt.peer, Header: http.Header{"X-Forwarded-For": {tt.xff}}}
			if got := clientIP(cfg.TrustedProxies)(req); got != tt.want {
				t.Errorf("client address %q, want %q", got, tt.want)
			}
		})
	}
	_, err := LoadConfig(func(k string) (string, bool) {
		return map[string]string{"HOOKLINE_TRUSTED_PROXIES": "10.0.0.0/8,nope"}[k], k == "HOOKLINE_TRUSTED_PROXIES"
	})
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("invalid HOOKLINE_TRUSTED_PROXIES: err %v, want config.ErrInvalid", err)
	}
}
