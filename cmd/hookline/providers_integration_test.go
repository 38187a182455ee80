package main

// The provider registry end to end, in process, against real NATS and Redis (pkg/testkit): a
// throwaway provider defined in this file only, and Shopify (issue 11, acceptance 2 and 3).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/shopify"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	ingressapp "github.com/hookline/hookline/services/ingress/app"
	workerapp "github.com/hookline/hookline/services/worker/app"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// toy is a provider that exists only in this test: X-Toy-Signature: <hex HMAC-SHA256(body)>,
// body {"id","order","status"}, lifecycle OPEN → DONE, answered 202.
type toy struct{}

var _ providers.Provider = toy{}

func (toy) Name() string { return "toy" }
func (toy) Knobs() providers.Knobs {
	return providers.Knobs{SecretsEnv: "HOOKLINE_TOY_SECRETS"}
}
func (toy) Verifier(secrets [][]byte, _ time.Duration, _ providers.Clock) (providers.Verifier, error) {
	if len(secrets) == 0 {
		return nil, providers.ErrNoSecrets
	}
	return toyVerifier(secrets[0]), nil
}
func (toy) Meta(http.Header) providers.Meta { return providers.Meta{} }
func (toy) Parse(body []byte, _ providers.Meta) (envelope.Envelope, error) {
	var b struct{ ID, Order, Status string }
	if err := json.Unmarshal(body, &b); err != nil {
		return envelope.Envelope{}, fmt.Errorf("%w: %w", envelope.ErrNotJSON, err)
	}
	if b.ID == "" || b.Order == "" || b.Status == "" {
		return envelope.Envelope{}, fmt.Errorf("%w: id, order, status", envelope.ErrMissingField)
	}
	return envelope.Envelope{EventID: b.ID, EventType: "toy.changed", Kind: envelope.KindStatusChanged,
		OrderID: b.Order, Changes: []envelope.Change{{Status: b.Status}}}, nil
}
func (toy) Lifecycle() []providers.Row {
	return []providers.Row{
		{Status: "OPEN", Canonical: ordersv1.OrderStatus_ORDER_STATUS_PLACED, Rank: 1},
		{Status: "DONE", Canonical: ordersv1.OrderStatus_ORDER_STATUS_COMPLETED, Rank: 2, Terminal: true, After: "OPEN"},
	}
}
func (toy) TenantKey(http.Header) string { return "" }
func (toy) SuccessStatus() int           { return http.StatusAccepted }
func (toy) Walk() []string               { return []string{"OPEN", "DONE"} }
func (toy) Sample(s providers.SampleSpec) (providers.Sample, error) {
	body := fmt.Appendf(nil, `{"id":%q,"order":%q,"status":%q}`, s.EventID, s.OrderKey, s.Status)
	return providers.Sample{Body: body, EventID: s.EventID, OrderID: s.OrderKey, Status: s.Status}, nil
}
func (toy) Sign(secret []byte, s providers.Sample, _ time.Time) ([][2]string, error) {
	m := hmac.New(sha256.New, secret)
	m.Write(s.Body)
	return [][2]string{{"X-Toy-Signature", hex.EncodeToString(m.Sum(nil))}}, nil
}

type toyVerifier []byte

func (k toyVerifier) Verify(h http.Header, body []byte) error {
	got, err := hex.DecodeString(h.Get("X-Toy-Signature"))
	if err != nil || len(got) == 0 {
		return providers.ErrMalformedSignature
	}
	m := hmac.New(sha256.New, k)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), got) {
		return providers.ErrSignatureMismatch
	}
	return nil
}

const (
	regShopSecret = "shopify-test-secret"
	regToySecret  = "toy-test-secret"
	regShopTenant = "3c9a1f2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
	regShopDomain = "acme.myshopify.com"
)

// pipeline is an ingress and a worker running in process with one provider registry.
type pipeline struct {
	t       *testing.T
	ingress string
	worker  string
	js      jetstream.JetStream
}

