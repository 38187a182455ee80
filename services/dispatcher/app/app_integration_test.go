package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/dispatcher/internal/deliver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

const callbackSecret = "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ=="

// attempt is one request a receiver saw.
type attempt struct {
	at     time.Time
	body   []byte
	header http.Header
}

// receiver is an httptest callback endpoint answering from a script.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	attempts []attempt
	inflight int
	maxIn    int
	answer   func(n int, w http.ResponseWriter, r *http.Request) // n is 1-based
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.attempts = append(rc.attempts, attempt{at: time.Now(), body: body, header: r.Header.Clone()})
		n := len(rc.attempts)
		rc.inflight++
		rc.maxIn = max(rc.maxIn, rc.inflight)
		answer := rc.answer
		rc.mu.Unlock()
		defer func() {
			rc.mu.Lock()
			rc.inflight--
			rc.mu.Unlock()
		}()
		answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) setAnswer(a func(n int, w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = a
}

func (rc *receiver) got() []attempt {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]attempt(nil), rc.attempts...)
}

func (rc *receiver) maxInFlight() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.maxIn
}

func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// script answers attempt n with codes[n-1], the last one repeating.
func script(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(codes[min(n, len(codes))-1]) }
}

// harness runs the dispatcher against a test NATS server.
type harness struct {
	t      *testing.T
	nats   *testkit.NATS
	js     jetstream.JetStream
	cfg    Config
	admin  string
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	n := testkit.StartNATS(t)
	_, js := n.Conn(t)
	vars := map[string]string{"NATS_URL": n.URL}
	for k, v := range env {
		vars[k] = v
	}
	h := &harness{t: t, nats: n, js: js, cfg: testConfig(t, vars)}
	h.start()
	t.Cleanup(h.stop)
	return h
}

