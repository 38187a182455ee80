package app_test

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

	bunjangsig "github.com/hookline/hookline/pkg/providers/bunjang"
	petstoresig "github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/ingress/app"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

const (
	petSecret   = "petstore-test-secret"
	bunSecret   = "bunjang-test-secret"
	otherTenant = "6f1c2a3b-4d5e-4f70-8a9b-0c1d2e3f4a5b"
	limited     = "0b7e6a2c-1111-4222-8333-944455566677"
	maxBody     = 8192
)

var stdSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("standard-webhooks-test-key-32byt"))

// ingress is one running ingress process (in-process app.Run) against a test NATS server.
type ingress struct {
	t      *testing.T
	nc     *nats.Conn
	js     jetstream.JetStream
	url    string
	admin  string
	client *http.Client
	cancel context.CancelFunc
	done   chan error
}

// natsUnderTest is a test NATS server or cluster.
type natsUnderTest interface {
	Conn(t testing.TB) (*nats.Conn, jetstream.JetStream)
}

// natsURL is the NATS_URL of n: its URL, or every server of a cluster.
func natsURL(n natsUnderTest) string {
	if c, ok := n.(*testkit.NATSCluster); ok {
		return c.URLs()
	}
	return n.(*testkit.NATS).URL
}

func startIngress(t *testing.T, n natsUnderTest, extra map[string]string) *ingress {
	t.Helper()
	dir := t.TempDir()
	tenants := fmt.Sprintf(`tenants:
  - id: default
  - id: %s
    providers:
      petstore: {secrets: ["%s"]}
  - id: %s
    rateLimit: {rps: 0.01, burst: 1}
    providers:
      petstore: {secrets: ["%s"]}
sources:
  - name: acme
    tenant: default
    secrets: ["%s"]
`, otherTenant, petSecret, limited, petSecret, stdSecret)
	file := filepath.Join(dir, "tenants.yaml")
	if err := os.WriteFile(file, []byte(tenants), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"NATS_URL":                  natsURL(n),
		"HOOKLINE_HTTP_ADDR":        "127.0.0.1:0",
		"HOOKLINE_ADMIN_ADDR":       "127.0.0.1:0",
		"HOOKLINE_PETSTORE_SECRETS": "rotated-old-secret," + petSecret,
		"HOOKLINE_BUNJANG_SECRETS":  bunSecret,
		"HOOKLINE_MAX_BODY_BYTES":   strconv.Itoa(maxBody),
		"HOOKLINE_PUBLISH_TIMEOUT":  "700ms",
		"HOOKLINE_CONFIG":           file,
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	addrs := make(chan [2]net.Addr, 1)
	cfg.OnListen = func(pub, adm net.Addr) { addrs <- [2]net.Addr{pub, adm} }
	ctx, cancel := context.WithCancel(context.Background())
	in := &ingress{t: t, cancel: cancel, done: make(chan error, 1),
		client: &http.Client{Timeout: 10 * time.Second}}
	go func() { in.done <- app.Run(ctx, cfg, zap.NewNop()) }()
	select {
	case a := <-addrs:
		in.url, in.admin = "http://"+a[0].String(), "http://"+a[1].String()
	case err := <-in.done:
		t.Fatalf("ingress exited at start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("ingress did not start")
	}
	in.nc, in.js = n.Conn(t)
	t.Cleanup(func() { in.stop() })
	return in
}

// stop shuts the ingress down and returns Run's error (once).
func (in *ingress) stop() error {
	if in.cancel == nil {
		return nil
	}
	in.cancel()
	in.cancel = nil
	in.client.CloseIdleConnections()
	select {
	case err := <-in.done:
		return err
	case <-time.After(30 * time.Second):
		in.t.Fatal("ingress did not stop")
		return nil
	}
}

type request struct {
	path    string
	body    []byte
	headers map[string]string
	chunked bool // send without Content-Length (Transfer-Encoding: chunked)
}

func (in *ingress) do(r request) (*http.Response, []byte) {
	in.t.Helper()
	return postRequest(in.t, in.client, in.url, r)
}

// postRequest sends r to base and returns the response with its body read.
func postRequest(t testing.TB, client *http.Client, base string, r request) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader = bytes.NewReader(r.body)
	if r.chunked {
		body = io.MultiReader(body) // no length known
	}
	req, err := http.NewRequest(http.MethodPost, base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", r.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (in *ingress) count() uint64 {
	in.t.Helper()
	s, err := in.js.Stream(context.Background(), streams.Webhooks)
	if err != nil {
		in.t.Fatalf("stream: %v", err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		in.t.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}

func (in *ingress) messages() []jetstream.RawStreamMsg {
	in.t.Helper()
	s, err := in.js.Stream(context.Background(), streams.Webhooks)
	if err != nil {
		in.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		in.t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			in.t.Fatalf("get %d: %v", seq, err)
		}
		out = append(out, *m)
	}
	return out
}

func petstoreBody(id string, ts time.Time) []byte {
	return []byte(fmt.Sprintf(`{"eventId":%q,"eventType":"order.statusChanged","timestamp":%q,"data":{"order":{"id":"ord-1","status":"APPROVED"},"previousStatus":"PLACED","newStatus":"APPROVED","changedAt":%q}}`,
		id, ts.UTC().Format(time.RFC3339), ts.UTC().Format(time.RFC3339)))
}

func petstore(id string, tenant string) request {
	body := petstoreBody(id, time.Now())
	h := map[string]string{petstoresig.HeaderSignature: petstoresig.Sign([]byte(petSecret), body)}
	if tenant != "" {
		h["X-Tenant-ID"] = tenant
	}
	return request{path: "/webhooks/petstore", body: body, headers: h}
}

const bunjangVectorBody = `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":503344,"orderStatus":"PAYMENT_RECEIVED"}]}}`

func bunjang(body string, t time.Time) request {
	return request{path: "/webhooks/bunjang", body: []byte(body), headers: map[string]string{
		bunjangsig.HeaderSignature: bunjangsig.Sign([]byte(bunSecret), t, []byte(body)),
	}}
}

func standard(id string) request {
	body := []byte(`{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`)
	key, _ := standardwebhooks.Key([]byte(stdSecret))
	now := time.Now()
	return request{path: "/webhooks/acme", body: body, headers: map[string]string{
		standardwebhooks.HeaderID:        id,
		standardwebhooks.HeaderTimestamp: strconv.FormatInt(now.Unix(), 10),
		standardwebhooks.HeaderSignature: standardwebhooks.Sign(key, id, now, body),
	}}
}

// Acceptance 2: each provider's valid webhook is answered with its success status and stored
// once, byte for byte, with every contract header; a resend is answered the same and not stored
// again.
func TestIngressStoresEachProviderOnce(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, nil)
	tests := []struct {
		name         string
		give         request
		wantStatus   int
		wantSubject  string
		wantMsgID    string
		wantEventID  string
		wantType     string
		wantProvider string
		wantTenant   string
	}{
		{"petstore", petstore("evt-pet-1", ""), 200, "webhooks.petstore.default",
			"petstore:default:evt-pet-1", "evt-pet-1", "order.statusChanged", "petstore", "default"},
		{"petstore other tenant", petstore("evt-pet-1", strings.ToUpper(otherTenant)), 200, "webhooks.petstore." + otherTenant,
			"petstore:" + otherTenant + ":evt-pet-1", "evt-pet-1", "order.statusChanged", "petstore", otherTenant},
		{"bunjang", bunjang(bunjangVectorBody, time.Now()), 204, "webhooks.bunjang.default",
			"bunjang:default:01K0AZRPB4N36H9NMDJRMYXM7A", "01K0AZRPB4N36H9NMDJRMYXM7A", "order.status.changed", "bunjang", "default"},
		{"standard source", standard("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"), 204, "webhooks.acme.default",
			"acme:default:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "order.status.changed", "acme", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.count()
			for attempt := 1; attempt <= 2; attempt++ {
				resp, body := in.do(tt.give)
				if resp.StatusCode != tt.wantStatus || len(body) != 0 {
					t.Fatalf("attempt %d: got %d %q, want %d and an empty body", attempt, resp.StatusCode, body, tt.wantStatus)
				}
				if got := in.count(); got != before+1 {
					t.Fatalf("attempt %d: stream holds %d new messages, want 1", attempt, got-before)
				}
			}
			msgs := in.messages()
			m := msgs[len(msgs)-1]
			if !bytes.Equal(m.Data, tt.give.body) {
				t.Errorf("stored body differs from the raw body:\n got %s\nwant %s", m.Data, tt.give.body)
			}
			if m.Subject != tt.wantSubject {
				t.Errorf("subject %q, want %q", m.Subject, tt.wantSubject)
			}
			for k, want := range map[string]string{
				"Nats-Msg-Id": tt.wantMsgID, "Hookline-Provider": tt.wantProvider, "Hookline-Tenant": tt.wantTenant,
				"Hookline-Event-Id": tt.wantEventID, "Hookline-Event-Type": tt.wantType,
			} {
				if got := m.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			at, err := time.Parse(time.RFC3339Nano, m.Header.Get("Hookline-Received-At"))
			if err != nil || time.Since(at) > time.Minute || time.Since(at) < 0 {
				t.Errorf("Hookline-Received-At %q: not a recent RFC 3339 time (%v)", m.Header.Get("Hookline-Received-At"), err)
			}
		})
	}
}

// Acceptance 3: every row of the error table, with nothing stored for any of them.
func TestIngressErrorTable(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, nil)
	in.do(petstore("warm-up", "")) // creates nothing new below; the count is taken after it

	signedPet := func(body string) request {
		return request{path: "/webhooks/petstore", body: []byte(body), headers: map[string]string{
			petstoresig.HeaderSignature: petstoresig.Sign([]byte(petSecret), []byte(body))}}
	}
	wrongSig := petstore("evt-wrong", "")
	wrongSig.headers[petstoresig.HeaderSignature] = petstoresig.Sign([]byte("not-the-secret"), wrongSig.body)
	noSig := petstore("evt-nosig", "")
	delete(noSig.headers, petstoresig.HeaderSignature)
	garbled := bunjang(bunjangVectorBody, time.Now())
	garbled.headers[bunjangsig.HeaderSignature] = "t=abc,v0=zz"
	staleBody := petstoreBody("evt-old", time.Now().Add(-73*time.Hour))
	big := petstoreBody("evt-big", time.Now())
	big = append(big[:len(big)-1], []byte(`,"pad":"`+strings.Repeat("x", maxBody)+`"}`)...)
	missingItems := `{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7B","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100}}`
	stdStale := standard("msg_stale")
	key, _ := standardwebhooks.Key([]byte(stdSecret))
	old := time.Now().Add(-10 * time.Minute)
	stdStale.headers[standardwebhooks.HeaderTimestamp] = strconv.FormatInt(old.Unix(), 10)
	stdStale.headers[standardwebhooks.HeaderSignature] = standardwebhooks.Sign(key, "msg_stale", old, stdStale.body)

	tests := []struct {
		name       string
		give       request
		wantStatus int
		wantCode   string
	}{
		{"not json", signedPet(`{"eventId": nope`), 400, "malformed_payload"},
		{"missing eventId", signedPet(`{"eventType":"order.statusChanged","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}`), 400, "malformed_payload"},
		{"missing timestamp", signedPet(`{"eventId":"e1","eventType":"order.statusChanged"}`), 400, "malformed_payload"},
		{"bunjang items missing", bunjang(missingItems, time.Now()), 400, "malformed_payload"},
		{"bunjang eventId not a ULID", bunjang(strings.Replace(bunjangVectorBody, "01K0AZRPB4N36H9NMDJRMYXM7A", "not-a-ulid", 1), time.Now()), 400, "malformed_payload"},
		{"signature missing", noSig, 401, "invalid_signature"},
		{"signature wrong", wrongSig, 401, "invalid_signature"},
		{"signature garbled", garbled, 401, "invalid_signature"},
		{"bunjang stale t", bunjang(bunjangVectorBody, time.Now().Add(-10*time.Minute)), 401, "stale_timestamp"},
		{"petstore replayed timestamp", signedPet(string(staleBody)), 401, "stale_timestamp"},
		{"standard stale timestamp", stdStale, 401, "stale_timestamp"},
		{"unknown provider", request{path: "/webhooks/nope", body: []byte(`{}`)}, 404, "unknown_provider"},
		{"unknown tenant", petstore("evt-t", "11111111-2222-4333-8444-555555555555"), 404, "unknown_tenant"},
		{"tenant not a uuid", petstore("evt-t2", "acme corp"), 404, "unknown_tenant"},
		{"bunjang not configured for tenant", func() request {
			r := bunjang(bunjangVectorBody, time.Now())
			r.headers["X-Tenant-ID"] = otherTenant
			return r
		}(), 404, "unknown_provider"},
		{"too large", signedPet(string(big)), 413, "payload_too_large"},
	}
	before := in.count()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := in.do(tt.give)
			assertProblem(t, resp, body, tt.wantStatus, tt.wantCode)
			for _, secret := range []string{petSecret, bunSecret, stdSecret, tt.give.headers[petstoresig.HeaderSignature]} {
				if secret != "" && bytes.Contains(body, []byte(secret)) {
					t.Errorf("error body leaks a secret or signature: %s", body)
				}
			}
		})
	}

	t.Run("rate limited", func(t *testing.T) {
		resp, body := in.do(petstore("evt-rl-1", limited))
		if resp.StatusCode != 200 {
			t.Fatalf("first request of the burst: %d %s", resp.StatusCode, body)
		}
		before++ // that one is stored
		resp, body = in.do(petstore("evt-rl-2", limited))
		assertProblem(t, resp, body, 429, "rate_limited")
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
		}
	})
	if got := in.count(); got != before {
		t.Fatalf("rejected requests stored %d messages, want 0", got-before)
	}
}

