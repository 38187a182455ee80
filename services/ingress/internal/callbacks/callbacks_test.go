package callbacks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/safedial"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/ingress/internal/problem"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

const (
	testJWTSecret = "jwt-test-secret"
	testTenant    = "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f"
)

// newEcho mounts h the way the ingress does, with an error handler that renders problems.
func newEcho(h *Handler) *echo.Echo { return newEchoAt(h, Route) }

func newEchoAt(h *Handler, route string) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var p *problem.Problem
		if !errors.As(err, &p) {
			p = problem.Wrap(http.StatusInternalServerError, problem.CodeInternal, "internal error", err)
			var he *echo.HTTPError
			if errors.As(err, &he) {
				p = problem.New(he.Code, problem.CodeNotFound, fmt.Sprint(he.Message))
			}
		}
		if p.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(p.RetryAfter.Seconds()))))
		}
		_ = c.JSON(p.Status, map[string]string{"code": p.Code, "message": p.Message})
	}
	e.POST(route, h.Handle)
	return e
}

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	env := map[string]string{"HOOKLINE_JWT_SECRET": testJWTSecret}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, config.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tenants[testTenant] = &config.Tenant{ID: testTenant}
	return cfg
}

func token(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validToken(t *testing.T) string {
	return token(t, jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{
		"sub": "petstore", "exp": time.Now().Add(5 * time.Minute).Unix(),
	})
}

type env struct {
	e  *echo.Echo
	js jetstream.JetStream
}

func setup(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	return setupStreams(t, streams.Options{}, mutate)
}

func setupStreams(t *testing.T, so streams.Options, mutate func(*config.Config)) *env {
	t.Helper()
	n := testkit.StartNATS(t)
	nc, js := n.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, so); err != nil {
		t.Fatal(err)
	}
	pub, err := publish.New(nc, publish.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	if mutate != nil {
		mutate(cfg)
	}
	o := Options{Requests: NewBucketStore(js, so)}
	return &env{e: newEcho(New(cfg, pub, zap.NewNop(), o)), js: js}
}

func (v *env) post(t *testing.T, orderID, auth, tenant, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/orders/"+orderID, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if tenant != "" {
		req.Header.Set("X-Tenant-ID", tenant)
	}
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	return rec
}

