package deliver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hookline/hookline/pkg/safedial"
)

// UserAgent is sent with every callback.
const UserAgent = "Hookline-Dispatcher/1"

// Response is the outcome of one HTTP attempt.
type Response struct {
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// RetryAfter is the parsed Retry-After header; ok false when absent.
	RetryAfter    time.Duration
	HasRetryAfter bool
	// Err is set when no response arrived; its text names no URL, so it is safe to log and store.
	Err error
	// Timeout reports that Err is the attempt timing out.
	Timeout bool
	// Forbidden reports that the SSRF guard refused the resolved address.
	Forbidden bool
}

// Sender makes one HTTP attempt.
type Sender interface {
	Send(ctx context.Context, url string, body []byte, header http.Header) Response
}

// HTTPSender posts with a client whose dialer refuses forbidden addresses and which never follows
// redirects or uses a proxy.
type HTTPSender struct {
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
}

var _ Sender = (*HTTPSender)(nil)

// NewHTTPSender returns a sender with the given per-attempt timeout and SSRF policy.
// maxPerHost bounds idle connections kept per host.
func NewHTTPSender(timeout time.Duration, policy safedial.Policy, maxPerHost int) *HTTPSender {
	dialer := policy.Dialer(min(timeout, 10*time.Second))
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us and bypass the guard
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   max(maxPerHost, 1),
		IdleConnTimeout:       90 * time.Second,
	}
	return &HTTPSender{
		client: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		timeout: timeout,
		now:     time.Now,
	}
}

// Close drops idle connections.
func (s *HTTPSender) Close() { s.client.CloseIdleConnections() }

// Send implements Sender.
func (s *HTTPSender) Send(ctx context.Context, url string, body []byte, header http.Header) Response {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Response{Err: errors.New("cannot build the request")}
	}
	req.Header = header.Clone()
	req.Header.Set("User-Agent", UserAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return describe(err, s.timeout)
	}
	defer resp.Body.Close()
	// Read a little of the body so the connection can be reused; the content does not matter.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // a broken body changes nothing
	r := Response{Status: resp.StatusCode}
	r.RetryAfter, r.HasRetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), s.now())
	return r
}

// describe turns a client error into a Response whose error text holds no URL (a callback URL
// may carry a token in its query).
func describe(err error, timeout time.Duration) Response {
	var ue interface{ Unwrap() error }
	inner := err
	if errors.As(err, &ue) {
		if u := ue.Unwrap(); u != nil {
			inner = u
		}
	}
	var ne net.Error
	switch {
	case errors.Is(err, safedial.ErrForbidden):
		return Response{Err: fmt.Errorf("dial refused: %w", firstForbidden(err)), Forbidden: true}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return Response{Err: fmt.Errorf("no response within %s", timeout), Timeout: true}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return Response{Err: fmt.Errorf("host %s not found", dnsErr.Name)}
		}
		return Response{Err: fmt.Errorf("resolve %s: %s", dnsErr.Name, dnsErr.Err)}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return Response{Err: fmt.Errorf("network: %s: %w", op.Op, op.Err)}
	}
	return Response{Err: fmt.Errorf("request failed: %w", inner)}
}

// firstForbidden returns the safedial error inside err, the one wrapping ErrForbidden itself (it
// names the address, not the URL).
func firstForbidden(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.Unwrap(e) == safedial.ErrForbidden { //nolint:errorlint // the wrapper itself, not a match
			return e
		}
	}
	return safedial.ErrForbidden
}