// testConfig is the dispatcher's configuration for tests: fast retries, private hosts allowed,
// and env on top.
func testConfig(t *testing.T, env map[string]string) Config {
	t.Helper()
	vars := map[string]string{
		"HOOKLINE_CALLBACK_SECRET":        callbackSecret,
		"HOOKLINE_CALLBACK_RETRY_DELAYS":  "200ms,200ms,200ms",
		"HOOKLINE_CALLBACK_ALLOW_PRIVATE": "true",
		"HOOKLINE_CALLBACK_TIMEOUT":       "2s",
		"HOOKLINE_CALLBACK_RETRY_JITTER":  "0.2",
	}
	for k, v := range env {
		vars[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	base, err := config.Load(lookup, config.Defaults{AdminAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := NewConfig(base, lookup)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start runs the dispatcher and waits until it is ready.
func (h *harness) start() {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := h.cfg
	cfg.AdminListener = ln
	h.admin = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	log := zaptest.NewLogger(h.t, zaptest.Level(zap.WarnLevel))
	go func() { h.done <- Run(ctx, cfg, log) }()
	eventually(h.t, 15*time.Second, "dispatcher ready", func() bool { return h.get("/readyz") == http.StatusOK })
}

// stop ends the dispatcher and checks Run returned cleanly.
func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		h.t.Errorf("Run did not return after cancel")
	}
}

func (h *harness) get(path string) int {
	resp, err := http.Get(h.admin + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) metrics() string {
	resp, err := http.Get(h.admin + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// publish stores a callback request the way the ingress does.
func (h *harness) publish(orderID, callbackURL string) streams.CallbackRequest {
	h.t.Helper()
	req := streams.CallbackRequest{
		OrderID: orderID, TenantID: "default", Amount: "738.05", Currency: "USD",
		Timestamp: "1758613403", CallbackURL: callbackURL,
		ReceivedAt: time.Now().UTC().Format(streams.ReceivedAtLayout),
	}
	data, err := json.Marshal(req)
	if err != nil {
		h.t.Fatal(err)
	}
	msg := nats.NewMsg(streams.CallbackSubject("default"))
	msg.Data = data
	msg.Header.Set(streams.HeaderOrderID, orderID)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.js.PublishMsg(ctx, msg, jetstream.WithMsgID(streams.CallbackMsgID("default", orderID, req.Timestamp))); err != nil {
		h.t.Fatal(err)
	}
	return req
}

func (h *harness) dlq() []*jetstream.RawStreamMsg {
	h.t.Helper()
	ctx := context.Background()
	s, err := h.js.Stream(ctx, streams.DLQ)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err == nil {
			out = append(out, m)
		}
	}
	return out
}

// settled reports whether the dispatcher has nothing pending: every callback acked or termed.
func (h *harness) settled() bool {
	c, err := h.js.Consumer(context.Background(), streams.Callbacks, streams.ConsumerDispatcher)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumAckPending == 0 && info.NumPending == 0
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// never fails if cond becomes true within d.
func never(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIntegrationDeliversSignedCallback(t *testing.T) {
	h := newHarness(t, nil)
	rc := newReceiver(t, status(http.StatusNoContent))
	req := h.publish("ord-1", rc.URL+"/hooks/orders")

	eventually(t, 10*time.Second, "one delivery", func() bool { return len(rc.got()) == 1 })
	a := rc.got()[0]
	var ev struct {
		EventID   string `json:"eventId"`
		EventType string `json:"eventType"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			OrderID          string `json:"orderId"`
			Amount           string `json:"amount"`
			Currency         string `json:"currency"`
			RequestTimestamp string `json:"requestTimestamp"`
		} `json:"data"`
	}
	if err := json.Unmarshal(a.body, &ev); err != nil {
		t.Fatalf("body %s: %v", a.body, err)
	}
	if ev.EventType != "order.processed" || ev.Data.OrderID != "ord-1" || ev.Data.Amount != "738.05" ||
		ev.Data.Currency != "USD" || ev.Data.RequestTimestamp != req.Timestamp {
		t.Fatalf("body %s does not carry the request", a.body)
	}
	if ev.EventID != streams.CallbackEventID("default", "ord-1", req.Timestamp) {
		t.Errorf("eventId %s is not the id the ingress answered", ev.EventID)
	}
	if _, err := time.Parse(time.RFC3339, ev.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", ev.Timestamp, err)
	}
	mac := hmac.New(sha256.New, []byte(callbackSecret))
	mac.Write(a.body)
	if got := a.header.Get("X-Webhook-Signature"); got != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("X-Webhook-Signature %q does not verify", got)
	}
	if got := a.header.Get("webhook-id"); got != ev.EventID {
		t.Errorf("webhook-id %q, want eventId %q", got, ev.EventID)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(callbackSecret, "whsec_"))
	mac = hmac.New(sha256.New, key)
	mac.Write([]byte(ev.EventID + "." + a.header.Get("webhook-timestamp") + "." + string(a.body)))
	if got := a.header.Get("webhook-signature"); got != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("webhook-signature %q does not verify", got)
	}
	eventually(t, 5*time.Second, "callback acked", h.settled)
	if m := h.metrics(); !strings.Contains(m, `hookline_dispatcher_attempts_total{outcome="delivered",status_class="2xx"} 1`) {
		t.Errorf("metrics lack the delivered attempt:\n%s", grep(m, "hookline_dispatcher_attempts_total"))
	}
}

func TestIntegrationRetriesUntilSuccess(t *testing.T) {
	h := newHarness(t, nil)
	rc := newReceiver(t, script(503, 503, 200))
	h.publish("ord-2", rc.URL)
	eventually(t, 15*time.Second, "three attempts", func() bool { return len(rc.got()) >= 3 })
	eventually(t, 5*time.Second, "callback acked", h.settled)
	never(t, 1500*time.Millisecond, "a fourth attempt after success", func() bool { return len(rc.got()) > 3 })
	got := rc.got()
	if got[0].header.Get("webhook-id") != got[2].header.Get("webhook-id") || string(got[0].body) != string(got[2].body) {
		t.Fatalf("retry carries another id or body")
	}
	if d := h.dlq(); len(d) != 0 {
		t.Fatalf("DLQ holds %d messages, want 0", len(d))
	}
}

func TestIntegrationHonoursRetryAfter(t *testing.T) {
	h := newHarness(t, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h.publish("ord-3", rc.URL)
	eventually(t, 15*time.Second, "second attempt", func() bool { return len(rc.got()) >= 2 })
	got := rc.got()
	if gap := got[1].at.Sub(got[0].at); gap < 2*time.Second {
		t.Fatalf("retried %s after a 429 with Retry-After: 2", gap)
	}
	eventually(t, 5*time.Second, "callback acked", h.settled)
}

func TestIntegrationStopsOnGoneAndPermanent(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		wantReason string
	}{
		{"410 gone", http.StatusGone, deliver.ReasonGone},
		{"400 permanent", http.StatusBadRequest, deliver.ReasonPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			rc := newReceiver(t, status(tt.status))
			req := h.publish("ord-4", rc.URL)
			eventually(t, 10*time.Second, "a DLQ entry", func() bool { return len(h.dlq()) == 1 })
			never(t, time.Second, "a second attempt", func() bool { return len(rc.got()) > 1 })
			if n := len(rc.got()); n != 1 {
				t.Fatalf("%d attempts, want 1", n)
			}
			d := h.dlq()[0]
			wantHeaders := map[string]string{
				streams.HeaderDLQReason:     tt.wantReason,
				streams.HeaderDLQLastStatus: fmt.Sprint(tt.status),
				streams.HeaderDLQAttempts:   "1",
				streams.HeaderOrderID:       "ord-4",
			}
			for k, v := range wantHeaders {
				if got := d.Header.Get(k); got != v {
					t.Errorf("DLQ header %s = %q, want %q", k, got, v)
				}
			}
			if d.Subject != "dlq.callbacks.default" || d.Header.Get(streams.HeaderDLQError) == "" {
				t.Errorf("DLQ subject %q error %q", d.Subject, d.Header.Get(streams.HeaderDLQError))
			}
			var back streams.CallbackRequest
			if err := json.Unmarshal(d.Data, &back); err != nil || back.CallbackURL != req.CallbackURL {
				t.Errorf("DLQ body %s is not the original request", d.Data)
			}
			eventually(t, 5*time.Second, "callback settled", h.settled)
		})
	}
}

func TestIntegrationExhaustedGoesToDLQ(t *testing.T) {
	h := newHarness(t, map[string]string{"HOOKLINE_CALLBACK_RETRY_DELAYS": "100ms,100ms"})
	rc := newReceiver(t, status(http.StatusInternalServerError))
	h.publish("ord-5", rc.URL)
	eventually(t, 15*time.Second, "a DLQ entry", func() bool { return len(h.dlq()) == 1 })
	never(t, time.Second, "an attempt after exhaustion", func() bool { return len(rc.got()) > 3 })
	if n := len(rc.got()); n != 3 {
		t.Fatalf("%d attempts, want 3 (first + 2 retries)", n)
	}
	d := h.dlq()[0]
	if d.Header.Get(streams.HeaderDLQReason) != deliver.ReasonExhausted || d.Header.Get(streams.HeaderDLQAttempts) != "3" ||
		d.Header.Get(streams.HeaderDLQLastStatus) != "500" {
		t.Fatalf("DLQ headers %v", d.Header)
	}
}

func TestIntegrationSlowReceiverIsRetriedNotDuplicated(t *testing.T) {
	h := newHarness(t, map[string]string{
		"HOOKLINE_CALLBACK_TIMEOUT":      "500ms",
		"HOOKLINE_DISPATCHER_ACK_WAIT":   "3s",
		"HOOKLINE_CALLBACK_RETRY_DELAYS": "1s,1s",
	})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select { // slower than the timeout: the dispatcher hangs up first
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h.publish("ord-6", rc.URL)
	eventually(t, 15*time.Second, "the retry", func() bool { return len(rc.got()) >= 2 })
	eventually(t, 5*time.Second, "callback acked", h.settled)
	never(t, time.Second, "a third attempt", func() bool { return len(rc.got()) > 2 })
	if m := rc.maxInFlight(); m != 1 {
		t.Fatalf("receiver saw %d attempts in parallel, want 1", m)
	}
}

func TestIntegrationSSRFRefusedAtDial(t *testing.T) {
	h := newHarness(t, map[string]string{"HOOKLINE_CALLBACK_ALLOW_PRIVATE": "false"})
	rc := newReceiver(t, status(http.StatusOK))
	port := rc.URL[strings.LastIndex(rc.URL, ":")+1:]
	urls := []string{
		rc.URL + "/cb",                            // 127.0.0.1
		"http://localhost:" + port + "/cb",        // a name resolving to loopback
		"http://[::1]:" + port + "/cb",            // IPv6 loopback
		"http://10.0.0.1/cb",                      // RFC 1918: refused before any packet leaves
		"http://169.254.169.254/latest/meta-data", // cloud metadata
	}
	for i, u := range urls {
		h.publish(fmt.Sprintf("ssrf-%d", i), u)
	}
	eventually(t, 15*time.Second, "every callback dead-lettered", func() bool { return len(h.dlq()) == len(urls) })
	for _, d := range h.dlq() {
		if d.Header.Get(streams.HeaderDLQReason) != deliver.ReasonForbidden || d.Header.Get(streams.HeaderDLQLastStatus) != "0" {
			t.Errorf("DLQ entry for %s: reason %q status %q", d.Header.Get(streams.HeaderOrderID),
				d.Header.Get(streams.HeaderDLQReason), d.Header.Get(streams.HeaderDLQLastStatus))
		}
	}
	if n := len(rc.got()); n != 0 {
		t.Fatalf("receiver on loopback was reached %d times", n)
	}
}

func TestIntegrationRestartMidScheduleLosesNothing(t *testing.T) {
	h := newHarness(t, map[string]string{"HOOKLINE_CALLBACK_RETRY_DELAYS": "2s,1s"})
	rc := newReceiver(t, script(503, 503, 200))
	h.publish("ord-7", rc.URL)
	eventually(t, 10*time.Second, "first attempt", func() bool { return len(rc.got()) == 1 })
	time.Sleep(200 * time.Millisecond) // let the first attempt be settled (nak with delay)
	h.stop()
	time.Sleep(3 * time.Second) // the retry falls due while the dispatcher is down
	if n := len(rc.got()); n != 1 {
		t.Fatalf("%d attempts while stopped", n)
	}
	h.start()
	eventually(t, 15*time.Second, "delivery after restart", func() bool { return len(rc.got()) >= 3 })
	eventually(t, 5*time.Second, "callback acked", h.settled)
	never(t, time.Second, "an extra attempt", func() bool { return len(rc.got()) > 3 })
	if d := h.dlq(); len(d) != 0 {
		t.Fatalf("DLQ holds %d messages, want 0", len(d))
	}
}

func TestIntegrationAttemptCountSurvivesRestart(t *testing.T) {
	h := newHarness(t, map[string]string{"HOOKLINE_CALLBACK_RETRY_DELAYS": "1s,500ms"})
	rc := newReceiver(t, status(http.StatusBadGateway))
	h.publish("ord-8", rc.URL)
	eventually(t, 10*time.Second, "first attempt", func() bool { return len(rc.got()) == 1 })
	time.Sleep(200 * time.Millisecond)
	h.stop()
	h.start()
	eventually(t, 15*time.Second, "a DLQ entry", func() bool { return len(h.dlq()) == 1 })
	if d := h.dlq()[0]; d.Header.Get(streams.HeaderDLQAttempts) != "3" || len(rc.got()) != 3 {
		t.Fatalf("DLQ says %s attempts, receiver saw %d; want 3 and 3", d.Header.Get(streams.HeaderDLQAttempts), len(rc.got()))
	}
}

func TestIntegrationBreakerHoldsMessagesBack(t *testing.T) {
	h := newHarness(t, map[string]string{
		"HOOKLINE_CALLBACK_RETRY_DELAYS":     "100ms,100ms,100ms,100ms,100ms,100ms",
		"HOOKLINE_CALLBACK_BREAKER_FAILURES": "2",
		"HOOKLINE_CALLBACK_BREAKER_COOLDOWN": "3s",
		"HOOKLINE_CALLBACK_HOST_CONCURRENCY": "1",
		"HOOKLINE_CALLBACK_HOST_BUSY_DELAY":  "100ms",
	})
	rc := newReceiver(t, status(http.StatusInternalServerError))
	for i := range 3 {
		h.publish(fmt.Sprintf("brk-%d", i), rc.URL)
	}
	eventually(t, 10*time.Second, "two failures", func() bool { return len(rc.got()) >= 2 })
	never(t, 1500*time.Millisecond, "an attempt while the breaker is open", func() bool { return len(rc.got()) > 2 })
	if m := h.metrics(); !strings.Contains(m, `hookline_dispatcher_breaker_hosts{state="open"} 1`) {
		t.Errorf("metrics do not show the open breaker:\n%s", grep(m, "hookline_dispatcher_breaker"))
	}
	rc.setAnswer(status(http.StatusOK))
	eventually(t, 20*time.Second, "all three delivered", func() bool {
		ok := 0
		for _, a := range rc.got() {
			if len(a.body) > 0 {
				ok++
			}
		}
		return h.settled() && ok >= 3
	})
	if d := h.dlq(); len(d) != 0 {
		t.Fatalf("DLQ holds %d messages: breaker deferrals must not drop callbacks", len(d))
	}
	if m := rc.maxInFlight(); m > 1 {
		t.Fatalf("%d requests in flight to one host, limit 1", m)
	}
}

func TestIntegrationHostConcurrencyLimit(t *testing.T) {
	h := newHarness(t, map[string]string{
		"HOOKLINE_CALLBACK_HOST_CONCURRENCY": "2",
		"HOOKLINE_CALLBACK_HOST_BUSY_DELAY":  "100ms",
	})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(150 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	for i := range 6 {
		h.publish(fmt.Sprintf("lim-%d", i), rc.URL)
	}
	eventually(t, 20*time.Second, "six deliveries", func() bool { return len(rc.got()) >= 6 && h.settled() })
	if m := rc.maxInFlight(); m > 2 {
		t.Fatalf("%d requests in flight to one host, limit 2", m)
	}
	if n := len(rc.got()); n != 6 {
		t.Fatalf("%d attempts for 6 callbacks", n)
	}
}

func TestIntegrationReadyzFollowsNATS(t *testing.T) {
	h := newHarness(t, nil)
	if got := h.get("/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz %d", got)
	}
	h.nats.Stop()
	eventually(t, 20*time.Second, "/readyz 503 with NATS down", func() bool { return h.get("/readyz") == http.StatusServiceUnavailable })
	h.nats.Start()
	eventually(t, 20*time.Second, "/readyz 200 after NATS returns", func() bool { return h.get("/readyz") == http.StatusOK })
	rc := newReceiver(t, status(http.StatusOK))
	h.publish("ord-9", rc.URL)
	eventually(t, 20*time.Second, "delivery after NATS returns", func() bool { return len(rc.got()) == 1 })
}

func TestRunRefusesBadConfig(t *testing.T) {
	base, err := config.Load(func(string) (string, bool) { return "", false }, config.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), Config{Config: base}, zap.NewNop())
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "HOOKLINE_CALLBACK_SECRET") {
		t.Fatalf("Run without a callback secret = %v", err)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