func (v *env) stored(t *testing.T) uint64 {
	t.Helper()
	s, err := v.js.Stream(context.Background(), streams.Callbacks)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

const validBody = `{"amount": "738.05", "currency": "USD", "timestamp": "1758613403", "callbackUrl": "https://93.184.216.34/hooks/order"}`

func TestIntakeStoresOnceAndDedupes(t *testing.T) {
	v := setup(t, nil)
	auth := "Bearer " + validToken(t)

	rec := v.post(t, "ord-42", auth, "", validBody)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	var first Accepted
	if err := json.Unmarshal(rec.Body.Bytes(), &first); err != nil {
		t.Fatalf("201 body %q: %v", rec.Body, err)
	}
	if want := streams.CallbackEventID("default", "ord-42", "1758613403"); first.ID != want {
		t.Errorf("id %q, want %q", first.ID, want)
	}

	rec = v.post(t, "ord-42", auth, "", validBody)
	if rec.Code != http.StatusCreated {
		t.Fatalf("retry: status %d, body %s", rec.Code, rec.Body)
	}
	var second Accepted
	if err := json.Unmarshal(rec.Body.Bytes(), &second); err != nil || second.ID != first.ID {
		t.Fatalf("retry answered %s, want id %s", rec.Body, first.ID)
	}
	if got := v.stored(t); got != 1 {
		t.Fatalf("CALLBACKS holds %d messages, want 1", got)
	}

	s, _ := v.js.Stream(context.Background(), streams.Callbacks)
	raw, err := s.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "callbacks.default" {
		t.Errorf("subject %q", raw.Subject)
	}
	if got := raw.Header.Get(streams.HeaderOrderID); got != "ord-42" {
		t.Errorf("Hookline-Order-Id %q", got)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw.Data, &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"orderId": "ord-42", "tenantId": "default", "amount": "738.05", "currency": "USD",
		"timestamp": "1758613403", "callbackUrl": "https://93.184.216.34/hooks/order",
	}
	for k, w := range want {
		if fields[k] != w {
			t.Errorf("%s = %v, want %v", k, fields[k], w)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(fields["receivedAt"])); err != nil {
		t.Errorf("receivedAt %v: %v", fields["receivedAt"], err)
	}
	if len(fields) != 7 {
		t.Errorf("message has fields %v, want exactly the contract's seven", fields)
	}
}

func TestIntakeAcceptsVariants(t *testing.T) {
	v := setup(t, nil)
	auth := "Bearer " + validToken(t)
	tests := []struct {
		name, order, tenant, body, wantSubject, wantAmount string
	}{
		{"amount as number", "n-1", "", `{"amount": 738.05, "currency": "USD", "timestamp": "1758613403", "callbackUrl": "http://93.184.216.34/cb"}`, "callbacks.default", "738.05"},
		{"rfc3339 timestamp", "n-2", "", `{"amount": "1", "currency": "EUR", "timestamp": "2025-09-23T07:43:23Z", "callbackUrl": "https://93.184.216.34/cb"}`, "callbacks.default", "1"},
		{"configured tenant", "n-3", strings.ToUpper(testTenant), validBody, "callbacks." + testTenant, "738.05"},
		{"explicit default tenant", "n-4", "default", validBody, "callbacks.default", "738.05"},
		{"unresolvable host is left to the dialer", "n-5", "", `{"amount": "2", "currency": "USD", "timestamp": "1", "callbackUrl": "https://receiver.invalid/cb"}`, "callbacks.default", "2"},
		{"amount in exponent form", "n-6", "", `{"amount": 7.3805e2, "currency": "USD", "timestamp": "1", "callbackUrl": "https://93.184.216.34/cb"}`, "callbacks.default", "738.05"},
		{"amount as a power of ten", "n-7", "", `{"amount": 1e5, "currency": "USD", "timestamp": "1", "callbackUrl": "https://93.184.216.34/cb"}`, "callbacks.default", "100000"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := v.post(t, tt.order, auth, tt.tenant, tt.body)
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			s, _ := v.js.Stream(context.Background(), streams.Callbacks)
			raw, err := s.GetMsg(context.Background(), uint64(i+1))
			if err != nil {
				t.Fatal(err)
			}
			var cb streams.CallbackRequest
			if err := json.Unmarshal(raw.Data, &cb); err != nil {
				t.Fatal(err)
			}
			if raw.Subject != tt.wantSubject || cb.Amount != tt.wantAmount || cb.OrderID != tt.order {
				t.Fatalf("stored %s %+v, want subject %s amount %s", raw.Subject, cb, tt.wantSubject, tt.wantAmount)
			}
		})
	}
}

func TestIntakeRefusesAndStoresNothing(t *testing.T) {
	v := setup(t, nil)
	good := "Bearer " + validToken(t)
	body := func(url string) string {
		return `{"amount": "738.05", "currency": "USD", "timestamp": "1758613403", "callbackUrl": "` + url + `"}`
	}
	expired := token(t, jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()})
	noExp := token(t, jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{"sub": "x"})
	wrongKey := token(t, jwt.SigningMethodHS256, []byte("other-secret"), jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	hs512 := token(t, jwt.SigningMethodHS512, []byte(testJWTSecret), jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	none := token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	withinLeeway := token(t, jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{"exp": time.Now().Add(-10 * time.Second).Unix()})

	tests := []struct {
		name       string
		order      string
		auth       string
		tenant     string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"no token", "o1", "", "", validBody, 401, CodeInvalidToken},
		{"basic scheme", "o1", "Basic Zm9vOmJhcg==", "", validBody, 401, CodeInvalidToken},
		{"garbage token", "o1", "Bearer not.a.jwt", "", validBody, 401, CodeInvalidToken},
		{"expired token", "o1", "Bearer " + expired, "", validBody, 401, CodeInvalidToken},
		{"token without exp", "o1", "Bearer " + noExp, "", validBody, 401, CodeInvalidToken},
		{"token with another key", "o1", "Bearer " + wrongKey, "", validBody, 401, CodeInvalidToken},
		{"token with HS512", "o1", "Bearer " + hs512, "", validBody, 401, CodeInvalidToken},
		{"unsigned token", "o1", "Bearer " + none, "", validBody, 401, CodeInvalidToken},
		{"unknown tenant", "o1", good, "7d444840-9dc0-11d1-b245-5ffdce74fad2", validBody, 404, problem.CodeUnknownTenant},
		{"malformed tenant", "o1", good, "acme", validBody, 404, problem.CodeUnknownTenant},
		{"order id with colon", "a:b", good, "", validBody, 400, CodeInvalidOrderID},
		{"not json", "o1", good, "", `amount=1`, 400, problem.CodeMalformedPayload},
		{"json array", "o1", good, "", `[1,2]`, 400, problem.CodeMalformedPayload},
		{"missing amount", "o1", good, "", `{"currency": "USD", "timestamp": "1", "callbackUrl": "https://93.184.216.34/"}`, 400, problem.CodeMalformedPayload},
		{"bad amount", "o1", good, "", `{"amount": "12abc", "currency": "USD", "timestamp": "1", "callbackUrl": "https://93.184.216.34/"}`, 400, problem.CodeMalformedPayload},
		{"amount as object", "o1", good, "", `{"amount": {}, "currency": "USD", "timestamp": "1", "callbackUrl": "https://93.184.216.34/"}`, 400, problem.CodeMalformedPayload},
		{"missing currency", "o1", good, "", `{"amount": "1", "timestamp": "1", "callbackUrl": "https://93.184.216.34/"}`, 400, problem.CodeMalformedPayload},
		{"missing timestamp", "o1", good, "", `{"amount": "1", "currency": "USD", "callbackUrl": "https://93.184.216.34/"}`, 400, problem.CodeMalformedPayload},
		{"bad timestamp", "o1", good, "", `{"amount": "1", "currency": "USD", "timestamp": "yesterday", "callbackUrl": "https://93.184.216.34/"}`, 400, problem.CodeMalformedPayload},
		{"missing callbackUrl", "o1", good, "", `{"amount": "1", "currency": "USD", "timestamp": "1"}`, 400, problem.CodeMalformedPayload},
		{"ftp url", "o1", good, "", body("ftp://93.184.216.34/x"), 400, CodeInvalidCallbackURL},
		{"relative url", "o1", good, "", body("/hooks"), 400, CodeInvalidCallbackURL},
		{"loopback url", "o1", good, "", body("http://127.0.0.1:8080/cb"), 400, CodeForbiddenCallbackURL},
		{"private url", "o1", good, "", body("http://10.0.0.1/cb"), 400, CodeForbiddenCallbackURL},
		{"metadata url", "o1", good, "", body("http://169.254.169.254/latest/meta-data/"), 400, CodeForbiddenCallbackURL},
		{"ipv6 loopback url", "o1", good, "", body("http://[::1]:8080/cb"), 400, CodeForbiddenCallbackURL},
		{"name resolving to loopback", "o1", good, "", body("http://localhost:8080/cb"), 400, CodeForbiddenCallbackURL},
		{"ipv4-compatible loopback url", "o1", good, "", body("http://[::127.0.0.1]:8080/cb"), 400, CodeForbiddenCallbackURL},
		{"ipv4-compatible metadata url", "o1", good, "", body("http://[::169.254.169.254]/"), 400, CodeForbiddenCallbackURL},
		{"siit loopback url", "o1", good, "", body("http://[::ffff:0:127.0.0.1]/"), 400, CodeForbiddenCallbackURL},
		{"nat64 private url", "o1", good, "", body("http://[64:ff9b::10.0.0.1]/"), 400, CodeForbiddenCallbackURL},
		{"local nat64 url", "o1", good, "", body("http://[64:ff9b:1::a00:1]/"), 400, CodeForbiddenCallbackURL},
		{"6to4 private url", "o1", good, "", body("http://[2002:c0a8:1::1]/"), 400, CodeForbiddenCallbackURL},
		{"teredo private client url", "o1", good, "", body("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/"), 400, CodeForbiddenCallbackURL},
		{"short ipv4 url", "o1", good, "", body("http://127.1:8080/cb"), 400, CodeInvalidCallbackURL},
		{"hex ipv4 url", "o1", good, "", body("http://0x7f000001/cb"), 400, CodeInvalidCallbackURL},
		{"integer ipv4 url", "o1", good, "", body("http://2130706433/cb"), 400, CodeInvalidCallbackURL},
		{"octal ipv4 url", "o1", good, "", body("http://0177.0.0.1/cb"), 400, CodeInvalidCallbackURL},
		{"zero host url", "o1", good, "", body("http://0/cb"), 400, CodeInvalidCallbackURL},
		{"trailing dot ipv4 url", "o1", good, "", body("http://93.184.216.34./cb"), 400, CodeInvalidCallbackURL},
		{"exponent string amount", "o1", good, "", `{"amount": "1e5", "currency": "USD", "timestamp": "1", "callbackUrl": "https://93.184.216.34/"}`, 400, problem.CodeMalformedPayload},
		{"negative exponent amount", "o1", good, "", `{"amount": -1e5, "currency": "USD", "timestamp": "1", "callbackUrl": "https://93.184.216.34/"}`, 400, problem.CodeMalformedPayload},
		{"expired within leeway still passes auth", "o1", "Bearer " + withinLeeway, "", body("http://10.0.0.1/cb"), 400, CodeForbiddenCallbackURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := v.post(t, tt.order, tt.auth, tt.tenant, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			var got map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["code"] != tt.wantCode {
				t.Fatalf("body %s, want code %s", rec.Body, tt.wantCode)
			}
			if strings.Contains(rec.Body.String(), testJWTSecret) {
				t.Fatalf("answer echoes the JWT secret")
			}
		})
	}
	if got := v.stored(t); got != 0 {
		t.Fatalf("CALLBACKS holds %d messages after refused requests, want 0", got)
	}
}

func TestIntakeAllowPrivate(t *testing.T) {
	v := setup(t, func(c *config.Config) { c.CallbackAllowPrivate = true })
	body := `{"amount": "1", "currency": "USD", "timestamp": "1", "callbackUrl": "http://127.0.0.1:8080/cb"}`
	if rec := v.post(t, "p-1", "Bearer "+validToken(t), "", body); rec.Code != http.StatusCreated {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if got := v.stored(t); got != 1 {
		t.Fatalf("stored %d, want 1", got)
	}
}

func TestIntakeAllowCIDRWithPort(t *testing.T) {
	v := setup(t, func(c *config.Config) {
		a, err := safedial.ParseAllowCIDR("127.0.0.1/32:8080")
		if err != nil {
			t.Fatal(err)
		}
		c.CallbackAllowCIDRs = []safedial.AllowCIDR{a}
	})
	auth := "Bearer " + validToken(t)
	body := func(url string) string {
		return `{"amount": "1", "currency": "USD", "timestamp": "1", "callbackUrl": "` + url + `"}`
	}
	tests := []struct {
		give string
		want int
	}{
		{"http://127.0.0.1:8080/cb", http.StatusCreated},
		{"http://127.0.0.1:6379/", http.StatusBadRequest},
		{"http://127.0.0.1/", http.StatusBadRequest},
		{"https://127.0.0.1/", http.StatusBadRequest},
	}
	for i, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if rec := v.post(t, "port-"+strconv.Itoa(i), auth, "", body(tt.give)); rec.Code != tt.want {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tt.want, rec.Body)
			}
		})
	}
	if got := v.stored(t); got != 1 {
		t.Fatalf("stored %d, want 1", got)
	}
}

