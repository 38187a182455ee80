package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// tailLine is one line of `hookline events tail`.
type tailLine struct {
	StreamSequence uint64 `json:"streamSequence"`
	Subject        string `json:"subject"`
	Event          struct {
		EventID        string `json:"eventId"`
		TenantID       string `json:"tenantId"`
		Provider       string `json:"provider"`
		OrderID        string `json:"orderId"`
		PreviousStatus string `json:"previousStatus"`
		Status         string `json:"status"`
		ProviderStatus string `json:"providerStatus"`
		Version        string `json:"version"`
		AppliedAt      string `json:"appliedAt"`
	} `json:"event"`
}

// nodeLine is one line of the Node consumer example (examples/node-consumer): the .proto's names.
type nodeLine struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Event   struct {
		EventID        string   `json:"event_id"`
		TenantID       string   `json:"tenant_id"`
		Provider       string   `json:"provider"`
		OrderID        string   `json:"order_id"`
		OrderItemID    string   `json:"order_item_id"`
		PreviousStatus string   `json:"previous_status"`
		Status         string   `json:"status"`
		Version        any      `json:"version"` // must be a string: int64 as string
		Skipped        []string `json:"skipped"`
		AppliedAt      string   `json:"applied_at"`
		SourceSeq      any      `json:"source_stream_sequence"`
	} `json:"event"`
}

func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var got []T
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, v)
	}
	return got
}