func startRegistryPipeline(t *testing.T, reg *providers.Registry) *pipeline {
	t.Helper()
	n := testkit.StartNATS(t)
	rd := testkit.StartRedis(t)
	tenants := filepath.Join(t.TempDir(), "tenants.yaml")
	toyLine := ""
	if _, ok := reg.Lookup(toy{}.Name()); ok {
		toyLine = fmt.Sprintf("      toy: {secrets: [%q]}\n", regToySecret)
	}
	if err := os.WriteFile(tenants, []byte(fmt.Sprintf(`tenants:
  - id: default
    providers:
      shopify: {secrets: ["%s"]}
%s  - id: %s
    providers:
      shopify: {secrets: ["%s"], shops: ["%s"]}
`, regShopSecret, toyLine, regShopTenant, regShopSecret, strings.ToUpper(regShopDomain))), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"NATS_URL": n.URL, "REDIS_URL": rd.URL, "HOOKLINE_CONFIG": tenants,
		"HOOKLINE_HTTP_ADDR": "127.0.0.1:0", "HOOKLINE_ADMIN_ADDR": "127.0.0.1:0",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	base, err := config.Load(lookup, config.Defaults{Providers: reg})
	if err != nil {
		t.Fatal(err)
	}
	// The services' own settings; the shared configuration is base, read with reg.
	svc := func(k string) (string, bool) {
		if k == "HOOKLINE_CONFIG" {
			return "", false
		}
		return lookup(k)
	}
	icfg, err := ingressapp.LoadConfig(svc)
	if err != nil {
		t.Fatal(err)
	}
	icfg.Config = base
	addrs := make(chan net.Addr, 1)
	icfg.OnListen = func(pub, _ net.Addr) { addrs <- pub }
	wcfg, err := workerapp.LoadConfig(svc)
	if err != nil {
		t.Fatal(err)
	}
	wcfg.Base = *base
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wcfg.AdminListener = ln
	p := &pipeline{t: t, worker: "http://" + ln.Addr().String()}
	testkit.RunInBackground(t, func(ctx context.Context) error { return ingressapp.Run(ctx, icfg, zap.NewNop()) })
	testkit.RunInBackground(t, func(ctx context.Context) error { return workerapp.Run(ctx, wcfg, zap.NewNop()) })
	select {
	case a := <-addrs:
		p.ingress = "http://" + a.String()
	case <-time.After(20 * time.Second):
		t.Fatal("ingress did not start")
	}
	_, p.js = n.Conn(t)
	return p
}

// post sends body with headers and returns the status and the error code, if any.
func (p *pipeline) post(path string, body []byte, headers ...[2]string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.ingress+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, kv := range headers {
		req.Header.Set(kv[0], kv[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Code
}

type regOrder struct {
	Status, ProviderStatus string
	Version                int
}

// order polls the query API until the order is at version (or the test times out).
func (p *pipeline) order(provider, id, tenant string, version int) regOrder {
	p.t.Helper()
	var st regOrder
	testkit.Eventually(p.t, 20*time.Second, fmt.Sprintf("%s order %s at version %d", provider, id, version), func() bool {
		st = regOrder{}
		req, _ := http.NewRequest(http.MethodGet, p.worker+"/v1/orders/"+provider+"/"+id, nil)
		if tenant != "" {
			req.Header.Set("X-Tenant-ID", tenant)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&st) == nil && st.Version >= version
	})
	return st
}

// outcomes reads the worker's hookline_worker_outcomes_total for provider and kind.
func (p *pipeline) outcomes(t *testing.T, provider, kind string) float64 {
	t.Helper()
	resp, err := http.Get(p.worker + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`hookline_worker_outcomes_total{kind=%q,provider=%q} `, kind, provider)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, want); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// eventuallyOutcomes waits until provider's kind outcomes reach n.
func (p *pipeline) eventuallyOutcomes(t *testing.T, provider, kind string, n float64) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("%v %s outcomes of %s", n, kind, provider), func() bool {
		return p.outcomes(t, provider, kind) >= n
	})
}

// send signs a provider sample and posts it.
func (p *pipeline) send(prov providers.Provider, secret string, spec providers.SampleSpec, extra ...[2]string) (int, string) {
	p.t.Helper()
	s, err := prov.Sample(spec)
	if err != nil {
		p.t.Fatal(err)
	}
	sig, err := prov.Sign([]byte(secret), s, time.Now())
	if err != nil {
		p.t.Fatal(err)
	}
	return p.post("/webhooks/"+prov.Name(), s.Body, append(append(s.Headers, sig...), extra...)...)
}

// A provider registered in a test file only goes through the ingress and the worker.
func TestThrowawayProviderThroughIngressAndWorker(t *testing.T) {
	reg, err := all.New(toy{})
	if err != nil {
		t.Fatal(err)
	}
	p := startRegistryPipeline(t, reg)
	if code, _ := p.send(toy{}, regToySecret, providers.SampleSpec{EventID: "t-1", OrderKey: "o-1", Status: "OPEN"}); code != http.StatusAccepted {
		t.Fatalf("toy OPEN = %d, want the provider's 202", code)
	}
	if st := p.order("toy", "o-1", "", 1); st.Status != "PLACED" || st.ProviderStatus != "OPEN" {
		t.Fatalf("toy order = %+v, want PLACED OPEN v1", st)
	}
	if code, errCode := p.send(toy{}, "wrong", providers.SampleSpec{EventID: "t-x", OrderKey: "o-1", Status: "DONE"}); code != 401 || errCode != "invalid_signature" {
		t.Fatalf("toy wrong secret = %d %s", code, errCode)
	}
	if code, _ := p.send(toy{}, regToySecret, providers.SampleSpec{EventID: "t-2", OrderKey: "o-1", Status: "DONE"}); code != http.StatusAccepted {
		t.Fatalf("toy DONE = %d", code)
	}
	if st := p.order("toy", "o-1", "", 2); st.Status != "COMPLETED" || st.ProviderStatus != "DONE" || st.Version != 2 {
		t.Fatalf("toy order = %+v, want COMPLETED DONE v2", st)
	}
	msg, err := p.js.Stream(context.Background(), streams.Webhooks)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := msg.GetLastMsgForSubject(context.Background(), "webhooks.toy.default")
	if err != nil || raw.Header.Get("Nats-Msg-Id") != "toy:default:t-2" {
		t.Fatalf("last toy message: %v %v", err, raw)
	}
}

func TestShopify(t *testing.T) {
	p := startRegistryPipeline(t, all.Registry())
	shop := shopify.Provider{}
	fixture, err := os.ReadFile(filepath.Join("..", "..", "pkg", "providers", "shopify", "testdata", "orders-create.json"))
	if err != nil {
		t.Fatal(err)
	}
	topic := [2]string{shopify.HeaderTopic, shopify.TopicCreate}
	wid := func(id string) [2]string { return [2]string{shopify.HeaderWebhookID, id} }
	mac := hmac.New(sha256.New, []byte(regShopSecret))
	mac.Write(fixture)
	hexSig := hex.EncodeToString(mac.Sum(nil))

	t.Run("signature", func(t *testing.T) {
		tests := []struct {
			name     string
			headers  [][2]string
			wantCode int
			wantErr  string
		}{
			{"valid base64", [][2]string{topic, wid("sig-1"), {shopify.HeaderSignature, shopify.Sign([]byte(regShopSecret), fixture)}}, 200, ""},
			{"hex", [][2]string{topic, wid("sig-2"), {shopify.HeaderSignature, hexSig}}, 401, "invalid_signature"},
			{"wrong secret", [][2]string{topic, wid("sig-3"), {shopify.HeaderSignature, shopify.Sign([]byte("nope"), fixture)}}, 401, "invalid_signature"},
			{"missing topic", [][2]string{wid("sig-4"), {shopify.HeaderSignature, shopify.Sign([]byte(regShopSecret), fixture)}}, 400, "malformed_payload"},
			{"missing webhook id", [][2]string{topic, {shopify.HeaderSignature, shopify.Sign([]byte(regShopSecret), fixture)}}, 400, "malformed_payload"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if code, e := p.post("/webhooks/shopify", fixture, tt.headers...); code != tt.wantCode || e != tt.wantErr {
					t.Fatalf("= %d %q, want %d %q", code, e, tt.wantCode, tt.wantErr)
				}
			})
		}
		if st := p.order("shopify", "820982911946154508", "", 1); st.Status != "PLACED" || st.ProviderStatus != "orders/create" {
			t.Fatalf("fixture order = %+v", st)
		}
	})

	t.Run("dedupe by webhook id", func(t *testing.T) {
		spec := providers.SampleSpec{EventID: "dup-1", OrderKey: "1001", Status: "PLACED"}
		stream, err := p.js.Stream(context.Background(), streams.Webhooks)
		if err != nil {
			t.Fatal(err)
		}
		before, err := stream.Info(context.Background(), jetstream.WithSubjectFilter("webhooks.shopify.default"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if code, e := p.send(shop, regShopSecret, spec); code != 200 {
				t.Fatalf("send %d = %d %s", i, code, e)
			}
		}
		st, err := p.js.Stream(context.Background(), streams.Webhooks)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background(), jetstream.WithSubjectFilter("webhooks.shopify.default"))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects["webhooks.shopify.default"] - before.State.Subjects["webhooks.shopify.default"]; n != 1 {
			t.Fatalf("%d messages on webhooks.shopify.default, want the one of webhook dup-1", n)
		}
		raw, err := st.GetLastMsgForSubject(context.Background(), "webhooks.shopify.default")
		if err != nil || raw.Header.Get("Nats-Msg-Id") != "shopify:default:dup-1" {
			t.Fatalf("last message %v: %v", raw, err)
		}
		if o := p.order("shopify", "1001", "", 1); o.Version != 1 {
			t.Fatalf("order = %+v, want version 1", o)
		}
		if d := p.outcomes(t, "shopify", "duplicate"); d != 0 {
			t.Fatalf("%v duplicate outcomes: the resend reached the worker", d)
		}

		// Shopify retries for 4 hours, far past the duplicate window: a retry stored again (a new
		// Nats-Msg-Id, the same X-Shopify-Webhook-Id) is a duplicate for the worker, no second effect.
		again := nats.NewMsg(raw.Subject)
		for k, v := range raw.Header {
			again.Header[k] = v
		}
		again.Header.Set(jetstream.MsgIDHeader, "shopify:default:dup-1:after-the-window")
		again.Data = raw.Data
		if _, err := p.js.PublishMsg(context.Background(), again); err != nil {
			t.Fatal(err)
		}
		p.eventuallyOutcomes(t, "shopify", "duplicate", 1)
		if o := p.order("shopify", "1001", "", 1); o.Version != 1 || o.Status != "PLACED" {
			t.Fatalf("order after the late retry = %+v, want PLACED version 1", o)
		}
		var canonical int
		for _, m := range testkit.StreamMsgs(t, context.Background(), p.js, streams.Orders) {
			if m.Header.Get(jetstream.MsgIDHeader) == "shopify:default:dup-1" {
				canonical++
			}
		}
		if canonical != 1 {
			t.Fatalf("ORDERS holds %d canonical events of webhook dup-1, want 1", canonical)
		}
	})

	t.Run("create paid fulfilled is SHIPPED v3", func(t *testing.T) {
		for i, s := range []string{"PLACED", "APPROVED", "SHIPPED"} {
			if code, e := p.send(shop, regShopSecret, providers.SampleSpec{EventID: fmt.Sprintf("life-%d", i), OrderKey: "2002", Status: s}); code != 200 {
				t.Fatalf("%s = %d %s", s, code, e)
			}
			p.order("shopify", "2002", "", i+1) // in order: each waits for the one before
		}
		if st := p.order("shopify", "2002", "", 3); st.Status != "SHIPPED" || st.ProviderStatus != "orders/fulfilled" || st.Version != 3 {
			t.Fatalf("order = %+v, want SHIPPED orders/fulfilled v3", st)
		}
	})

	t.Run("cancelled then updated is rejected", func(t *testing.T) {
		send := func(id, status, typ string) {
			if code, e := p.send(shop, regShopSecret, providers.SampleSpec{EventID: id, OrderKey: "3003", Status: status, Type: typ}); code != 200 {
				t.Fatalf("%s = %d %s", id, code, e)
			}
		}
		send("c-1", "PLACED", "")
		p.order("shopify", "3003", "", 1)
		send("c-2", "CANCELLED", "")
		if st := p.order("shopify", "3003", "", 2); st.Status != "CANCELLED" || st.ProviderStatus != "orders/cancelled" {
			t.Fatalf("order = %+v, want CANCELLED", st)
		}
		rejected := p.outcomes(t, "shopify", "rejected")
		send("c-3", "APPROVED", shopify.TopicUpdated) // orders/updated, paid
		p.eventuallyOutcomes(t, "shopify", "rejected", rejected+1)
		if st := p.order("shopify", "3003", "", 2); st.Status != "CANCELLED" || st.Version != 2 {
			t.Fatalf("order after the rejected update = %+v, want CANCELLED v2", st)
		}
	})

	t.Run("financial_status refunded is REFUNDED", func(t *testing.T) {
		if code, e := p.send(shop, regShopSecret, providers.SampleSpec{EventID: "r-1", OrderKey: "4004", Status: "APPROVED"}); code != 200 {
			t.Fatalf("paid = %d %s", code, e)
		}
		p.order("shopify", "4004", "", 1)
		if code, e := p.send(shop, regShopSecret, providers.SampleSpec{EventID: "r-2", OrderKey: "4004", Status: "REFUNDED"}); code != 200 {
			t.Fatalf("refunded = %d %s", code, e)
		}
		if st := p.order("shopify", "4004", "", 2); st.Status != "REFUNDED" || st.ProviderStatus != "refunded" {
			t.Fatalf("order = %+v, want REFUNDED refunded", st)
		}
	})

	t.Run("other topic is stored and counted unknown", func(t *testing.T) {
		body := []byte(`{"id":632910392,"title":"IPod Nano - 8GB","updated_at":"2021-12-31T19:00:00-05:00"}`)
		code, e := p.post("/webhooks/shopify", body, [2]string{shopify.HeaderTopic, "products/create"}, wid("prod-1"),
			[2]string{shopify.HeaderSignature, shopify.Sign([]byte(regShopSecret), body)})
		if code != 200 {
			t.Fatalf("= %d %s", code, e)
		}
		p.eventuallyOutcomes(t, "shopify", "unknown", 1)
	})

	t.Run("tenant by shop domain", func(t *testing.T) {
		if code, e := p.send(shop, regShopSecret, providers.SampleSpec{EventID: "shop-1", OrderKey: "5005", Status: "PLACED", Shop: regShopDomain}); code != 200 {
			t.Fatalf("= %d %s", code, e)
		}
		if st := p.order("shopify", "5005", regShopTenant, 1); st.Status != "PLACED" {
			t.Fatalf("order in the shop's tenant = %+v", st)
		}
		st, err := p.js.Stream(context.Background(), streams.Webhooks)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := st.GetLastMsgForSubject(context.Background(), "webhooks.shopify."+regShopTenant)
		if err != nil || raw.Header.Get("Nats-Msg-Id") != "shopify:"+regShopTenant+":shop-1" {
			t.Fatalf("message in the shop's tenant: %v %v", raw, err)
		}
		// X-Tenant-ID wins over the shop domain.
		if code, e := p.send(shop, regShopSecret, providers.SampleSpec{EventID: "shop-2", OrderKey: "5006", Status: "PLACED", Shop: regShopDomain},
			[2]string{"X-Tenant-ID", "default"}); code != 200 {
			t.Fatalf("= %d %s", code, e)
		}
		if st := p.order("shopify", "5006", "", 1); st.Status != "PLACED" {
			t.Fatalf("order in default = %+v", st)
		}
	})
}