func assertProblem(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var p struct{ Code, Message string }
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("status %d body %q: not JSON: %v", resp.StatusCode, body, err)
	}
	if resp.StatusCode != status || p.Code != code || p.Message == "" {
		t.Fatalf("got %d %+v, want %d code %q with a message", resp.StatusCode, p, status, code)
	}
}

// Acceptance 4: with NATS down the ingress answers 503 with Retry-After within the publish
// timeout and stores nothing; when NATS returns, the same ingress stores again.
func TestIngressNATSDownThenBack(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, nil)
	if resp, body := in.do(petstore("before-outage", "")); resp.StatusCode != 200 {
		t.Fatalf("before outage: %d %s", resp.StatusCode, body)
	}
	n.Stop()
	for i := range 3 {
		start := time.Now()
		resp, body := in.do(petstore(fmt.Sprintf("during-outage-%d", i), ""))
		took := time.Since(start)
		assertProblem(t, resp, body, 503, "unavailable")
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
		}
		// The publish timeout is 700ms; the answer must not wait for NATS much past it.
		if took > 5*time.Second {
			t.Errorf("503 took %s, want about the 700ms publish timeout", took)
		}
	}
	if code := getStatus(t, in.admin+"/readyz"); code != 503 {
		t.Errorf("/readyz during outage = %d, want 503", code)
	}
	n.Start()
	deadline := time.Now().Add(20 * time.Second)
	var resp *http.Response
	var body []byte
	for time.Now().Before(deadline) {
		resp, body = in.do(petstore("after-outage", ""))
		if resp.StatusCode == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("after NATS returned: %d %s", resp.StatusCode, body)
	}
	if code := getStatus(t, in.admin+"/readyz"); code != 200 {
		t.Errorf("/readyz after outage = %d, want 200", code)
	}
	got := map[string]bool{}
	for _, m := range in.messages() {
		got[m.Header.Get("Hookline-Event-Id")] = true
	}
	for _, id := range []string{"before-outage", "after-outage"} {
		if !got[id] {
			t.Errorf("%s not stored", id)
		}
	}
	for i := range 3 {
		if id := fmt.Sprintf("during-outage-%d", i); got[id] {
			t.Errorf("%s answered 503 but stored", id)
		}
	}
}