// Issue 13, acceptance 4: `hookline events tail` prints the events of a `hookline send`
// lifecycle, filtered by provider and order, reaching the dev pipeline through its state file;
// it leaves no consumer behind. The Node consumer example decodes the same events.
func TestEventsTailPrintsSendLifecycle(t *testing.T) {
	r := testkit.StartRedis(t)
	d := startDev(t, r.URL)

	// No NATS_URL: the tail finds the dev NATS through HOOKLINE_DEV_STATE.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tail := exec.CommandContext(ctx, d.bin, "events", "tail", "-provider", "petstore", "-order", "ord-tail", "-n", "3")
	tail.Env = d.env
	var out bytes.Buffer
	errb := &syncBuffer{}
	tail.Stdout, tail.Stderr = &out, errb
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- tail.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errb.String(), "following ORDERS (orders.*.petstore.status_changed)") {
		if time.Now().After(deadline) {
			t.Fatalf("events tail never started following:\n%s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	status := func(want string) func(orderState) bool {
		return func(s orderState) bool { return s.Status == want }
	}
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-tail", "-status", "PLACED")
	d.waitOrder("petstore", "ord-tail", status("PLACED"))
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-other", "-status", "PLACED") // filtered out: order
	d.mustRun("send", "bunjang", "-url", d.ingress, "-order", "8080", "-items", "80801", "-status", "PAYMENT_RECEIVED")
	d.waitOrder("bunjang", "8080", func(s orderState) bool { return s.Items["80801"].Status == "APPROVED" })
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-tail", "-status", "APPROVED")
	d.waitOrder("petstore", "ord-tail", status("APPROVED"))
	d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-tail", "-status", "SHIPPED")
	d.waitOrder("petstore", "ord-tail", status("SHIPPED"))

	if err := <-exited; err != nil { // -n 3: it ends by itself; ctx bounds the wait
		t.Fatalf("events tail: %v\n%s", err, errb.String())
	}
	lines := jsonLines[tailLine](t, out.String())
	want := []struct{ prev, status, version string }{
		{"ORDER_STATUS_UNSPECIFIED", "ORDER_STATUS_PLACED", "1"},
		{"ORDER_STATUS_PLACED", "ORDER_STATUS_APPROVED", "2"},
		{"ORDER_STATUS_APPROVED", "ORDER_STATUS_SHIPPED", "3"},
	}
	if len(lines) != len(want) {
		t.Fatalf("events tail printed %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	bySeq := map[uint64]tailLine{}
	for i, l := range lines {
		e := l.Event
		if e.OrderID != "ord-tail" || e.TenantID != "default" || e.Provider != "petstore" ||
			e.PreviousStatus != want[i].prev || e.Status != want[i].status || e.Version != want[i].version ||
			l.Subject != "orders.default.petstore.status_changed" || e.EventID == "" || e.AppliedAt == "" {
			t.Errorf("line %d: %+v, want %+v", i, l, want[i])
		}
		if i > 0 && l.StreamSequence <= lines[i-1].StreamSequence {
			t.Errorf("line %d: stream sequence %d after %d", i, l.StreamSequence, lines[i-1].StreamSequence)
		}
		bySeq[l.StreamSequence] = l
	}

	nc, err := nats.Connect(d.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "no consumer left on ORDERS", func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Consumers == 0
	})

	t.Run("node consumer example", func(t *testing.T) {
		dir := nodeInstall(t, ctx)
		got := runNodeExample(t, ctx, dir, d.nats, "PROVIDER=petstore", "FROM=all", "LIMIT=4")
		if len(got) != 4 {
			t.Fatalf("node example printed %d events, want 4 (petstore: 3 of ord-tail, 1 of ord-other)", len(got))
		}
		var tailSeen int
		for _, l := range got {
			e := l.Event
			if e.TenantID != "default" || e.Provider != "petstore" || l.Subject != "orders.default.petstore.status_changed" {
				t.Errorf("node event %+v: want tenant default, provider petstore", l)
			}
			if _, ok := e.SourceSeq.(string); !ok {
				t.Errorf("source_stream_sequence %#v, want a decimal string (uint64)", e.SourceSeq)
			}
			if _, err := time.Parse(time.RFC3339Nano, e.AppliedAt); err != nil {
				t.Errorf("applied_at %q: %v", e.AppliedAt, err)
			}
			if e.OrderID != "ord-tail" {
				continue
			}
			tl, ok := bySeq[l.Seq]
			if !ok {
				t.Errorf("node event at seq %d is not one events tail printed", l.Seq)
				continue
			}
			v, ok := e.Version.(string)
			if !ok || v != tl.Event.Version || e.Status != tl.Event.Status || e.PreviousStatus != tl.Event.PreviousStatus ||
				e.EventID != tl.Event.EventID || e.OrderItemID != "" || e.Skipped == nil {
				t.Errorf("node event %+v, want what events tail printed: %+v (version as a string)", l.Event, tl.Event)
			}
			tailSeen++
		}
		if tailSeen != 3 {
			t.Errorf("node example decoded %d events of ord-tail, want 3", tailSeen)
		}

		// Bunjang: one event per item, order_item_id set.
		b := runNodeExample(t, ctx, dir, d.nats, "PROVIDER=bunjang", "TENANT=default", "FROM=1", "LIMIT=1")
		if len(b) != 1 || b[0].Event.OrderID != "8080" || b[0].Event.OrderItemID != "80801" ||
			b[0].Event.Status != "ORDER_STATUS_APPROVED" || b[0].Event.Version != "1" {
			t.Errorf("node example, bunjang: %+v", b)
		}
	})
}

// nodeInstall copies examples/node-consumer to a temporary folder and installs it with `npm ci`.
// Without node or npm the test is skipped, except in CI (CI=true), where that is a failure.
func nodeInstall(t *testing.T, ctx context.Context) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
				t.Fatalf("%s is not on PATH; CI needs it (scripts/deps.sh installs nodejs and npm)", tool)
			}
			t.Skipf("%s is not on PATH (scripts/deps.sh installs it; in CI this fails)", tool)
		}
	}
	src := filepath.Join("..", "..", "examples", "node-consumer")
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "consumer.js"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// --prefer-offline: with a warm npm cache (~/.npm) no registry round trip is needed.
	npm := exec.CommandContext(ctx, "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
	npm.Dir = dir
	if out, err := npm.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in a copy of %s: %v\n%s", src, err, out)
	}
	return dir
}

// runNodeExample runs the installed Node consumer example against natsURL with the given
// settings and returns the events it printed.
func runNodeExample(t *testing.T, ctx context.Context, dir, natsURL string, settings ...string) []nodeLine {
	t.Helper()
	proto, err := filepath.Abs(filepath.Join("..", "..", "proto", "hookline", "orders", "v1", "orders.proto"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "node", "consumer.js")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv("NATS_URL="+natsURL, "PROTO="+proto), settings...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node consumer.js %v: %v\nstdout:\n%s\nstderr:\n%s", settings, err, out.String(), errb.String())
	}
	return jsonLines[nodeLine](t, out.String())
}
