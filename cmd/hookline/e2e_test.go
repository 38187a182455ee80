package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// hooklineBin builds the CLI once per test binary.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func hooklineBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hookline-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hookline")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// devPipeline is `hookline dev` running as a subprocess.
type devPipeline struct {
	t       *testing.T
	bin     string
	env     []string
	ingress string // http://host:port
	worker  string // worker admin base URL
	nats    string
	state   string // HOOKLINE_DEV_STATE
	cmd     *exec.Cmd
	out     *syncBuffer
	exited  chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cleanEnv is the test's environment without anything Hookline reads.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HOOKLINE_") || strings.HasPrefix(kv, "NATS_URL=") || strings.HasPrefix(kv, "REDIS_URL=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func startDev(t *testing.T, redisURL string, extraEnv ...string) *devPipeline {
	t.Helper()
	bin := hooklineBin(t)
	port := func() string { return fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)) }
	httpAddr, iadm, wadm, dadm := port(), port(), port(), port()
	natsPort := testkit.FreePort(t)
	d := &devPipeline{t: t, bin: bin, ingress: "http://" + httpAddr, worker: "http://" + wadm,
		nats: fmt.Sprintf("nats://127.0.0.1:%d", natsPort), out: &syncBuffer{}, exited: make(chan error, 1)}
	d.state = filepath.Join(t.TempDir(), "dev.json")
	d.env = cleanEnv(append([]string{"REDIS_URL=" + redisURL, "HOOKLINE_HTTP_ADDR=" + httpAddr, "HOOKLINE_LOG_LEVEL=warn",
		"HOOKLINE_DEV_STATE=" + d.state}, extraEnv...)...)
	d.cmd = exec.Command(bin, "dev", "-data", t.TempDir(), "-nats-port", fmt.Sprint(natsPort),
		"-ingress-admin", iadm, "-worker-admin", wadm, "-dispatcher-admin", dadm)
	d.cmd.Env = d.env
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start hookline dev: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			_, _ = d.out.Write([]byte(line + "\n"))
			if strings.Contains(line, "pipeline is ready") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop() })
	select {
	case <-ready:
	case err := <-d.exited:
		t.Fatalf("hookline dev exited: %v\n%s", err, d.out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("hookline dev not ready:\n%s", d.out.String())
	}
	return d
}

// stop interrupts the pipeline and returns its exit error.
func (d *devPipeline) stop() error {
	if d.cmd == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case err = <-d.exited:
	case <-time.After(45 * time.Second):
		_ = d.cmd.Process.Kill()
		err = fmt.Errorf("hookline dev did not stop on SIGINT")
	}
	d.cmd = nil
	return err
}

// run runs a hookline command against the pipeline and returns its stdout.
func (d *devPipeline) run(args ...string) (string, error) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = append(append([]string{}, d.env...), "NATS_URL="+d.nats)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("hookline %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (d *devPipeline) mustRun(args ...string) string {
	d.t.Helper()
	out, err := d.run(args...)
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

type orderState struct {
	Status  string `json:"status"`
	Version int64  `json:"version"`
	Items   map[string]struct {
		Status  string `json:"status"`
		Version int64  `json:"version"`
	} `json:"items"`
}

// waitReady polls base/readyz until it answers 200.
func (d *devPipeline) waitReady(base string) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.t.Fatalf("%s/readyz never answered 200", base)
}

// waitOrder polls `hookline orders get` until check accepts the state.
func (d *devPipeline) waitOrder(provider, order string, check func(orderState) bool) orderState {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		out, err := d.run("orders", "get", provider, order, "-url", d.worker)
		if err == nil {
			var s orderState
			if jerr := json.Unmarshal([]byte(out), &s); jerr != nil {
				d.t.Fatalf("orders get printed %q: %v", out, jerr)
			}
			if check(s) {
				return s
			}
		}
		last = fmt.Sprint(out, err)
		time.Sleep(150 * time.Millisecond)
	}
	d.t.Fatalf("order %s/%s never reached the wanted state; last: %s\n%s", provider, order, last, d.out.String())
	return orderState{}
}