// A shutdown while NATS is down (a deploy during a broker restart) is still clean: nothing is
// buffered while reconnecting, so there is nothing to drain and Run returns nil (exit status 0).
func TestIngressStopsCleanlyDuringNATSOutage(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, nil)
	if resp, body := in.do(petstore("before-outage", "")); resp.StatusCode != 200 {
		t.Fatalf("before outage: %d %s", resp.StatusCode, body)
	}
	n.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for getStatus(t, in.admin+"/readyz") != 503 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never reported the outage")
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	if err := in.stop(); err != nil {
		t.Fatalf("Run during a NATS outage = %v, want nil", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s during the outage", took)
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// Acceptance 5: 200 concurrent requests; every 2xx is in the stream, nothing is in the stream
// without a 2xx, and no goroutine outlives the shutdown.
func TestIngressConcurrentRequestsNoLossNoLeak(t *testing.T) {
	n := testkit.StartNATSProcess(t)
	ignore := goleak.IgnoreCurrent()
	in := startIngress(t, n, nil)
	const total = 200
	statuses := make([]int, total)
	var wg sync.WaitGroup
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r request
			switch i % 3 {
			case 0:
				r = petstore(fmt.Sprintf("conc-%d", i), "")
			case 1:
				r = standard(fmt.Sprintf("conc-%d", i))
			default:
				id := fmt.Sprintf("01K0AZRPB4N36H9NMDJR%06d", i)
				r = bunjang(strings.Replace(bunjangVectorBody, "01K0AZRPB4N36H9NMDJRMYXM7A", id, 1), time.Now())
			}
			req, _ := http.NewRequest(http.MethodPost, in.url+r.path, bytes.NewReader(r.body))
			for k, v := range r.headers {
				req.Header.Set(k, v)
			}
			resp, err := in.client.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			_ = resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	want := map[string]bool{}
	for i, s := range statuses {
		if s/100 == 2 {
			id := fmt.Sprintf("conc-%d", i)
			if i%3 == 2 {
				id = fmt.Sprintf("01K0AZRPB4N36H9NMDJR%06d", i)
			}
			want[id] = true
		} else if s != 0 {
			t.Errorf("request %d answered %d", i, s)
		}
	}
	if len(want) != total {
		t.Errorf("%d of %d requests answered 2xx", len(want), total)
	}
	if err := in.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	s, err := in.js.Stream(context.Background(), streams.Webhooks)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		stored[m.Header.Get("Hookline-Event-Id")]++
	}
	for id := range want {
		if stored[id] != 1 {
			t.Errorf("%s answered 2xx, stored %d times", id, stored[id])
		}
	}
	for id := range stored {
		if !want[id] {
			t.Errorf("%s stored without a 2xx", id)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	in.nc.Close()
	goleak.VerifyNone(t, ignore)
}

// A stream deleted under a running ingress (or a NATS server back without its data) is
// re-created: the request that finds it missing gets 503, later ones are stored.
func TestIngressRecreatesMissingStream(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, nil)
	if err := in.js.DeleteStream(context.Background(), streams.Webhooks); err != nil {
		t.Fatalf("delete stream: %v", err)
	}
	resp, body := in.do(petstore("while-missing", ""))
	assertProblem(t, resp, body, 503, "unavailable")
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, body = in.do(petstore("after-recreate", ""))
		if resp.StatusCode == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("stream not re-created: %d %s", resp.StatusCode, body)
	}
	msgs := in.messages()
	if len(msgs) != 1 || msgs[0].Header.Get("Hookline-Event-Id") != "after-recreate" {
		t.Fatalf("stream holds %d messages, want only after-recreate", len(msgs))
	}
}

// The callback intake is mounted: a valid request is stored in CALLBACKS once, even when the
// client retries it.
func TestIngressCallbackIntakeMounted(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, map[string]string{
		"HOOKLINE_JWT_SECRET":             "jwt-test-secret",
		"HOOKLINE_CALLBACK_ALLOW_PRIVATE": "true",
	})
	token := signJWT(t, "jwt-test-secret", time.Now().Add(time.Hour))
	body := []byte(`{"amount": 738.05, "currency": "USD", "timestamp": "1758613403", "callbackUrl": "http://127.0.0.1:9/cb"}`)
	for attempt := 1; attempt <= 2; attempt++ {
		resp, b := in.do(request{path: "/v1/orders/ord-42", body: body, headers: map[string]string{"Authorization": "Bearer " + token}})
		var obj map[string]any
		if resp.StatusCode != 201 || json.Unmarshal(b, &obj) != nil {
			t.Fatalf("attempt %d: %d %s, want 201 with a JSON object", attempt, resp.StatusCode, b)
		}
	}
	s, err := in.js.Stream(context.Background(), streams.Callbacks)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("CALLBACKS holds %d messages, want 1", info.State.Msgs)
	}
	m, err := s.GetMsg(context.Background(), info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(m.Data, &req); err != nil {
		t.Fatal(err)
	}
	if m.Subject != "callbacks.default" || m.Header.Get("Hookline-Order-Id") != "ord-42" || req["orderId"] != "ord-42" || req["amount"] != "738.05" {
		t.Fatalf("stored %s %v %s", m.Subject, m.Header, m.Data)
	}
	resp, b := in.do(request{path: "/v1/orders/ord-42", body: body, headers: map[string]string{"Authorization": "Bearer not-a-jwt"}})
	if resp.StatusCode != 401 {
		t.Fatalf("bad JWT: %d %s", resp.StatusCode, b)
	}
}

// signJWT makes an HS256 token with exp, by hand, so the test shares no code with the verifier.
func signJWT(t *testing.T, secret string, exp time.Time) string {
	t.Helper()
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":"client-1","exp":%d,"iat":%d}`, exp.Unix(), time.Now().Unix())))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc.EncodeToString(mac.Sum(nil))
}

// Stopped before NATS was ever reachable (it keeps retrying in the background), the ingress
// returns nil: a stop asked for is not a failure.
func TestIngressStopsCleanlyBeforeNATS(t *testing.T) {
	cfg, err := app.LoadConfig(func(k string) (string, bool) {
		v, ok := map[string]string{
			"NATS_URL": fmt.Sprintf("nats://127.0.0.1:%d", testkit.FreePort(t)), "HOOKLINE_HTTP_ADDR": "127.0.0.1:0",
			"HOOKLINE_ADMIN_ADDR": "127.0.0.1:0", "HOOKLINE_PETSTORE_SECRETS": petSecret,
		}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, zap.NewNop()) }()
	time.Sleep(700 * time.Millisecond) // it is retrying the streams now
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
}
