package main

// The bad-input harness (issue 10, acceptance 2): every row is a request a hostile or broken
// sender could make, sent to a RUNNING ingress and worker (in-process app.Run, real NATS and
// Redis from testkit). Each row asserts the contract's status and error code, and that nothing
// was half-stored or half-applied: for a refused request WEBHOOKS, CALLBACKS and ORDERS hold no
// new message, Redis holds no new key, and the DLQ stays empty; a row that is accepted (wantStored
// > 0) must be stored exactly that many times and handled by the worker without a dead letter.
//
// To add a case, add one row to badInputs: build its request with the helpers below (petstoreReq,
// bunjangReq, standardReq, callbackReq, or a request literal), or give `send` for a sequence of
// requests or a special client. Each row is sent from its own loopback address (127.0.1.N), so the
// per-address limit on failed verifications of one row never leaks into another.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	ingressapp "github.com/hookline/hookline/services/ingress/app"
	workerapp "github.com/hookline/hookline/services/worker/app"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

const (
	biPetSecret = "badinput-petstore-secret"
	biBunSecret = "badinput-bunjang-secret"
	biJWTSecret = "badinput-jwt-secret"
	biTenant    = "6f1c2a3b-4d5e-4f70-8a9b-0c1d2e3f4a5b"
	biLimited   = "0b7e6a2c-1111-4222-8333-944455566677" // rate limit 2/s, burst 2
	// biMaxBody is the body limit with NATS's default 1 MiB max_payload: the default 1 MiB less
	// the 4 KiB the ingress keeps for the message headers.
	biMaxBody = 1<<20 - 4096
)

var biStdSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("badinput-standard-webhooks-key32"))

// biRequest is one HTTP request of a row.
type biRequest struct {
	method  string // default POST
	path    string
	headers map[string]string
	body    []byte
	chunked bool // send without Content-Length
}

// biAnswer is what the pipeline answered.
type biAnswer struct {
	status int
	code   string // the JSON error body's code ("" when there is none)
	header http.Header
}

// badInput is one row of the harness.
type badInput struct {
	name string
	give biRequest
	// send replaces the plain send of give: sequences, slow or raw senders. c comes from the
	// row's own address.
	send       func(t *testing.T, p *biPipeline, c *http.Client) biAnswer
	wantStatus int
	wantCode   string // "" for answers without a contract error body (2xx, net/http's own 431)
	wantStored int    // new WEBHOOKS + CALLBACKS messages; 0 for every refused request
}

