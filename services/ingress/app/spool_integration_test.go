package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/ingress/internal/spool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// buildIngress builds the ingress binary once per test binary run.
var buildIngress = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hookline-ingress-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ingress")
	out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// proc is an ingress running as its own process, so that it can be kill -9'd.
type proc struct {
	t           *testing.T
	cmd         *exec.Cmd
	url, admin  string
	stderr      *bytes.Buffer
	exited      chan error
	client      *http.Client
	publicAddr  string
	adminAddr   string
	spoolDir    string
	natsURL     string
	maxSpoolEnv string
}

func newProc(t *testing.T, natsURL, spoolDir, maxSpool string) *proc {
	t.Helper()
	p := &proc{t: t, natsURL: natsURL, spoolDir: spoolDir, maxSpoolEnv: maxSpool,
		publicAddr: fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
		adminAddr:  fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
		client:     &http.Client{Timeout: 10 * time.Second}}
	p.url, p.admin = "http://"+p.publicAddr, "http://"+p.adminAddr
	return p
}

// start runs the binary; wait says whether to wait for the public port.
func (p *proc) start(wait bool) {
	p.t.Helper()
	bin, err := buildIngress()
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(),
		"NATS_URL="+p.natsURL, "HOOKLINE_HTTP_ADDR="+p.publicAddr, "HOOKLINE_ADMIN_ADDR="+p.adminAddr,
		"HOOKLINE_PETSTORE_SECRETS="+petSecret, "HOOKLINE_PUBLISH_TIMEOUT=500ms", "HOOKLINE_LOG_LEVEL=info",
		"HOOKLINE_SPOOL_DIR="+p.spoolDir, "HOOKLINE_SPOOL_MAX_BYTES="+p.maxSpoolEnv)
	p.stderr = &bytes.Buffer{}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	cmd := p.cmd
	go func() { p.exited <- cmd.Wait() }()
	p.t.Cleanup(func() { p.kill() })
	if !wait {
		return
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := (&http.Client{Timeout: time.Second}).Get(p.admin + "/healthz"); err == nil {
			_ = c.Body.Close()
			if r, err := http.Post(p.url+"/webhooks/none", "application/json", nil); err == nil {
				_ = r.Body.Close()
				return
			}
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			p.t.Fatalf("ingress exited at start: %v\n%s", err, p.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.t.Fatalf("ingress did not listen\n%s", p.stderr)
}

// kill sends SIGKILL and waits for the process (idempotent).
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
	p.client.CloseIdleConnections()
}

func (p *proc) post(r request) (*http.Response, []byte) {
	p.t.Helper()
	return postRequest(p.t, p.client, p.url, r)
}

func (p *proc) get(path string) (int, string) {
	p.t.Helper()
	resp, err := p.client.Get(p.admin + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric reads one unlabelled gauge from /metrics.
func (p *proc) metric(name string) float64 {
	p.t.Helper()
	_, body := p.get("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				p.t.Fatal(err)
			}
			return f
		}
	}
	p.t.Fatalf("%s not in /metrics", name)
	return 0
}

func (p *proc) assertReadyWithSpool() {
	p.t.Helper()
	code, body := p.get("/readyz")
	var r struct {
		Status   string            `json:"status"`
		Degraded map[string]string `json:"degraded"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		p.t.Fatalf("/readyz body %q: %v", body, err)
	}
	if code != 200 || r.Status != "degraded" || !strings.Contains(r.Degraded["nats"], "spool engaged") {
		p.t.Fatalf("/readyz = %d %s, want 200 saying the spool is engaged", code, body)
	}
}

// Acceptance 3: NATS stopped, webhooks answered 2xx from the spool; the ingress kill -9'd and
// restarted with NATS still down (it serves at once and keeps spooling); NATS started: every
// webhook lands in WEBHOOKS exactly once (by Nats-Msg-Id), in the order answered.
func TestSpoolSurvivesKillAndNATSOutage(t *testing.T) {
	n := testkit.StartNATS(t)
	p := newProc(t, n.URL, t.TempDir(), "")
	p.start(true)
	if resp, body := p.post(petstore("before-outage", "")); resp.StatusCode != 200 {
		t.Fatalf("before the outage: %d %s", resp.StatusCode, body)
	}
	n.Stop()
	var sent []string
	send := func(prefix string, count int) {
		for i := range count {
			id := fmt.Sprintf("%s-%03d", prefix, i)
			r := petstore(id, "")
			r.headers["traceparent"] = spoolTraceparent(id)
			if resp, body := p.post(r); resp.StatusCode != 200 {
				t.Fatalf("%s during the outage: %d %s", id, resp.StatusCode, body)
			}
			sent = append(sent, id)
		}
	}
	send("spooled", 40)
	p.assertReadyWithSpool()
	if got := p.metric("hookline_spool_messages"); got != 40 {
		t.Errorf("hookline_spool_messages = %v, want 40", got)
	}
	if got := p.metric("hookline_spool_bytes"); got <= 0 {
		t.Errorf("hookline_spool_bytes = %v, want > 0", got)
	}

	p.kill() // kill -9 with 40 answered webhooks only in the spool
	p.start(true)
	if got := p.metric("hookline_spool_messages"); got != 40 {
		t.Errorf("after kill -9 and restart: hookline_spool_messages = %v, want 40", got)
	}
	p.assertReadyWithSpool()
	send("after-restart", 10)

	n.Start()
	testkit.Eventually(t, 60*time.Second, "spool drained", func() bool { return p.metric("hookline_spool_messages") == 0 })
	if code, body := p.get("/readyz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/readyz after the drain = %d %s, want 200 ok", code, body)
	}
	_, js := n.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msgs := testkit.StreamMsgs(t, ctx, js, streams.Webhooks)
	byID := map[string]int{}
	var order []string
	for _, m := range msgs {
		byID[m.Header.Get(jetstream.MsgIDHeader)]++
		if ev := m.Header.Get(streams.HeaderEventID); ev != "before-outage" {
			order = append(order, ev)
		}
		if m.Header.Get(streams.HeaderReceivedAt) == "" || m.Header.Get(streams.HeaderEventType) == "" {
			t.Errorf("%s lost its headers: %v", m.Header.Get(streams.HeaderEventID), m.Header)
		}
		// The spooled webhooks keep their trace: the inbound trace id is on the forwarded message.
		if ev := m.Header.Get(streams.HeaderEventID); ev != "before-outage" {
			if got, want := m.Header.Get("traceparent"), spoolTraceparent(ev); !strings.HasPrefix(got, want[:35]) {
				t.Errorf("%s: traceparent %q, want trace id of %q", ev, got, want)
			}
		}
	}
	for _, id := range append([]string{"before-outage"}, sent...) {
		if got := byID[streams.WebhookMsgID("petstore", "default", id)]; got != 1 {
			t.Errorf("%s stored %d times, want once", id, got)
		}
	}
	if len(msgs) != len(sent)+1 {
		t.Errorf("%d messages in WEBHOOKS, want %d", len(msgs), len(sent)+1)
	}
	if strings.Join(order, ",") != strings.Join(sent, ",") {
		t.Errorf("forwarded out of order:\n got %v\nwant %v", order, sent)
	}
}

// A full spool answers 503 unavailable with Retry-After, and /readyz turns 503. A small bound
// (a few records) is a valid HOOKLINE_SPOOL_MAX_BYTES too.
func TestSpoolFullAnswers503(t *testing.T) {
	for _, bound := range []string{"65536", "4096"} {
		t.Run(bound, func(t *testing.T) { spoolFullAnswers503(t, bound) })
	}
}

func spoolFullAnswers503(t *testing.T, maxBytes string) {
	n := testkit.StartNATS(t)
	p := newProc(t, n.URL, t.TempDir(), maxBytes)
	p.start(true)
	n.Stop()
	accepted := 0
	for i := range 1000 {
		resp, body := p.post(petstore(fmt.Sprintf("fill-%04d", i), ""))
		if resp.StatusCode == 200 {
			accepted++
			continue
		}
		assertProblem(t, resp, body, 503, "unavailable")
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
		}
		break
	}
	if accepted == 0 || accepted == 1000 {
		t.Fatalf("%d accepted before a 503, want some and then a 503", accepted)
	}
	if got := p.metric("hookline_spool_messages"); int(got) != accepted {
		t.Errorf("hookline_spool_messages = %v, want %d (every 2xx spooled)", got, accepted)
	}
	if code, body := p.get("/readyz"); code != 503 || !strings.Contains(body, "spool full") {
		t.Errorf("/readyz with a full spool = %d %s, want 503 naming the full spool", code, body)
	}
}

// A damaged spool file stops the start: exit status 1 and one line naming the file.
func TestSpoolDamagedFileRefusesToStart(t *testing.T) {
	tests := []struct {
		name   string
		damage func(path string) error
	}{
		{"truncated", func(path string) error { return os.Truncate(path, 5000) }},
		{"not a spool file", func(path string) error { return os.WriteFile(path, bytes.Repeat([]byte("x"), 64<<10), 0o600) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := spool.Open(dir, spool.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				msg, id := petstoreMsg(i)
				if err := s.Put(msg, id); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, spool.FileName)
			if err := tt.damage(path); err != nil {
				t.Fatal(err)
			}
			p := newProc(t, "nats://127.0.0.1:1", dir, "")
			p.start(false)
			select {
			case err := <-p.exited:
				p.cmd = nil
				var ee *exec.ExitError
				if !asExit(err, &ee) || ee.ExitCode() != 1 {
					t.Fatalf("exit = %v, want status 1", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("ingress started on a damaged spool")
			}
			if out := p.stderr.String(); !strings.Contains(out, path) || !strings.Contains(out, "corrupt") {
				t.Fatalf("stderr does not name the damaged file %s:\n%s", path, out)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
				t.Fatalf("the damaged file was removed or emptied: %v", err)
			}
		})
	}
}

func petstoreMsg(i int) (*nats.Msg, string) {
	id := fmt.Sprintf("damaged-%03d", i)
	m := nats.NewMsg(streams.WebhookSubject("petstore", "default"))
	m.Data = petstoreBody(id, time.Now())
	m.Header.Set(streams.HeaderEventID, id)
	return m, streams.WebhookMsgID("petstore", "default", id)
}

// spoolTraceparent is a traceparent whose trace id is derived from id.
func spoolTraceparent(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "00-" + hex.EncodeToString(sum[:16]) + "-00f067aa0ba902b7-01"
}

func asExit(err error, target **exec.ExitError) bool { return errors.As(err, target) }

// Contract section 10: callback requests (POST /v1/orders/{id}) are spooled like webhooks. With
// NATS down the intake answers 201 from the spool (/readyz stays 200); once JetStream answers,
// the forwarder stores the request in CALLBACKS once, with its subject, Hookline-Order-Id and
// Nats-Msg-Id.
func TestSpoolCallbackRequests(t *testing.T) {
	n := testkit.StartNATS(t)
	env := map[string]string{"HOOKLINE_SPOOL_DIR": t.TempDir()}
	for k, v := range callbackEnv {
		env[k] = v
	}
	in := startIngress(t, n, env)
	gauge := func(name string) float64 {
		t.Helper()
		resp, err := in.client.Get(in.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
		t.Fatalf("%s not in /metrics", name)
		return 0
	}

	n.Stop()
	resp, body := in.do(callbackRequest(t, "ord-spooled"))
	if resp.StatusCode != http.StatusCreated || !json.Valid(body) || body[0] != '{' {
		t.Fatalf("callback request with NATS down: %d %s, want 201 with a JSON object", resp.StatusCode, body)
	}
	if got := gauge("hookline_spool_messages"); got != 1 {
		t.Fatalf("hookline_spool_messages = %v, want 1", got)
	}
	if code := getStatus(t, in.admin+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with the spool accepting = %d, want 200", code)
	}

	n.Start()
	testkit.Eventually(t, 60*time.Second, "spool drained", func() bool { return gauge("hookline_spool_messages") == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs := testkit.StreamMsgs(t, ctx, in.js, streams.Callbacks)
	if len(msgs) != 1 {
		t.Fatalf("CALLBACKS holds %d messages, want the spooled request once", len(msgs))
	}
	m := msgs[0]
	if m.Subject != streams.CallbackSubject("default") || m.Header.Get(streams.HeaderOrderID) != "ord-spooled" ||
		m.Header.Get(jetstream.MsgIDHeader) != streams.CallbackMsgID("default", "ord-spooled", "1758613403") {
		t.Fatalf("forwarded callback request: subject %s, headers %v", m.Subject, m.Header)
	}
	var rec struct {
		OrderID     string `json:"orderId"`
		CallbackURL string `json:"callbackUrl"`
	}
	if err := json.Unmarshal(m.Data, &rec); err != nil || rec.OrderID != "ord-spooled" || rec.CallbackURL == "" {
		t.Fatalf("forwarded body %s: %v", m.Data, err)
	}
}
