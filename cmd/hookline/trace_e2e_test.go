package main

// Traces end to end (issue 13, acceptance 3; contract section 9): the real ingress, worker and
// dispatcher in process, on real NATS and Redis (pkg/testkit), exporting to an in-process
// OTLP/HTTP receiver. One trace connects the inbound traceparent, the ingress's spans, the
// worker's spans and the canonical event's traceparent on ORDERS; another goes from a callback
// request through CALLBACKS and the dispatcher to the traceparent the callback target receives.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	petstoresig "github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/pkg/tracing"
	dispatcherapp "github.com/hookline/hookline/services/dispatcher/app"
	ingressapp "github.com/hookline/hookline/services/ingress/app"
	workerapp "github.com/hookline/hookline/services/worker/app"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

const (
	traceSecret    = "trace-petstore-secret"
	traceJWTSecret = "trace-jwt-secret"
)

var traceparentRe = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)

// traced is the three services running with export on.
type traced struct {
	ingress, worker string // the ingress's public URL, the worker's admin URL
	js              jetstream.JetStream
}

// tracedPipeline starts the three services with export on to rcv.
func tracedPipeline(t *testing.T, rcv *testkit.OTLPReceiver) traced {
	t.Helper()
	t.Setenv(tracing.EnvEndpoint, rcv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50") // milliseconds: spans arrive while the test waits
	n := testkit.StartNATS(t)
	rd := testkit.StartRedis(t)
	env := map[string]string{
		"NATS_URL": n.URL, "REDIS_URL": rd.URL, "HOOKLINE_HTTP_ADDR": "127.0.0.1:0", "HOOKLINE_ADMIN_ADDR": "127.0.0.1:0",
		"HOOKLINE_PETSTORE_SECRETS": traceSecret, "HOOKLINE_JWT_SECRET": traceJWTSecret,
		"HOOKLINE_CALLBACK_SECRET": "trace-callback-secret", "HOOKLINE_CALLBACK_ALLOW_PRIVATE": "true",
	}
	lookup := config.Lookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	icfg, err := ingressapp.LoadConfig(lookup)
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan net.Addr, 1)
	icfg.OnListen = func(pub, _ net.Addr) { addrs <- pub }
	wcfg, err := workerapp.LoadConfig(lookup)
	if err != nil {
		t.Fatal(err)
	}
	dcfg, err := dispatcherapp.LoadConfig(lookup)
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	wln := listen()
	wcfg.AdminListener, dcfg.AdminListener = wln, listen()
	testkit.RunInBackground(t, func(ctx context.Context) error { return ingressapp.Run(ctx, icfg, zap.NewNop()) })
	testkit.RunInBackground(t, func(ctx context.Context) error { return workerapp.Run(ctx, wcfg, zap.NewNop()) })
	testkit.RunInBackground(t, func(ctx context.Context) error { return dispatcherapp.Run(ctx, dcfg, zap.NewNop()) })
	var p traced
	select {
	case a := <-addrs:
		p.ingress = "http://" + a.String()
	case <-time.After(20 * time.Second):
		t.Fatal("ingress did not start")
	}
	p.worker = "http://" + wln.Addr().String()
	testkit.Eventually(t, 20*time.Second, "worker ready", func() bool { return getCode(p.worker+"/readyz") == http.StatusOK })
	_, p.js = n.Conn(t)
	return p
}