func badInputs(t *testing.T) []badInput {
	now := time.Now()
	fiveThousand := "t=" + strconv.FormatInt(now.Unix(), 10) + strings.Repeat(",v0="+strings.Repeat("ab", 32), 5000)
	nested := petstoreBodyWith("evt-nested", "ord-nested", `,"deep":`+strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000))
	return []badInput{
		// Signatures.
		{name: "petstore signature missing", give: unsigned(petstoreReq("evt-sig-1", "ord-sig-1")), wantStatus: 401, wantCode: "invalid_signature"},
		{name: "petstore signature not hex", give: withHeader(petstoreReq("evt-sig-2", "ord-sig-2"), petstore.HeaderSignature, "sha256=zz"), wantStatus: 401, wantCode: "invalid_signature"},
		{name: "petstore signature wrong secret", give: resigned(petstoreReq("evt-sig-3", "ord-sig-3"), "not-the-secret"), wantStatus: 401, wantCode: "invalid_signature"},
		{name: "petstore signature of another body", give: withBody(petstoreReq("evt-sig-4", "ord-sig-4"), petstoreBody("evt-sig-4", "ord-sig-4x")), wantStatus: 401, wantCode: "invalid_signature"},
		{name: "bunjang signature garbled", give: withHeader(bunjangReq("01K0AZRPB4N36H9NMDJRMYXM71", 401), bunjang.HeaderSignature, "t=abc,v0=zz"), wantStatus: 401, wantCode: "invalid_signature"},
		{name: "bunjang 5000 v0= entries", give: withHeader(bunjangReq("01K0AZRPB4N36H9NMDJRMYXM72", 402), bunjang.HeaderSignature, fiveThousand), wantStatus: 401, wantCode: "invalid_signature"},
		{name: "bunjang stale t", give: bunjangReqAt("01K0AZRPB4N36H9NMDJRMYXM73", 403, now.Add(-time.Hour)), wantStatus: 401, wantCode: "stale_timestamp"},
		{name: "standard signature not base64", give: withHeader(standardReq("msg_bad_sig"), standardwebhooks.HeaderSignature, "v1,!!!"), wantStatus: 401, wantCode: "invalid_signature"},
		// Sizes and shapes.
		{name: "headers over 1 MiB", give: withHeader(petstoreReq("evt-hdr", "ord-hdr"), "X-Padding", strings.Repeat("h", 1<<20+8192)), wantStatus: 431},
		{name: "100 000-level nesting", give: signedPetstore(nested), wantStatus: 400, wantCode: "malformed_payload"},
		{name: "body over the limit", give: paddedPetstoreReq(t, "evt-big-1", "ord-big-1", biMaxBody+1), wantStatus: 413, wantCode: "payload_too_large"},
		{name: "chunked body over the limit", give: chunked(paddedPetstoreReq(t, "evt-big-2", "ord-big-2", biMaxBody+1)), wantStatus: 413, wantCode: "payload_too_large"},
		{name: "chunked body far over the limit", give: chunked(paddedPetstoreReq(t, "evt-big-3", "ord-big-3", 3<<20)), wantStatus: 413, wantCode: "payload_too_large"},
		{name: "not JSON", give: signedPetstore([]byte(`{"eventId": nope`)), wantStatus: 400, wantCode: "malformed_payload"},
		// Tenants and paths.
		{name: "unknown tenant", give: withHeader(petstoreReq("evt-ten-1", "ord-ten-1"), "X-Tenant-ID", "11111111-2222-4333-8444-555555555555"), wantStatus: 404, wantCode: "unknown_tenant"},
		{name: "tenant with a subject wildcard", give: withHeader(petstoreReq("evt-ten-2", "ord-ten-2"), "X-Tenant-ID", "default.>"), wantStatus: 404, wantCode: "unknown_tenant"},
		{name: "tenant path traversal", give: withHeader(petstoreReq("evt-ten-3", "ord-ten-3"), "X-Tenant-ID", "../"+biTenant), wantStatus: 404, wantCode: "unknown_tenant"},
		{name: "provider not configured for tenant", give: withHeader(bunjangReq("01K0AZRPB4N36H9NMDJRMYXM74", 404), "X-Tenant-ID", biTenant), wantStatus: 404, wantCode: "unknown_provider"},
		{name: "unknown provider", give: withPath(petstoreReq("evt-path-1", "ord-path-1"), "/webhooks/nope"), wantStatus: 404, wantCode: "unknown_provider"},
		{name: "provider in upper case", give: withPath(petstoreReq("evt-path-2", "ord-path-2"), "/webhooks/PETSTORE"), wantStatus: 404, wantCode: "unknown_provider"},
		{name: "provider with a subject wildcard", give: withPath(petstoreReq("evt-path-3", "ord-path-3"), "/webhooks/%3E"), wantStatus: 404, wantCode: "unknown_provider"},
		{name: "encoded slash in provider", give: withPath(petstoreReq("evt-path-4", "ord-path-4"), "/webhooks/petstore%2F..%2Fbunjang"), wantStatus: 404, wantCode: "unknown_provider"},
		{name: "extra path segment", give: withPath(petstoreReq("evt-path-5", "ord-path-5"), "/webhooks/petstore/x"), wantStatus: 404, wantCode: "unknown_provider"},
		{name: "GET on the webhook route", give: withMethod(petstoreReq("evt-path-6", "ord-path-6"), http.MethodGet), wantStatus: 405, wantCode: "method_not_allowed"},
		// Callbacks.
		{name: "callback without a token", give: unsignedCallback(callbackReq(t, "ord-cb-1")), wantStatus: 401, wantCode: "invalid_token"},
		{name: "callback body over the limit", give: withBody(callbackReq(t, "ord-cb-2"), bytes.Repeat([]byte(" "), biMaxBody+1)), wantStatus: 413, wantCode: "payload_too_large"},
		// Issue 10 item 2: the body limit fits NATS's max_payload with the headers.
		{name: "body of exactly the limit is stored", give: paddedPetstoreReq(t, "evt-limit", "ord-limit", biMaxBody), wantStatus: 200, wantStored: 1},
		{name: "chunked body of exactly the limit is stored", give: chunked(paddedPetstoreReq(t, "evt-limit-c", "ord-limit-c", biMaxBody)), wantStatus: 200, wantStored: 1},
		// Issue 10 item 4: a body slower than the read timeout (1s here) is retryable.
		{name: "body at one byte per 300ms", send: slowSend(petstoreReq("evt-slow", "ord-slow")), wantStatus: 503, wantCode: "unavailable"},
		// Issue 10 item 6: failed verifications do not spend the tenant's budget, and are limited
		// per address.
		{name: "two bogus then the provider's own, limit 2/s", send: bogusThenValid, wantStatus: 200, wantStored: 1},
		{name: "bogus flood from one address, then a valid one from another", send: bogusFlood, wantStatus: 429, wantCode: "rate_limited", wantStored: 1},
	}
}

