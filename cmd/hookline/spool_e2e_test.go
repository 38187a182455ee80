package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	workerapp "github.com/hookline/hookline/services/worker/app"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// buildIngressBin builds the ingress service once per test binary.
var buildIngressBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hookline-ingress-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ingress")
	out, err := exec.Command("go", "build", "-o", bin, filepath.Join("..", "..", "services", "ingress")).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// Issue 12, acceptance 3, end to end: NATS stopped, webhooks answered 200 from the ingress's
// spool; the ingress kill -9'd and restarted with NATS still down, more answered from the spool;
// NATS started: every webhook is applied exactly once by the worker (the query API shows each
// order at version 1, the worker counts no duplicate, ORDERS holds each canonical event once).
func TestSpoolKillNineAppliedOnce(t *testing.T) {
	const secret = "spool-e2e-secret"
	bin, err := buildIngressBin()
	if err != nil {
		t.Fatal(err)
	}
	n := testkit.StartNATS(t)
	rd := testkit.StartRedis(t)
	spoolDir := t.TempDir()
	public := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	var ingress *exec.Cmd
	var stderr bytes.Buffer
	start := func() {
		t.Helper()
		ingress = exec.Command(bin)
		ingress.Env = cleanEnv("NATS_URL="+n.URL, "HOOKLINE_HTTP_ADDR="+public,
			"HOOKLINE_ADMIN_ADDR="+fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
			"HOOKLINE_PETSTORE_SECRETS="+secret, "HOOKLINE_PUBLISH_TIMEOUT=500ms", "HOOKLINE_LOG_LEVEL=warn",
			"HOOKLINE_SPOOL_DIR="+spoolDir)
		stderr.Reset()
		ingress.Stderr = &stderr
		if err := ingress.Start(); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 30*time.Second, "ingress listening", func() bool {
			c, err := net.DialTimeout("tcp", public, time.Second)
			if err == nil {
				_ = c.Close()
			}
			return err == nil
		})
	}
	kill := func() {
		if ingress != nil {
			_ = ingress.Process.Kill()
			_ = ingress.Wait()
			ingress = nil
		}
	}
	t.Cleanup(kill)
	start()

	wcfg, err := workerapp.LoadConfig(func(k string) (string, bool) {
		v, ok := map[string]string{"NATS_URL": n.URL, "REDIS_URL": rd.URL}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wcfg.AdminListener = ln
	worker := "http://" + ln.Addr().String()
	testkit.RunInBackground(t, func(ctx context.Context) error { return workerapp.Run(ctx, wcfg, zap.NewNop()) })

	client := &http.Client{Timeout: 10 * time.Second}
	type sent struct{ order, status string }
	var all []sent
	send := func(order, status string) {
		t.Helper()
		p := petstore.Provider{}
		s, err := p.Sample(providers.SampleSpec{EventID: order + "-" + status, OrderKey: order, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		sig, err := p.Sign([]byte(secret), s, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, "http://"+public+"/webhooks/petstore", bytes.NewReader(s.Body))
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range append(s.Headers, sig...) {
			req.Header.Set(kv[0], kv[1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", order, status, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s answered %d, want 200\n%s", order, status, resp.StatusCode, stderr.String())
		}
		all = append(all, sent{order, status})
	}
	orderKey := func(i int) string { return fmt.Sprintf("sp-ord-%02d", i) }

	send(orderKey(0), "PLACED") // before the outage
	n.Stop()
	// One event per order: the worker handles a backlog concurrently, so two events of one order
	// sent in the same second could be applied in either order (contract section 6).
	for i := range 20 {
		send(orderKey(i+1), "PLACED")
	}
	kill() // kill -9 while the spool holds every webhook answered during the outage
	client.CloseIdleConnections()
	start()
	for i := range 5 {
		send(orderKey(i+21), "PLACED") // after the restart, NATS still down
	}
	n.Start()

	// Every order at PLACED v1.
	want := map[string]struct {
		status  string
		version int64
	}{}
	for _, s := range all {
		w := want[s.order]
		w.status, w.version = s.status, w.version+1
		want[s.order] = w
	}
	for order, w := range want {
		var last string
		deadline := time.Now().Add(90 * time.Second)
		for {
			resp, err := client.Get(worker + "/v1/orders/petstore/" + order)
			if err == nil {
				var st orderState
				derr := jsonDecode(resp, &st)
				_ = resp.Body.Close()
				if resp.StatusCode == 200 && derr == nil && st.Status == w.status && st.Version == w.version {
					break
				}
				last = fmt.Sprintf("%d %+v", resp.StatusCode, st)
			}
			if time.Now().After(deadline) {
				h, _ := client.Get(worker + "/v1/orders/petstore/" + order + "/history")
				var hb []byte
				if h != nil {
					hb, _ = io.ReadAll(h.Body)
					_ = h.Body.Close()
				}
				t.Fatalf("order %s never at %s v%d; last %s\nhistory %s\ningress:\n%s", order, w.status, w.version, last, hb, stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if got := workerOutcomes(t, client, worker, "applied"); got != float64(len(all)) {
		t.Errorf("worker applied %v events, want %d (each webhook once)", got, len(all))
	}
	if got := workerOutcomes(t, client, worker, "duplicate"); got != 0 {
		t.Errorf("worker saw %v duplicates, want 0 (each spooled webhook forwarded once)", got)
	}
	_, js := n.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]int{}
	for _, m := range testkit.StreamMsgs(t, ctx, js, streams.Orders) {
		seen[m.Header.Get(jetstream.MsgIDHeader)]++
	}
	for _, s := range all {
		if id := "petstore:default:" + s.order + "-" + s.status; seen[id] != 1 {
			t.Errorf("ORDERS holds %s %d times, want once", id, seen[id])
		}
	}
	if len(seen) != len(all) {
		t.Errorf("ORDERS holds %d canonical events, want %d", len(seen), len(all))
	}
}

// workerOutcomes reads hookline_worker_outcomes_total for kind, summed over providers.
func workerOutcomes(t *testing.T, client *http.Client, worker, kind string) float64 {
	t.Helper()
	resp, err := client.Get(worker + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "hookline_worker_outcomes_total{") || !strings.Contains(line, `kind="`+kind+`"`) {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += f
	}
	return sum
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