// Issue 5, acceptance 1: the README's run command brings the pipeline up; webhooks sent with
// `hookline send` are applied and read back with `hookline orders get`; SIGINT stops it cleanly.
func TestDevSendOrdersGet(t *testing.T) {
	r := testkit.StartRedis(t)
	d := startDev(t, r.URL)
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-e2e", "-status", "PLACED")
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-e2e", "-status", "SHIPPED")
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-e2e", "-type", "payment.succeeded")
	got := d.waitOrder("petstore", "ord-e2e", func(s orderState) bool { return s.Status == "SHIPPED" })
	if got.Version != 2 {
		t.Errorf("petstore ord-e2e version %d, want 2 (PLACED, then SHIPPED; the late APPROVED is stale)", got.Version)
	}
	// Issue 13: the history lists the three webhooks, two applied and the late APPROVED stale.
	var hist struct {
		Events []struct{ Kind string } `json:"events"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(hist.Events) < 3 && time.Now().Before(deadline) {
		if out, err := d.run("orders", "history", "petstore", "ord-e2e", "-json", "-url", d.worker); err == nil {
			if jerr := json.Unmarshal([]byte(out), &hist); jerr != nil {
				t.Fatalf("orders history -json printed %q: %v", out, jerr)
			}
		}
		if len(hist.Events) < 3 {
			time.Sleep(150 * time.Millisecond)
		}
	}
	if len(hist.Events) != 3 || hist.Events[0].Kind != "applied" || hist.Events[1].Kind != "applied" || hist.Events[2].Kind != "stale" {
		t.Errorf("orders history = %+v, want applied, applied, stale", hist.Events)
	}
	if table := d.mustRun("orders", "history", "petstore", "ord-e2e", "-url", d.worker); !strings.Contains(table, "SEQ  KIND") ||
		strings.Count(table, "petstore:default:") != 2 || !strings.Contains(table, "stale") {
		t.Errorf("orders history table:\n%s", table)
	}
	d.mustRun("send", "bunjang", "-url", d.ingress, "-order", "777", "-items", "7771,7772", "-status", "PAYMENT_RECEIVED")
	b := d.waitOrder("bunjang", "777", func(s orderState) bool { return len(s.Items) == 2 })
	for id, it := range b.Items {
		if it.Status != "APPROVED" || it.Version != 1 {
			t.Errorf("bunjang item %s: %+v, want APPROVED version 1", id, it)
		}
	}
	if _, err := d.run("orders", "get", "petstore", "no-such-order", "-url", d.worker); err == nil {
		t.Error("orders get of an unknown order succeeded")
	}
	if err := d.stop(); err != nil {
		t.Fatalf("hookline dev did not exit cleanly: %v\n%s", err, d.out.String())
	}
}

var _ io.Writer = (*syncBuffer)(nil)

// Issue 5, acceptance 2: webhooks whose deliveries ran out while Redis was down are
// dead-lettered; after Redis returns, `hookline dlq replay` puts them back and each is applied
// exactly once (a second replay finds nothing, versions do not move).
func TestDevDLQReplayAfterRedisOutage(t *testing.T) {
	r := testkit.StartRedisAOF(t)
	d := startDev(t, r.URL, "HOOKLINE_WORKER_MAX_DELIVER=2", "HOOKLINE_WORKER_BACKOFF=100ms")
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-a", "-status", "PLACED")
	d.waitOrder("petstore", "ord-a", func(s orderState) bool { return s.Status == "PLACED" })

	r.Stop()
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-a", "-status", "SHIPPED")
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-b", "-status", "APPROVED")
	d.mustRun("send", "bunjang", "-url", d.ingress, "-order", "4242", "-items", "42421", "-status", "SHIPPED")
	deadline := time.Now().Add(60 * time.Second)
	var list string
	for time.Now().Before(deadline) {
		list = d.mustRun("dlq", "list", "-reason", "max_deliveries")
		if strings.Contains(list, "3 dead letters") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(list, "3 dead letters") {
		t.Fatalf("dead letters after the outage:\n%s\n%s", list, d.out.String())
	}
	if out := d.mustRun("dlq", "list", "-provider", "bunjang"); !strings.Contains(out, "1 dead letters") {
		t.Errorf("provider filter: %s", out)
	}

	r.Start()
	d.waitReady(d.worker) // replay once the worker sees Redis again, as an operator would
	if out := d.mustRun("dlq", "replay"); !strings.Contains(out, "3 dead letters replayed") {
		t.Fatalf("dlq replay: %s", out)
	}
	a := d.waitOrder("petstore", "ord-a", func(s orderState) bool { return s.Status == "SHIPPED" })
	b := d.waitOrder("petstore", "ord-b", func(s orderState) bool { return s.Status == "APPROVED" })
	c := d.waitOrder("bunjang", "4242", func(s orderState) bool { return s.Items["42421"].Status == "SHIPPED" })
	if a.Version != 2 || b.Version != 1 || c.Items["42421"].Version != 1 {
		t.Fatalf("versions after replay: ord-a %d, ord-b %d, 4242/42421 %d; want 2, 1, 1", a.Version, b.Version, c.Items["42421"].Version)
	}
	if out := d.mustRun("dlq", "list"); !strings.Contains(out, "0 dead letters") {
		t.Errorf("DLQ after replay:\n%s", out)
	}
	if out := d.mustRun("dlq", "replay"); !strings.Contains(out, "0 dead letters replayed") {
		t.Errorf("second replay: %s", out)
	}
	time.Sleep(500 * time.Millisecond)
	if again := d.waitOrder("petstore", "ord-a", func(orderState) bool { return true }); again.Version != 2 {
		t.Errorf("ord-a version %d after a second replay, want 2", again.Version)
	}
}

// Issue 5, acceptance 3: flush Redis, run `hookline replay`, and every order's state equals
// what it was before.
func TestDevReplayRebuildsState(t *testing.T) {
	r := testkit.StartRedis(t)
	d := startDev(t, r.URL)
	type step struct {
		provider, order, status, items string
		want                           func(orderState) bool // the state once the step is handled
	}
	status := func(want string, version int64) func(orderState) bool {
		return func(s orderState) bool { return s.Status == want && s.Version == version }
	}
	items := func(want map[string]string) func(orderState) bool {
		return func(s orderState) bool {
			for id, st := range want {
				if s.Items[id].Status != st {
					return false
				}
			}
			return true
		}
	}
	steps := []step{
		{"petstore", "ord-1", "PLACED", "", status("PLACED", 1)},
		{"petstore", "ord-1", "SHIPPED", "", status("SHIPPED", 2)},
		{"petstore", "ord-1", "DELIVERED", "", status("DELIVERED", 3)},
		{"petstore", "ord-2", "APPROVED", "", status("APPROVED", 1)},
		{"petstore", "ord-2", "CANCELLED", "", status("CANCELLED", 2)},
		{"petstore", "ord-2", "SHIPPED", "", nil}, // rejected: out of a terminal state
		{"bunjang", "5150", "PAYMENT_RECEIVED", "51501,51502", items(map[string]string{"51501": "APPROVED", "51502": "APPROVED"})},
		{"bunjang", "5150", "SHIPPED", "51501", items(map[string]string{"51501": "SHIPPED", "51502": "APPROVED"})},
	}
	for _, s := range steps {
		args := []string{"send", s.provider, "-url", d.ingress, "-order", s.order, "-status", s.status}
		if s.items != "" {
			args = append(args, "-items", s.items)
		}
		d.mustRun(args...)
		// One at a time, so the live worker applies them in the stream's order, as the replay will.
		if s.want != nil {
			d.waitOrder(s.provider, s.order, s.want)
		} else {
			time.Sleep(500 * time.Millisecond)
		}
	}
	before := map[string]string{}
	for _, o := range [][2]string{{"petstore", "ord-1"}, {"petstore", "ord-2"}, {"bunjang", "5150"}} {
		before[o[0]+"/"+o[1]] = d.mustRun("orders", "get", o[0], o[1], "-url", d.worker)
	}
	if err := r.Client(t).FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.run("orders", "get", "petstore", "ord-1", "-url", d.worker); err == nil {
		t.Fatal("order still known after FLUSHALL")
	}
	if out := d.mustRun("replay", "-from", "all"); !strings.Contains(out, "replay done") {
		t.Fatalf("replay: %s", out)
	}
	for key, was := range before {
		p := strings.SplitN(key, "/", 2)
		now := d.mustRun("orders", "get", p[0], p[1], "-url", d.worker)
		if a, b := comparable(t, was), comparable(t, now); a != b {
			t.Errorf("%s after replay:\n got %s\nwant %s", key, b, a)
		}
	}
}

// comparable drops the times (a replay applies later) and keeps status, provider status and
// version of the order and its items.
func comparable(t *testing.T, js string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("%q: %v", js, err)
	}
	delete(v, "updatedAt")
	if items, ok := v["items"].(map[string]any); ok {
		for _, it := range items {
			delete(it.(map[string]any), "updatedAt")
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Issue 6, acceptance 2: `hookline verify` passes on an untouched run, and exits non-zero naming
// the order when one order's state is changed by hand in Redis or one canonical event is deleted.
func TestVerifyFindsInjectedFaults(t *testing.T) {
	r := testkit.StartRedis(t)
	d := startDev(t, r.URL)
	oracle := filepath.Join(t.TempDir(), "oracle.json")
	pic := filepath.Join(t.TempDir(), "latency.png")
	summary := d.mustRun("bench", "-q", "-target", d.ingress, "-n", "400", "-c", "8", "-orders", "60", "-dup", "0.2",
		"-shuffle", "0.5", "-nats", d.nats, "-oracle", oracle, "-png", pic)
	// Issue 6, acceptance 1: the summary table, and a PNG that opens as a picture.
	for _, want := range []string{"requests   400 in", "400 acknowledged", "latency    p50", "end-to-end p50", "persisted  "} {
		if !strings.Contains(summary, want) {
			t.Errorf("bench summary lacks %q:\n%s", want, summary)
		}
	}
	f, err := os.Open(pic)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	_ = f.Close()
	if err != nil || img.Bounds().Dx() < 400 || img.Bounds().Dy() < 300 {
		t.Fatalf("latency picture: %v (%v)", err, img)
	}
	verify := func() (string, error) {
		return d.run("verify", "-oracle", oracle, "-url", d.worker, "-nats", d.nats, "-wait", "60s")
	}
	if out, err := verify(); err != nil || !strings.Contains(out, "0 lost, 0 duplicated, 0 wrong state") {
		t.Fatalf("verify of an untouched run: %v\n%s", err, out)
	}

	var o struct{ Orders map[string]string }
	raw, err := os.ReadFile(oracle)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	var petKey, bunKey string
	for k := range o.Orders {
		switch {
		case petKey == "" && strings.HasPrefix(k, "petstore/"):
			petKey = k
		case bunKey == "" && strings.HasPrefix(k, "bunjang/"):
			bunKey = k
		}
	}
	if petKey == "" || bunKey == "" {
		t.Fatalf("oracle lacks a petstore or bunjang order: %v", o.Orders)
	}

	// An order's state changed by hand (the worker's state hash: raw status in field s).
	rdb := r.Client(t)
	stateKey := "hl:{default:petstore:" + strings.TrimPrefix(petKey, "petstore/") + "}:o"
	was, err := rdb.HGet(context.Background(), stateKey, "s").Result()
	if err != nil {
		t.Fatalf("read %s: %v", stateKey, err)
	}
	forged := "PLACED"
	if was == forged {
		forged = "APPROVED"
	}
	if err := rdb.HSet(context.Background(), stateKey, "s", forged).Err(); err != nil {
		t.Fatal(err)
	}
	out, err := verify()
	if err == nil || !strings.Contains(out, "1 wrong state") || !strings.Contains(out, "wrong state: "+petKey) {
		t.Fatalf("verify after changing %s by hand: err %v\n%s", petKey, err, out)
	}
	if err := rdb.HSet(context.Background(), stateKey, "s", was).Err(); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(); err != nil {
		t.Fatalf("verify after restoring %s: %v\n%s", petKey, err, out)
	}

	// One canonical event deleted from ORDERS.
	nc, err := nats.Connect(d.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(context.Background(), "ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(bunKey, "/") // bunjang/<order>/<item>
	var victim uint64
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && victim == 0; seq++ {
		m, err := stream.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		var ev ordersv1.OrderStatusChanged
		if proto.Unmarshal(m.Data, &ev) == nil && ev.GetOrderId() == parts[1] && ev.GetOrderItemId() == parts[2] {
			victim = seq
		}
	}
	if victim == 0 {
		t.Fatalf("no canonical event for %s", bunKey)
	}
	if err := stream.DeleteMsg(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	out, err = verify()
	if err == nil || !strings.Contains(out, "1 lost") || !strings.Contains(out, "lost: "+bunKey+" has no canonical event") {
		t.Fatalf("verify after deleting a canonical event of %s: err %v\n%s", bunKey, err, out)
	}
}

// Issue 11, acceptance 8: `hookline bench` and `hookline send` load secrets through the same
// code as the services, so env: and file: references are resolved, not used as the key: every
// request passes the ingress's signature check.
func TestBenchAndSendResolveSecretReferences(t *testing.T) {
	r := testkit.StartRedis(t)
	bunFile := filepath.Join(t.TempDir(), "bunjang.secret")
	if err := os.WriteFile(bunFile, []byte("bunjang-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, r.URL, "HOOKLINE_PETSTORE_SECRETS=env:HL_E2E_PETSTORE_KEY", "HL_E2E_PETSTORE_KEY=petstore-from-env",
		"HOOKLINE_BUNJANG_SECRETS=file:"+bunFile)
	out := filepath.Join(t.TempDir(), "bench.json")
	d.mustRun("bench", "-q", "-target", d.ingress, "-n", "200", "-c", "4", "-orders", "20", "-nats", d.nats, "-json", out)
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Requests int64            `json:"requests"`
		Errors   int64            `json:"errors"`
		Acked    int64            `json:"acked"`
		ByStatus map[string]int64 `json:"byStatus"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("bench json: %v\n%s", err, raw)
	}
	if res.Requests != 200 || res.Acked != 200 || res.Errors != 0 {
		t.Fatalf("bench: %d requests, %d acknowledged, %d errors; want 200, 200, 0 (by status %v)",
			res.Requests, res.Acked, res.Errors, res.ByStatus)
	}
	for code, n := range res.ByStatus {
		if !strings.HasPrefix(code, "2") {
			t.Errorf("bench: %d requests answered %s, want every one 2xx", n, code)
		}
	}
	for _, args := range [][]string{
		{"send", "petstore", "-url", d.ingress, "-order", "ord-secret-ref"},
		{"send", "bunjang", "-url", d.ingress, "-order", "4242"},
	} {
		got := d.mustRun(args...) // send fails unless the ingress answers 2xx
		if !strings.Contains(got, " -> 20") {
			t.Errorf("hookline %s: %q, want a 2xx answer", strings.Join(args, " "), got)
		}
	}
}