func getCode(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func postWith(t *testing.T, url string, body []byte, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// waitSpan waits for the span of service named name in trace, with parent when not empty.
func waitSpan(t *testing.T, rcv *testkit.OTLPReceiver, service, name, trace, parent string) testkit.Span {
	t.Helper()
	var found testkit.Span
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("span %s %q in trace %s under %q", service, name, trace, parent), func() bool {
		for _, s := range rcv.Spans() {
			if s.Service == service && s.Name == name && s.TraceID == trace && (parent == "" || s.ParentSpanID == parent) {
				found = s
				return true
			}
		}
		return false
	})
	return found
}

func TestTraceThroughPipeline(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	p := tracedPipeline(t, rcv)
	ingress, worker := p.ingress, p.worker

	// The webhook path: inbound traceparent → ingress → WEBHOOKS → worker → ORDERS.
	const traceID, inSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	now := time.Now().UTC().Format(time.RFC3339)
	body := []byte(`{"eventId":"trace-ev-1","eventType":"order.statusChanged","timestamp":"` + now +
		`","data":{"order":{"id":"trace-ord-1","status":"PLACED"},"newStatus":"PLACED","changedAt":"` + now + `"}}`)
	if code := postWith(t, ingress+"/webhooks/petstore", body, map[string]string{
		petstoresig.HeaderSignature: petstoresig.Sign([]byte(traceSecret), body),
		"traceparent":               "00-" + traceID + "-" + inSpan + "-01", "Content-Type": "application/json",
	}); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	testkit.Eventually(t, 20*time.Second, "order applied", func() bool {
		return getCode(worker+"/v1/orders/petstore/trace-ord-1") == http.StatusOK
	})

	srv := waitSpan(t, rcv, "hookline-ingress", "POST /webhooks/{provider}", traceID, inSpan)
	waitSpan(t, rcv, "hookline-ingress", "verify", traceID, srv.SpanID)
	ipub := waitSpan(t, rcv, "hookline-ingress", "publish WEBHOOKS", traceID, srv.SpanID)
	proc := waitSpan(t, rcv, "hookline-worker", "process WEBHOOKS", traceID, ipub.SpanID)
	waitSpan(t, rcv, "hookline-worker", "decode", traceID, proc.SpanID)
	waitSpan(t, rcv, "hookline-worker", "apply", traceID, proc.SpanID)
	wpub := waitSpan(t, rcv, "hookline-worker", "publish ORDERS", traceID, proc.SpanID)
	for k, want := range map[string]string{"hookline.provider": "petstore", "hookline.tenant": "default",
		"hookline.event_id": "trace-ev-1", "hookline.order_id": "trace-ord-1", "hookline.outcome": "applied",
		"hookline.canonical_event_ids": "petstore:default:trace-ev-1"} {
		if got := proc.Attributes[k]; got != want {
			t.Errorf("worker span %s = %q, want %q", k, got, want)
		}
	}
	if proc.Attributes["hookline.stream_sequence"] == "" {
		t.Error("worker span has no stream sequence")
	}

	ev := ordersTraceparent(t, p.js, "petstore:default:trace-ev-1")
	m := traceparentRe.FindStringSubmatch(ev)
	if m == nil || m[1] != traceID || m[2] != wpub.SpanID {
		t.Fatalf("canonical event traceparent %q, want trace %s with parent %s (the worker's publish span)", ev, traceID, wpub.SpanID)
	}
}

func TestTraceThroughCallback(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	ingress := tracedPipeline(t, rcv).ingress
	var mu sync.Mutex
	var got []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("traceparent"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(target.Close)

	const traceID, inSpan = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	body := []byte(`{"amount": "738.05", "currency": "USD", "timestamp": "1758613403", "callbackUrl": "` + target.URL + `/cb"}`)
	if code := postWith(t, ingress+"/v1/orders/trace-cb-1", body, map[string]string{
		"Authorization": "Bearer " + traceJWT(t), "traceparent": "00-" + traceID + "-" + inSpan + "-01",
		"Content-Type": "application/json",
	}); code != http.StatusCreated {
		t.Fatalf("callback request answered %d", code)
	}
	var tp string
	testkit.Eventually(t, 30*time.Second, "callback delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(got) > 0 {
			tp = got[0]
		}
		return len(got) > 0
	})
	req := waitSpan(t, rcv, "hookline-ingress", "POST /v1/orders/{id}", traceID, inSpan)
	ipub := waitSpan(t, rcv, "hookline-ingress", "publish CALLBACKS", traceID, req.SpanID)
	del := waitSpan(t, rcv, "hookline-dispatcher", "deliver CALLBACKS", traceID, ipub.SpanID)
	att := waitSpan(t, rcv, "hookline-dispatcher", "POST", traceID, del.SpanID)
	if m := traceparentRe.FindStringSubmatch(tp); m == nil || m[1] != traceID || m[2] != att.SpanID {
		t.Fatalf("callback traceparent %q, want trace %s with parent %s (the dispatcher's attempt span)", tp, traceID, att.SpanID)
	}
	if del.Attributes["hookline.outcome"] != "delivered" || del.Attributes["hookline.order_id"] != "trace-cb-1" ||
		att.Attributes["http.response.status_code"] != "204" {
		t.Errorf("dispatcher span attributes %v / %v", del.Attributes, att.Attributes)
	}
}

// ordersTraceparent returns the traceparent of the canonical event with Nats-Msg-Id id on ORDERS.
func ordersTraceparent(t *testing.T, js jetstream.JetStream, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, m := range testkit.StreamMsgs(t, ctx, js, streams.Orders) {
		if m.Header.Get(jetstream.MsgIDHeader) == id {
			return m.Header.Get("traceparent")
		}
	}
	t.Fatalf("no canonical event %s on ORDERS", id)
	return ""
}

// traceJWT is an HS256 token for the callback intake, made by hand.
func traceJWT(t *testing.T) string {
	t.Helper()
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString(fmt.Appendf(nil, `{"sub":"trace","exp":%d,"iat":%d}`, time.Now().Add(time.Hour).Unix(), time.Now().Unix()))
	mac := hmac.New(sha256.New, []byte(traceJWTSecret))
	mac.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc.EncodeToString(mac.Sum(nil))
}