type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, *nats.Msg, string) (*jetstream.PubAck, error) {
	return nil, fmt.Errorf("publish callbacks.default: %w: no ack", publish.ErrUnavailable)
}

func TestIntakeUnavailable(t *testing.T) {
	e := newEcho(New(testConfig(t), failingPublisher{}, zap.NewNop(), Options{RetryAfter: 3 * time.Second}))
	req := httptest.NewRequest(http.MethodPost, "/v1/orders/o-9", strings.NewReader(validBody))
	req.Header.Set("Authorization", "Bearer "+validToken(t))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "3" {
		t.Fatalf("status %d Retry-After %q, want 503 and 3", rec.Code, rec.Header().Get("Retry-After"))
	}
	if !strings.Contains(rec.Body.String(), problem.CodeUnavailable) {
		t.Fatalf("body %s", rec.Body)
	}
}

func TestIntakeWithoutJWTSecret(t *testing.T) {
	cfg := testConfig(t)
	cfg.JWTSecret = config.Secret{}
	e := newEcho(New(cfg, failingPublisher{}, zap.NewNop(), Options{}))
	req := httptest.NewRequest(http.MethodPost, "/v1/orders/o-9", strings.NewReader(validBody))
	req.Header.Set("Authorization", "Bearer "+token(t, jwt.SigningMethodHS256, []byte{}, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", rec.Code)
	}
}

func TestIntakeBodyLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBodyBytes = 64
	e := newEcho(New(cfg, failingPublisher{}, zap.NewNop(), Options{}))
	req := httptest.NewRequest(http.MethodPost, "/v1/orders/o-9", strings.NewReader(validBody))
	req.Header.Set("Authorization", "Bearer "+validToken(t))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", rec.Code)
	}
}

func TestIntakeUnderAnotherParamName(t *testing.T) {
	e := newEchoAt(New(testConfig(t), &recordingPublisher{}, zap.NewNop(), Options{}), "/v1/orders/:orderId")
	req := httptest.NewRequest(http.MethodPost, "/v1/orders/ord-77", strings.NewReader(validBody))
	req.Header.Set("Authorization", "Bearer "+validToken(t))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	var got Accepted
	if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusCreated || err != nil || got.OrderID != "ord-77" {
		t.Fatalf("status %d body %s, want 201 for ord-77", rec.Code, rec.Body)
	}
}

// recordingPublisher acknowledges every message.
type recordingPublisher struct{ msgs []*nats.Msg }

func (p *recordingPublisher) Publish(_ context.Context, msg *nats.Msg, _ string) (*jetstream.PubAck, error) {
	p.msgs = append(p.msgs, msg)
	return &jetstream.PubAck{Stream: streams.Callbacks, Sequence: uint64(len(p.msgs))}, nil
}
