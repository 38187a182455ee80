package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hookline/hookline/pkg/streams"
)

const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the browser test saves its screenshots: docs/screenshots with
// HOOKLINE_UPDATE_SCREENSHOTS=1 (to commit them), else a temporary folder.
func screenshotDir(t *testing.T) string {
	if os.Getenv("HOOKLINE_UPDATE_SCREENSHOTS") == "1" {
		dir := filepath.Join("..", "..", "..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// browser starts Debian's Chromium headless with a fresh profile. Without Chromium the test
// skips, except in CI (CI=true), where it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (scripts/deps.sh installs chromium)", chromiumPath, err)
		}
		t.Skipf("%s not installed (scripts/deps.sh installs chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc() // waits for Chromium to exit
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := eval(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// steps runs browser steps, failing the test with what on an error.
func steps(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval runs one browser action and returns its value.
func eval[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestIntegrationConsoleBrowser drives the console in headless Chromium against the real worker
// (real NATS and Redis): log in, follow an order's full lifecycle on its timeline, replay a
// dead letter and see it leave the list, log out and be refused.
func TestIntegrationConsoleBrowser(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, true)
	w := e.startWorker(e.config(withConsole, func(c *Config) {
		c.Worker.MaxDeliver = 2
		c.Worker.Backoff = []time.Duration{50 * time.Millisecond}
	}))

	// A Petstore order through its whole lifecycle, a Bunjang order with two items, and a
	// poison message.
	now := time.Now().UTC().Add(-time.Minute)
	dup := petstoreStatus("evt-1001-shipped", "ord-1001", "SHIPPED", now.Add(2*time.Second))
	dup.msgID = "resent:evt-1001-shipped"
	lifecycle := []inbound{
		petstoreStatus("evt-1001-placed", "ord-1001", "PLACED", now),
		petstorePayment("evt-1001-paid", "ord-1001", now.Add(time.Second)),
		petstoreStatus("evt-1001-shipped", "ord-1001", "SHIPPED", now.Add(2*time.Second)),
		petstoreStatus("evt-1001-delivered", "ord-1001", "DELIVERED", now.Add(3*time.Second)),
		dup, // the provider resends SHIPPED after the ingress's duplicate window
		bunjangStatus(ulid(now, 1), 77001, bunjangItem{501, "PAYMENT_RECEIVED"}, bunjangItem{502, "PAYMENT_RECEIVED"}),
		bunjangStatus(ulid(now.Add(time.Second), 2), 77001, bunjangItem{501, "SHIPPED"}),
		{provider: "petstore", eventID: "evt-bad", eventType: "order.statusChanged", body: []byte(`{"eventId":"evt-bad","data":`)},
	}
	// One at a time, as a provider sends them: the worker handles messages concurrently.
	for i, in := range lifecycle {
		e.publish(in.msg())
		eventually(t, 30*time.Second, "webhook "+in.eventID+" handled", func() bool {
			return e.allAcked() && e.lastSeq(streams.Webhooks) == uint64(i+1)
		})
	}
	if n, dl := len(e.canonical()), e.streamMsgs(streams.DLQ); n != 7 || dl != 1 {
		t.Fatalf("%d canonical events and %d dead letters, want 7 and 1", n, dl)
	}
	// A webhook dead-lettered during a Redis outage: replaying it once Redis is back applies it.
	e.redis.Stop()
	e.publish(petstoreStatus("evt-2002-placed", "ord-2002", "PLACED", now).msg())
	eventually(t, 30*time.Second, "the outage webhook dead-lettered", func() bool { return e.streamMsgs(streams.DLQ) == 2 })
	e.redis.Start()
	outageSeq := e.lastSeq(streams.DLQ)

	dir := screenshotDir(t)
	base := w.admin + "/console/"

	// Log in.
	steps(t, ctx, "open the console", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := eval(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/console/login") {
		t.Fatalf("unauthenticated console at %s, want the login page", loc)
	}
	shoot(t, ctx, dir, "login")
	steps(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("token"), consoleToken),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("rate-chart")))

	// Overview: the live chart fills from the sampler.
	_ = eval(t, ctx, "overview chart", chromedp.Poll[chromedp.Void](
		`Number(document.getElementById("rate-chart").getAttribute("data-samples") || 0) >= 3`,
		chromedp.WithPollingTimeout(60*time.Second)))
	if applied := eval(t, ctx, "applied", chromedp.Text(chromedp.ID("total-applied"))); applied != "7" {
		t.Fatalf("overview shows %s applied, want 7", applied)
	}
	if inbound := eval(t, ctx, "inbound", chromedp.Text(chromedp.ID("inbound"))); !strings.Contains(inbound, "bunjang") || !strings.Contains(inbound, "petstore") {
		t.Fatalf("overview inbound table: %q", inbound)
	}
	shoot(t, ctx, dir, "overview")

	// Order: every step of the lifecycle on the timeline, oldest first.
	steps(t, ctx, "search the order",
		chromedp.Click(chromedp.CSS(`nav a[href="/console/orders"]`)),
		chromedp.WaitVisible(chromedp.ID("provider")),
		chromedp.SendKeys(chromedp.ID("provider"), "petstore"),
		chromedp.SendKeys(chromedp.ID("order"), "ord-1001"),
		chromedp.Click(chromedp.ID("search")),
		chromedp.WaitVisible(chromedp.ID("timeline")))
	timeline := eval(t, ctx, "timeline", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#timeline li.step")).map(li => li.dataset.kind + " " + li.dataset.status)`))
	if got, want := strings.Join(timeline, ","), "applied PLACED,applied APPROVED,applied SHIPPED,applied DELIVERED,duplicate SHIPPED"; got != want {
		t.Fatalf("timeline %s, want %s", got, want)
	}
	delivered := `#timeline li.step:nth-child(4)`
	steps(t, ctx, "open the DELIVERED step", chromedp.Evaluate[chromedp.Void](
		`document.querySelectorAll("`+delivered+` details").forEach(d => { d.open = true })`))
	webhook := eval(t, ctx, "DELIVERED webhook", chromedp.Text(chromedp.CSS(delivered+" details.webhook")))
	if !strings.Contains(webhook, "evt-1001-delivered") || !strings.Contains(webhook, "Hookline-Event-Id") {
		t.Fatalf("last step's webhook: %q", webhook)
	}
	shoot(t, ctx, dir, "order")

	// Dead letters: open the outage one, replay it, see it leave the list.
	listed := `Array.from(document.querySelectorAll("#dead-letters tr[data-seq]")).map(tr => tr.dataset.seq)`
	row := fmt.Sprintf(`#dead-letters tr[data-seq="%d"]`, outageSeq)
	steps(t, ctx, "dead letters",
		chromedp.Click(chromedp.CSS(`nav a[href="/console/dlq"]`)),
		chromedp.WaitVisible(chromedp.CSS(row)))
	if rows := eval(t, ctx, "dead letters", chromedp.Evaluate[[]string](listed)); len(rows) != 2 {
		t.Fatalf("dead letters listed %v, want 2", rows)
	}
	shoot(t, ctx, dir, "dead-letters")
	steps(t, ctx, "replay the dead letter",
		chromedp.Click(chromedp.CSS(row+" a")),
		chromedp.WaitVisible(chromedp.ID("replay")),
		chromedp.Click(chromedp.ID("replay")),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.Click(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.ID("notice")))
	notice := eval(t, ctx, "notice", chromedp.Text(chromedp.ID("notice")))
	rows := eval(t, ctx, "dead letters after the replay", chromedp.Evaluate[[]string](listed))
	if notice != "1 dead letters replayed" || len(rows) != 1 || rows[0] == fmt.Sprint(outageSeq) {
		t.Fatalf("after the replay: notice %q, listed %v; want 1 replayed and only the poison message left", notice, rows)
	}
	eventually(t, 30*time.Second, "the replayed webhook applied", func() bool {
		code, _ := w.get(t, "/v1/orders/petstore/ord-2002", nil)
		return code == 200
	})

	// Log out: pages go to the login page, the API answers 401.
	steps(t, ctx, "log out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.Navigate(base+"dlq"),
		chromedp.WaitVisible(chromedp.ID("token")))
	loc := eval(t, ctx, "location", chromedp.Location())
	status := eval(t, ctx, "API after logout", chromedp.Evaluate[int](`fetch("/console/api/overview").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if !strings.HasSuffix(loc, "/console/login") || status != 401 {
		t.Fatalf("after logout: at %s, API %d; want the login page and 401", loc, status)
	}
}