// TestBadInputs runs every row against one running ingress and worker.
func TestBadInputs(t *testing.T) {
	p := startBIPipeline(t)
	for i, tt := range badInputs(t) {
		t.Run(tt.name, func(t *testing.T) {
			c := p.clientFrom(fmt.Sprintf("127.0.1.%d", i+1))
			defer c.CloseIdleConnections()
			before := p.snapshot(t)
			var got biAnswer
			if tt.send != nil {
				got = tt.send(t, p, c)
			} else {
				got = p.do(t, c, tt.give)
			}
			if got.status != tt.wantStatus || got.code != tt.wantCode {
				t.Errorf("got %d %q, want %d %q", got.status, got.code, tt.wantStatus, tt.wantCode)
			}
			if tt.wantStatus == 429 || tt.wantStatus == 503 {
				if ra, err := strconv.Atoi(got.header.Get("Retry-After")); err != nil || ra < 1 {
					t.Errorf("Retry-After %q, want whole seconds >= 1", got.header.Get("Retry-After"))
				}
			}
			p.waitWorkerIdle(t)
			after := p.snapshot(t)
			if stored := after.webhooks + after.callbacks - before.webhooks - before.callbacks; stored != uint64(tt.wantStored) {
				t.Errorf("stored %d messages, want %d", stored, tt.wantStored)
			}
			if after.dlq != 0 {
				t.Errorf("DLQ holds %d messages", after.dlq)
			}
			if tt.wantStored == 0 {
				if after.orders != before.orders || after.redisKeys != before.redisKeys {
					t.Errorf("refused, yet ORDERS went %d→%d and Redis keys %d→%d",
						before.orders, after.orders, before.redisKeys, after.redisKeys)
				}
			}
		})
	}
}

// biPipeline is an ingress and a worker running in-process.
type biPipeline struct {
	ingress, workerAdmin string
	js                   jetstream.JetStream
	rdb                  *redis.Client
}

