package app_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	petstoresig "github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	inTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	inSpanID  = "00f067aa0ba902b7"
	inParent  = "00-" + inTraceID + "-" + inSpanID + "-01"
	inState   = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
)

var traceparentRe = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$`)

// lastMsg is the last message of stream.
func lastMsg(t *testing.T, js jetstream.JetStream, stream string) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func callbackRequest(t *testing.T, order string) request {
	return request{path: "/v1/orders/" + order,
		body:    []byte(`{"amount": "1.00", "currency": "USD", "timestamp": "1758613403", "callbackUrl": "http://127.0.0.1:9/cb"}`),
		headers: map[string]string{"Authorization": "Bearer " + signJWT(t, "jwt-test-secret", time.Now().Add(time.Hour))}}
}

var callbackEnv = map[string]string{"HOOKLINE_JWT_SECRET": "jwt-test-secret", "HOOKLINE_CALLBACK_ALLOW_PRIVATE": "true"}

// Export off (contract section 9): the trace context still travels. An inbound traceparent and
// tracestate are stored unchanged on the WEBHOOKS and CALLBACKS messages; a request without one
// gets a new trace (not sampled); the Nats-Msg-Id is unchanged.
func TestIngressTraceContextExportOff(t *testing.T) {
	t.Setenv(tracing.EnvEndpoint, "")
	t.Setenv(tracing.EnvTracesEndpoint, "")
	n := testkit.StartNATS(t)
	in := startIngress(t, n, callbackEnv)

	r := petstore("traced-1", "")
	r.headers["traceparent"], r.headers["tracestate"] = inParent, inState
	if resp, body := in.do(r); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	m := lastMsg(t, in.js, streams.Webhooks)
	if got := m.Header.Get("traceparent"); got != inParent {
		t.Errorf("WEBHOOKS traceparent %q, want the inbound %q", got, inParent)
	}
	if got := m.Header.Get("tracestate"); got != inState {
		t.Errorf("WEBHOOKS tracestate %q, want the inbound %q", got, inState)
	}
	if got, want := m.Header.Get(jetstream.MsgIDHeader), streams.WebhookMsgID("petstore", "default", "traced-1"); got != want {
		t.Errorf("Nats-Msg-Id %q, want %q", got, want)
	}

	if resp, body := in.do(petstore("untraced-1", "")); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	m = lastMsg(t, in.js, streams.Webhooks)
	got := traceparentRe.FindStringSubmatch(m.Header.Get("traceparent"))
	if got == nil || got[3] != "0" || strings.Trim(got[1], "0") == "" {
		t.Errorf("without an inbound one: traceparent %q, want a new, unsampled trace", m.Header.Get("traceparent"))
	}
	if _, ok := m.Header["tracestate"]; ok {
		t.Errorf("tracestate %q stored for a trace without one", m.Header.Get("tracestate"))
	}

	cb := callbackRequest(t, "ord-traced")
	cb.headers["traceparent"] = inParent
	if resp, body := in.do(cb); resp.StatusCode != 201 {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	if got := lastMsg(t, in.js, streams.Callbacks).Header.Get("traceparent"); got != inParent {
		t.Errorf("CALLBACKS traceparent %q, want the inbound %q", got, inParent)
	}
}

// Export on: the ingress's spans reach an OTLP/HTTP receiver by the time it has stopped; the
// request span continues the inbound trace, verify and publish are its children, and the stored
// traceparent names the publish span.
func TestIngressTraceSpansExported(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	t.Setenv(tracing.EnvEndpoint, rcv.URL)
	n := testkit.StartNATS(t)
	in := startIngress(t, n, callbackEnv)

	r := petstore("traced-on", "")
	r.headers["traceparent"], r.headers["tracestate"] = inParent, inState
	if resp, body := in.do(r); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	m := lastMsg(t, in.js, streams.Webhooks)
	cb := callbackRequest(t, "ord-on")
	cb.headers["traceparent"] = inParent
	if resp, body := in.do(cb); resp.StatusCode != 201 {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	bad := petstore("bad-sig", "")
	bad.headers[petstoresig.HeaderSignature] = "sha256=00"
	if resp, _ := in.do(bad); resp.StatusCode != 401 {
		t.Fatalf("bad signature: %d", resp.StatusCode)
	}
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}

	spans := rcv.Spans()
	inTrace := map[string]testkit.Span{} // the webhook request's spans, by name
	for _, s := range spans {
		if s.Service != "hookline-ingress" {
			t.Errorf("span %s of service %q", s.Name, s.Service)
		}
		if s.TraceID == inTraceID && !strings.Contains(s.Name, "CALLBACKS") && !strings.Contains(s.Name, "/v1/orders") {
			inTrace[s.Name] = s
		}
	}
	server, verify, pub := inTrace["POST /webhooks/{provider}"], inTrace["verify"], inTrace["publish WEBHOOKS"]
	if server.SpanID == "" || server.ParentSpanID != inSpanID {
		t.Fatalf("no request span continuing the inbound trace: %+v", spans)
	}
	for k, want := range map[string]string{"hookline.provider": "petstore", "hookline.tenant": "default",
		"hookline.event_id": "traced-on", "hookline.order_id": "ord-1", "hookline.outcome": "stored",
		"http.response.status_code": "200"} {
		if got := server.Attributes[k]; got != want {
			t.Errorf("request span %s = %q, want %q", k, got, want)
		}
	}
	if verify.ParentSpanID != server.SpanID || pub.ParentSpanID != server.SpanID {
		t.Errorf("verify's parent %s, publish's parent %s, want the request span %s", verify.ParentSpanID, pub.ParentSpanID, server.SpanID)
	}
	if pub.Attributes["hookline.stream_sequence"] == "" || pub.Attributes["messaging.destination.name"] != "webhooks.petstore.default" {
		t.Errorf("publish span attributes %v", pub.Attributes)
	}
	want := "00-" + inTraceID + "-" + pub.SpanID + "-01"
	if got := m.Header.Get("traceparent"); got != want {
		t.Errorf("stored traceparent %q, want %q (the publish span)", got, want)
	}
	if got := m.Header.Get("tracestate"); got != inState {
		t.Errorf("stored tracestate %q, want %q", got, inState)
	}

	cbSpan, ok := rcv.Find("hookline-ingress", "POST /v1/orders/{id}")
	cbPub, ok2 := rcv.Find("hookline-ingress", "publish CALLBACKS")
	if !ok || !ok2 || cbSpan.TraceID != inTraceID || cbSpan.ParentSpanID != inSpanID || cbPub.ParentSpanID != cbSpan.SpanID {
		t.Fatalf("callback spans %+v %+v, want the request continuing the inbound trace and publish its child", cbSpan, cbPub)
	}
	if cbSpan.Attributes["hookline.order_id"] != "ord-on" || cbSpan.Attributes["hookline.outcome"] != "stored" {
		t.Errorf("callback span attributes %v", cbSpan.Attributes)
	}

	// A refused webhook has its span too, with the error code as outcome, not marked failed.
	var refused testkit.Span
	for _, s := range spans {
		if s.Name == "POST /webhooks/{provider}" && s.Attributes["http.response.status_code"] == "401" {
			refused = s
		}
	}
	if refused.Attributes["hookline.outcome"] != "invalid_signature" || refused.StatusError {
		t.Errorf("refused webhook's span %+v, want outcome invalid_signature, not failed", refused)
	}
}
