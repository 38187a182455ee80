package deliver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/safedial"
)

var allowLoopback = safedial.Policy{AllowPrivate: true}

func TestHTTPSenderStatusAndRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != UserAgent || r.Header.Get("X-Test") != "yes" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	s := NewHTTPSender(2*time.Second, allowLoopback, 2)
	defer s.Close()
	resp := s.Send(context.Background(), srv.URL, []byte(`{}`), http.Header{"X-Test": {"yes"}})
	if resp.Status != http.StatusTooManyRequests || !resp.HasRetryAfter || resp.RetryAfter != 7*time.Second {
		t.Fatalf("got %+v, want 429 with Retry-After 7s", resp)
	}
}

func TestHTTPSenderDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	s := NewHTTPSender(2*time.Second, allowLoopback, 2)
	resp := s.Send(context.Background(), srv.URL, []byte(`{}`), http.Header{})
	if resp.Status != http.StatusTemporaryRedirect || followed.Load() != 0 {
		t.Fatalf("status %d, redirect target hit %d times; want 307 and 0", resp.Status, followed.Load())
	}
}

func TestHTTPSenderTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := NewHTTPSender(200*time.Millisecond, allowLoopback, 2)
	resp := s.Send(context.Background(), srv.URL+"/cb?token=s3cr3t", []byte(`{}`), http.Header{})
	if !resp.Timeout || resp.Status != 0 || resp.Err == nil {
		t.Fatalf("got %+v, want a timeout", resp)
	}
	if strings.Contains(resp.Err.Error(), "s3cr3t") || strings.Contains(resp.Err.Error(), srv.URL) {
		t.Fatalf("error text %q names the URL", resp.Err)
	}
}

func TestHTTPSenderRefusesForbiddenAtDial(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	tests := []struct{ name, url string }{
		{"loopback literal", srv.URL},
		{"name resolving to loopback", "http://localhost:" + port + "/cb"},
		{"ipv6 loopback", "http://[::1]:" + port + "/cb"},
		{"private", "http://10.0.0.1/cb"},
		{"metadata", "http://169.254.169.254/latest/meta-data/"},
	}
	s := NewHTTPSender(2*time.Second, safedial.Policy{}, 2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.Send(context.Background(), tt.url, []byte(`{}`), http.Header{})
			if !resp.Forbidden || resp.Status != 0 {
				t.Fatalf("got %+v, want refused at dial", resp)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("receiver hit %d times", hits.Load())
	}
}

func TestFirstForbiddenNamesTheAddress(t *testing.T) {
	inner := fmt.Errorf("%w: 10.0.0.1:80 is private", safedial.ErrForbidden)
	tests := []struct {
		name string
		give error
		want string
	}{
		{"inside url and op errors", &url.Error{Op: "Post", URL: "http://cb.example/secret-path",
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: inner}}, inner.Error()},
		{"wrapped again by a resolver", fmt.Errorf("cb.example resolves to a refused address: %w", inner), inner.Error()},
		{"the sentinel alone", safedial.ErrForbidden, safedial.ErrForbidden.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstForbidden(tt.give); got.Error() != tt.want {
				t.Fatalf("firstForbidden = %q, want %q", got, tt.want)
			}
		})
	}
}