// Issue 9, acceptance 2: without HOOKLINE_HTTP_ADDR the dev ingress listens on loopback only;
// the commands the banner prints run as printed and reach the pipeline through the state file
// with no flag and no NATS_URL; SIGINT ends it with exit 0 and removes the state file.
func TestDevBannerCommandsAndStateFile(t *testing.T) {
	r := testkit.StartRedis(t)
	d := startDev(t, r.URL, "HOOKLINE_HTTP_ADDR=") // empty: dev's own default
	raw, err := os.ReadFile(d.state)
	if err != nil {
		t.Fatalf("state file: %v\n%s", err, d.out.String())
	}
	var st struct{ NATS, Ingress, Worker string }
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("state file %s: %v", raw, err)
	}
	u, err := url.Parse(st.Ingress)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("dev ingress at %q, want a 127.0.0.1 address", st.Ingress)
	}
	if ip := outboundIP(); ip != "" {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, u.Port()), 2*time.Second); err == nil {
			_ = c.Close()
			t.Errorf("dev ingress answers on %s too, want loopback only", ip)
		}
	}

	var try []string
	var export string
	for _, line := range strings.Split(d.out.String(), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, d.bin+" "):
			try = append(try, line)
		case strings.HasPrefix(line, "export NATS_URL="):
			export = strings.TrimPrefix(line, "export NATS_URL=")
		}
	}
	if len(try) != 3 || export != st.NATS {
		t.Fatalf("banner commands %q, export NATS_URL=%q (state %q):\n%s", try, export, st.NATS, d.out.String())
	}
	// The worker console is on with the printed dev token.
	if !strings.Contains(d.out.String(), st.Worker+"/console/ (token: dev-console-token)") {
		t.Fatalf("banner does not print the console URL and dev token:\n%s", d.out.String())
	}
	for token, want := range map[string]int{"dev-console-token": http.StatusOK, "wrong": http.StatusUnauthorized} {
		req, err := http.NewRequest(http.MethodGet, st.Worker+"/console/api/overview", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("console API: %v", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("console API with token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}
	env := cleanEnv("HOOKLINE_DEV_STATE=" + d.state) // no NATS_URL, no URL flags
	for i, line := range try {
		args := strings.Fields(line)
		var out []byte
		deadline := time.Now().Add(30 * time.Second)
		for {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = env
			out, err = cmd.CombinedOutput()
			if err == nil || i != 1 || time.Now().After(deadline) { // orders get waits for the worker
				break
			}
			time.Sleep(150 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		if i == 2 && !strings.Contains(string(out), "0 dead letters") {
			t.Errorf("%s printed:\n%s", line, out)
		}
	}
	if err := d.stop(); err != nil {
		t.Fatalf("hookline dev on SIGINT: %v, want exit 0\n%s", err, d.out.String())
	}
	if _, err := os.Stat(d.state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file after exit: %v, want it removed", err)
	}
}

// outboundIP is an address of this machine other than loopback, or "".
func outboundIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
