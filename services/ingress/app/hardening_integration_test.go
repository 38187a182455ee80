package app_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	petstoresig "github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/ingress/app"
	"go.uber.org/zap"
)

// smallPayload is the test server's max_payload; the default body limit (1 MiB) is lowered to
// it less the 4 KiB header reserve.
const (
	smallPayload = 64 << 10
	fitLimit     = smallPayload - 4096
)

// paddedPetstore is a signed petstore webhook whose body is exactly size bytes.
func paddedPetstore(t *testing.T, id string, size int) request {
	t.Helper()
	base := petstoreBody(id, time.Now())
	pad := size - len(base) - len(`,"pad":""`)
	if pad < 0 {
		t.Fatalf("size %d is under the bare body's %d bytes", size, len(base))
	}
	body := append(base[:len(base)-1:len(base)-1], []byte(`,"pad":"`+strings.Repeat("x", pad)+`"}`)...)
	if len(body) != size {
		t.Fatalf("padded body is %d bytes, want %d", len(body), size)
	}
	return request{path: "/webhooks/petstore", body: body,
		headers: map[string]string{petstoresig.HeaderSignature: petstoresig.Sign([]byte(petSecret), body)}}
}

// Issue 10 item 2: with the default limit and a server whose max_payload is smaller, the limit is
// lowered to what the server can store with the headers: a body of exactly that size is stored,
// one byte more is 413 and nothing is stored (Content-Length and chunked alike), never a 503.
func TestIngressBodyLimitFitsMaxPayload(t *testing.T) {
	n := testkit.StartNATSWith(t, testkit.NATSOptions{MaxPayload: smallPayload})
	in := startIngress(t, n, map[string]string{"HOOKLINE_MAX_BODY_BYTES": ""}) // the default 1 MiB
	tests := []struct {
		name       string
		size       int
		chunked    bool
		wantStatus int
	}{
		{"exactly the limit", fitLimit, false, 200},
		{"one byte over", fitLimit + 1, false, 413},
		{"exactly the limit, chunked", fitLimit, true, 200},
		{"one byte over, chunked", fitLimit + 1, true, 413},
		{"the server's max_payload", smallPayload, false, 413},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.count()
			r := paddedPetstore(t, fmt.Sprintf("evt-size-%d", i), tt.size)
			r.chunked = tt.chunked
			resp, body := in.do(r)
			want := uint64(0)
			if tt.wantStatus == 200 {
				want = 1
				if resp.StatusCode != 200 {
					t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
				}
				msgs := in.messages()
				if !bytes.Equal(msgs[len(msgs)-1].Data, r.body) {
					t.Errorf("stored body differs from the %d bytes sent", len(r.body))
				}
			} else {
				assertProblem(t, resp, body, tt.wantStatus, "payload_too_large")
			}
			if got := in.count() - before; got != want {
				t.Errorf("stored %d messages, want %d", got, want)
			}
		})
	}
}

// Issue 10 item 2: an explicitly configured limit over what the server can store stops the start
// with one error naming both numbers.
func TestIngressRefusesBodyLimitOverMaxPayload(t *testing.T) {
	n := testkit.StartNATSWith(t, testkit.NATSOptions{MaxPayload: smallPayload})
	env := map[string]string{"NATS_URL": n.URL, "HOOKLINE_HTTP_ADDR": "127.0.0.1:0", "HOOKLINE_ADMIN_ADDR": "127.0.0.1:0",
		"HOOKLINE_PETSTORE_SECRETS": petSecret, "HOOKLINE_MAX_BODY_BYTES": strconv.Itoa(fitLimit + 1)}
	cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = app.Run(ctx, cfg, zap.NewNop())
	if !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("Run = %v, want a configuration error", err)
	}
	for _, num := range []int{fitLimit + 1, fitLimit, smallPayload} {
		if !strings.Contains(err.Error(), strconv.Itoa(num)) || !strings.Contains(err.Error(), "HOOKLINE_MAX_BODY_BYTES") {
			t.Errorf("error %q does not name HOOKLINE_MAX_BODY_BYTES and %d", err, num)
		}
	}

	env["HOOKLINE_MAX_BODY_BYTES"] = strconv.Itoa(fitLimit) // exactly what fits: starts
	in := startIngress(t, n, map[string]string{"HOOKLINE_MAX_BODY_BYTES": strconv.Itoa(fitLimit)})
	if resp, body := in.do(paddedPetstore(t, "evt-fits", fitLimit)); resp.StatusCode != 200 {
		t.Fatalf("body of the configured limit: %d %s", resp.StatusCode, body)
	}
}

// Issue 10 item 4: a body that trickles in slower than the read timeout is answered 503
// unavailable with Retry-After and the connection closed, a status providers retry, never a
// 400; nothing is stored.
func TestIngressSlowBodyIsRetryable(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, map[string]string{"HOOKLINE_READ_TIMEOUT": "1s"})
	r := petstore("evt-slow", "")
	addr := strings.TrimPrefix(in.url, "http://")
	sig := r.headers[petstoresig.HeaderSignature]
	tests := []struct {
		name string
		head string
		body []byte
	}{
		{"content-length", fmt.Sprintf("POST /webhooks/petstore HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
			petstoresig.HeaderSignature, sig, len(r.body)), r.body},
		{"chunked", fmt.Sprintf("POST /webhooks/petstore HTTP/1.1\r\nHost: x\r\n%s: %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n",
			petstoresig.HeaderSignature, sig, len(r.body)), r.body},
	}
	before := in.count()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := testkit.Trickle(t, addr, tt.head, tt.body, 300*time.Millisecond)
			assertProblem(t, resp, body, 503, "unavailable")
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
			}
			if !resp.Close {
				t.Errorf("connection kept open after a timed-out read")
			}
		})
	}
	if got := in.count(); got != before {
		t.Errorf("stored %d messages from bodies never received", got-before)
	}
}