func startBIPipeline(t *testing.T) *biPipeline {
	t.Helper()
	n := testkit.StartNATS(t)
	r := testkit.StartRedis(t)
	tenants := fmt.Sprintf(`tenants:
  - id: default
  - id: %s
    providers:
      petstore: {secrets: ["%s"]}
  - id: %s
    rateLimit: {rps: 2, burst: 2}
    providers:
      petstore: {secrets: ["%s"]}
sources:
  - name: acme
    tenant: default
    secrets: ["%s"]
`, biTenant, biPetSecret, biLimited, biPetSecret, biStdSecret)
	file := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(file, []byte(tenants), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"NATS_URL": n.URL, "REDIS_URL": r.URL,
		"HOOKLINE_HTTP_ADDR": "127.0.0.1:0", "HOOKLINE_ADMIN_ADDR": "127.0.0.1:0",
		"HOOKLINE_PETSTORE_SECRETS": biPetSecret, "HOOKLINE_BUNJANG_SECRETS": biBunSecret,
		"HOOKLINE_JWT_SECRET": biJWTSecret, "HOOKLINE_CALLBACK_ALLOW_PRIVATE": "true",
		"HOOKLINE_CONFIG": file, "HOOKLINE_READ_TIMEOUT": "1s",
		"HOOKLINE_FAILED_VERIFY_RPS": "0.01", "HOOKLINE_FAILED_VERIFY_BURST": "5",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	icfg, err := ingressapp.LoadConfig(lookup)
	if err != nil {
		t.Fatalf("ingress config: %v", err)
	}
	wcfg, err := workerapp.LoadConfig(lookup)
	if err != nil {
		t.Fatalf("worker config: %v", err)
	}
	wln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wcfg.AdminListener = wln
	addrs := make(chan net.Addr, 1)
	icfg.OnListen = func(pub, _ net.Addr) { addrs <- pub }

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, run := range []func(context.Context) error{
		func(ctx context.Context) error { return ingressapp.Run(ctx, icfg, zap.NewNop()) },
		func(ctx context.Context) error { return workerapp.Run(ctx, wcfg, zap.NewNop()) },
	} {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("service stopped with: %v", err)
			}
		}
	})
	p := &biPipeline{workerAdmin: "http://" + wln.Addr().String(), rdb: r.Client(t)}
	select {
	case a := <-addrs:
		p.ingress = "http://" + a.String()
	case err := <-errs:
		t.Fatalf("a service exited at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("ingress did not start")
	}
	_, p.js = n.Conn(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.workerAdmin + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("worker not ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// clientFrom is an HTTP client whose connections come from the loopback address ip.
func (p *biPipeline) clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func (p *biPipeline) do(t *testing.T, c *http.Client, r biRequest) biAnswer {
	t.Helper()
	var body io.Reader = bytes.NewReader(r.body)
	if r.chunked {
		body = io.MultiReader(body) // no length known: Transfer-Encoding: chunked
	}
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, p.ingress+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, r.path, err)
	}
	defer resp.Body.Close()
	return answerOf(t, resp)
}

func answerOf(t *testing.T, resp *http.Response) biAnswer {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	a := biAnswer{status: resp.StatusCode, header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && resp.StatusCode >= 400 {
		var e struct{ Code, Message string }
		if err := json.Unmarshal(b, &e); err != nil || e.Message == "" {
			t.Errorf("error body %q is not the contract's {code, message}: %v", b, err)
		}
		a.code = e.Code
		for _, secret := range []string{biPetSecret, biBunSecret, biStdSecret, biJWTSecret} {
			if strings.Contains(string(b), secret) {
				t.Errorf("error body leaks a secret: %s", b)
			}
		}
	}
	return a
}

type biState struct {
	webhooks, callbacks, orders, dlq uint64
	redisKeys                        int64
}

func (p *biPipeline) snapshot(t *testing.T) biState {
	t.Helper()
	count := func(name string) uint64 {
		s, err := p.js.Stream(context.Background(), name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatalf("stream %s info: %v", name, err)
		}
		return info.State.Msgs
	}
	keys, err := p.rdb.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatalf("redis dbsize: %v", err)
	}
	return biState{webhooks: count(streams.Webhooks), callbacks: count(streams.Callbacks),
		orders: count(streams.Orders), dlq: count(streams.DLQ), redisKeys: keys}
}

// waitWorkerIdle waits until the worker has handled (acked) every stored webhook.
func (p *biPipeline) waitWorkerIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := p.js.Consumer(context.Background(), streams.Webhooks, streams.ConsumerWorker)
		if err == nil {
			info, err := c.Info(context.Background())
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker not idle after 30s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Request builders.

func petstoreBodyWith(id, order, extra string) []byte {
	ts := time.Now().UTC().Format(time.RFC3339)
	return []byte(fmt.Sprintf(`{"eventId":%q,"eventType":"order.statusChanged","timestamp":%q,"data":{"order":{"id":%q,"status":"APPROVED"},"previousStatus":"PLACED","newStatus":"APPROVED","changedAt":%q}%s}`,
		id, ts, order, ts, extra))
}

func petstoreBody(id, order string) []byte { return petstoreBodyWith(id, order, "") }

func signedPetstore(body []byte) biRequest {
	return biRequest{path: "/webhooks/petstore", body: body,
		headers: map[string]string{petstore.HeaderSignature: petstore.Sign([]byte(biPetSecret), body)}}
}

func petstoreReq(id, order string) biRequest { return signedPetstore(petstoreBody(id, order)) }

// paddedPetstoreReq is a signed petstore webhook of exactly size bytes.
func paddedPetstoreReq(t *testing.T, id, order string, size int) biRequest {
	t.Helper()
	bare := len(petstoreBodyWith(id, order, `,"pad":""`))
	if size < bare {
		t.Fatalf("size %d is under the bare body's %d bytes", size, bare)
	}
	body := petstoreBodyWith(id, order, `,"pad":"`+strings.Repeat("x", size-bare)+`"`)
	if len(body) != size {
		t.Fatalf("padded body is %d bytes, want %d", len(body), size)
	}
	return signedPetstore(body)
}

func bunjangReqAt(eventID string, order int, at time.Time) biRequest {
	body := []byte(fmt.Sprintf(`{"eventId":%q,"eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":%d,"orderItems":[{"orderItemId":1001,"pid":503344,"orderStatus":"PAYMENT_RECEIVED"}]}}`, eventID, order))
	return biRequest{path: "/webhooks/bunjang", body: body,
		headers: map[string]string{bunjang.HeaderSignature: bunjang.Sign([]byte(biBunSecret), at, body)}}
}

func bunjangReq(eventID string, order int) biRequest { return bunjangReqAt(eventID, order, time.Now()) }

func standardReq(id string) biRequest {
	body := []byte(`{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`)
	key, _ := standardwebhooks.Key([]byte(biStdSecret)) // the test's own well-formed secret
	now := time.Now()
	return biRequest{path: "/webhooks/acme", body: body, headers: map[string]string{
		standardwebhooks.HeaderID:        id,
		standardwebhooks.HeaderTimestamp: strconv.FormatInt(now.Unix(), 10),
		standardwebhooks.HeaderSignature: standardwebhooks.Sign(key, id, now, body),
	}}
}

func callbackReq(t *testing.T, order string) biRequest {
	t.Helper()
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":"c","exp":%d,"iat":%d}`, time.Now().Add(time.Hour).Unix(), time.Now().Unix())))
	mac := hmac.New(sha256.New, []byte(biJWTSecret))
	mac.Write([]byte(head + "." + claims))
	token := head + "." + claims + "." + enc.EncodeToString(mac.Sum(nil))
	return biRequest{path: "/v1/orders/" + order, headers: map[string]string{"Authorization": "Bearer " + token},
		body: []byte(`{"amount":"1.00","currency":"USD","timestamp":"1758613403","callbackUrl":"http://127.0.0.1:9/cb"}`)}
}

// Request modifiers: each returns a changed copy.

func clone(r biRequest) biRequest {
	h := make(map[string]string, len(r.headers))
	for k, v := range r.headers {
		h[k] = v
	}
	r.headers = h
	return r
}

func withHeader(r biRequest, k, v string) biRequest { r = clone(r); r.headers[k] = v; return r }
func withBody(r biRequest, b []byte) biRequest      { r = clone(r); r.body = b; return r }
func withPath(r biRequest, path string) biRequest   { r = clone(r); r.path = path; return r }
func withMethod(r biRequest, m string) biRequest    { r = clone(r); r.method = m; return r }
func chunked(r biRequest) biRequest                 { r = clone(r); r.chunked = true; return r }

func unsigned(r biRequest) biRequest {
	r = clone(r)
	delete(r.headers, petstore.HeaderSignature)
	return r
}

func unsignedCallback(r biRequest) biRequest {
	r = clone(r)
	delete(r.headers, "Authorization")
	return r
}

func resigned(r biRequest, secret string) biRequest {
	return withHeader(r, petstore.HeaderSignature, petstore.Sign([]byte(secret), r.body))
}

// Senders for rows that need more than one plain request.

// slowSend sends r's headers at once and its body one byte per 300ms over a raw connection.
func slowSend(r biRequest) func(t *testing.T, p *biPipeline, _ *http.Client) biAnswer {
	return func(t *testing.T, p *biPipeline, _ *http.Client) biAnswer {
		t.Helper()
		var head strings.Builder
		fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", r.path, len(r.body))
		for k, v := range r.headers {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
		head.WriteString("\r\n")
		resp, body := testkit.Trickle(t, strings.TrimPrefix(p.ingress, "http://"), head.String(), r.body, 300*time.Millisecond)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return answerOf(t, resp)
	}
}

// bogusThenValid: two requests with a bogus signature for the tenant limited to 2/s, then the
// provider's valid one, which is answered.
func bogusThenValid(t *testing.T, p *biPipeline, c *http.Client) biAnswer {
	t.Helper()
	for i := range 2 {
		r := withHeader(resigned(petstoreReq(fmt.Sprintf("evt-rl-bogus-%d", i), "ord-rl"), "wrong"), "X-Tenant-ID", biLimited)
		if a := p.do(t, c, r); a.status != 401 {
			t.Errorf("bogus %d answered %d, want 401", i, a.status)
		}
	}
	return p.do(t, c, withHeader(petstoreReq("evt-rl-valid", "ord-rl"), "X-Tenant-ID", biLimited))
}

// bogusFlood: bogus signatures from one address past its burst (5) get 429 without being
// verified, whatever X-Forwarded-For says; a valid request from another address is still
// stored (the row's one stored message). Answers the last bogus request.
func bogusFlood(t *testing.T, p *biPipeline, c *http.Client) biAnswer {
	t.Helper()
	var last biAnswer
	for i := range 12 {
		r := withHeader(resigned(petstoreReq(fmt.Sprintf("evt-flood-%d", i), "ord-flood"), "wrong"),
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		last = p.do(t, c, r)
		if want := map[bool]int{true: 401, false: 429}[i < 5]; last.status != want {
			t.Errorf("bogus %d answered %d, want %d", i, last.status, want)
		}
	}
	other := p.clientFrom("127.0.2.1")
	defer other.CloseIdleConnections()
	before := p.snapshot(t)
	if a := p.do(t, other, petstoreReq("evt-flood-valid", "ord-flood-valid")); a.status != 200 {
		t.Errorf("valid request from another address answered %d, want 200", a.status)
	}
	if after := p.snapshot(t); after.webhooks != before.webhooks+1 {
		t.Errorf("valid request stored %d times, want 1", after.webhooks-before.webhooks)
	}
	return last
}