// delayProxy forwards TCP to target; while delay is set, every chunk from the server to the
// client waits that long (a slow PubAck).
type delayProxy struct {
	ln     net.Listener
	target string
	delay  atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startDelayProxy(t *testing.T, target string) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *delayProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(s, c); _ = s.Close() }()
		go func() {
			defer p.wg.Done()
			defer c.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 {
					time.Sleep(time.Duration(p.delay.Load()))
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func (p *delayProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Issue 10 item 5: a client that hangs up right after its body, while the PubAck is slow: the
// message is stored once and the ingress counts the true outcome (200), not a 503.
func TestIngressClientGoneAfterBodyCountsTrueOutcome(t *testing.T) {
	n := testkit.StartNATS(t)
	proxy := startDelayProxy(t, fmt.Sprintf("127.0.0.1:%d", n.Port))
	in := startIngress(t, n, map[string]string{"NATS_URL": "nats://" + proxy.ln.Addr().String(), "HOOKLINE_PUBLISH_TIMEOUT": "5s"})
	before := in.count()
	proxy.delay.Store(int64(500 * time.Millisecond))
	r := petstore("evt-hangup", "")
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("POST /webhooks/petstore HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
		petstoresig.HeaderSignature, r.headers[petstoresig.HeaderSignature], len(r.body))
	if _, err := conn.Write(append([]byte(head), r.body...)); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()

	deadline := time.Now().Add(20 * time.Second)
	var ok200, got503 float64
	for time.Now().Before(deadline) {
		ok200, got503 = requestsCounted(t, in.admin, "200"), requestsCounted(t, in.admin, "503")
		if ok200+got503 > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	proxy.delay.Store(0)
	if ok200 != 1 || got503 != 0 {
		t.Errorf("counted %v answers 200 and %v answers 503, want one 200", ok200, got503)
	}
	if got := in.count() - before; got != 1 {
		t.Errorf("stored %d messages, want 1", got)
	}
}

// requestsCounted reads hookline_ingress_requests_total for petstore/default with status.
func requestsCounted(t *testing.T, admin, status string) float64 {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := `hookline_ingress_requests_total{provider="petstore",status="` + status + `",tenant="default"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", sc.Text(), err)
			}
			return f
		}
	}
	return 0
}

// clientFrom is an HTTP client whose connections come from the loopback address ip.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func bogus(r request) request {
	r.headers[petstoresig.HeaderSignature] = petstoresig.Sign([]byte("not-the-secret"), r.body)
	return r
}

// Issue 10 item 6: requests that fail verification do not use up the tenant's budget (limit
// 2/s: two bogus, then the valid one is stored).
func TestIngressRateLimitCountsOnlyVerified(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, map[string]string{"HOOKLINE_RATE_LIMIT_RPS": "2", "HOOKLINE_RATE_LIMIT_BURST": "2"})
	for i := range 2 {
		resp, body := in.do(bogus(petstore(fmt.Sprintf("evt-bogus-%d", i), "")))
		assertProblem(t, resp, body, 401, "invalid_signature")
	}
	if resp, body := in.do(petstore("evt-real", "")); resp.StatusCode != 200 {
		t.Fatalf("valid request after two bogus ones: %d %s, want 200", resp.StatusCode, body)
	}
}

// Issue 10 item 6: failed verifications are limited per client address (the TCP peer; a
// forwarded-for header is not believed without HOOKLINE_TRUSTED_PROXIES): past the burst they
// get 429 with Retry-After, while a valid request from another address is stored.
func TestIngressFailedVerificationsLimitedPerAddress(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, map[string]string{"HOOKLINE_FAILED_VERIFY_RPS": "0.01", "HOOKLINE_FAILED_VERIFY_BURST": "3"})
	for i := range 3 {
		resp, body := in.do(bogus(petstore(fmt.Sprintf("evt-bogus-%d", i), "")))
		assertProblem(t, resp, body, 401, "invalid_signature")
	}
	for i := range 5 {
		r := bogus(petstore(fmt.Sprintf("evt-bogus-more-%d", i), ""))
		r.headers["X-Forwarded-For"] = fmt.Sprintf("198.51.100.%d", i+1) // not believed
		resp, body := in.do(r)
		assertProblem(t, resp, body, 429, "rate_limited")
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
		}
	}
	other := clientFrom("127.0.0.2")
	defer other.CloseIdleConnections()
	in2 := *in
	in2.client = other
	before := in.count()
	if resp, body := in2.do(petstore("evt-valid-other-addr", "")); resp.StatusCode != 200 {
		t.Fatalf("valid request from another address: %d %s, want 200", resp.StatusCode, body)
	}
	if got := in.count() - before; got != 1 {
		t.Errorf("stored %d, want 1", got)
	}
}
