package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
)

// A shutdown while NATS is down (a deploy during a broker restart) is clean: nothing is buffered
// while reconnecting, so there is nothing to drain and Run returns nil.
func TestIntegrationStopsCleanlyDuringNATSOutage(t *testing.T) {
	e := newEnv(t, false)
	w := e.startWorker(e.config())
	eventually(t, 20*time.Second, "/readyz 200", func() bool { code, _ := w.get(t, "/readyz", nil); return code == http.StatusOK })
	e.nats.Stop()
	eventually(t, 20*time.Second, "/readyz 503 with NATS down", func() bool {
		code, _ := w.get(t, "/readyz", nil)
		return code == http.StatusServiceUnavailable
	})
	start := time.Now()
	if err := w.stop(); err != nil {
		t.Fatalf("Run during a NATS outage = %v, want nil", err)
	}
	t.Logf("stop took %s", time.Since(start))
}

// Stopped before NATS was ever reachable (setup keeps retrying meanwhile), Run returns nil: a
// stop asked for is not a failure.
func TestIntegrationStopsCleanlyBeforeNATS(t *testing.T) {
	r := testkit.StartRedis(t)
	cfg, err := LoadConfig(envMap{
		"NATS_URL":  fmt.Sprintf("nats://127.0.0.1:%d", testkit.FreePort(t)),
		"REDIS_URL": r.URL,
	}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminListener = ln
	admin := &worker{admin: "http://" + ln.Addr().String()}
	stop, _ := testkit.RunInBackground(t, func(ctx context.Context) error { return Run(ctx, cfg, quietLogger(t)) })
	eventually(t, 20*time.Second, "/healthz 200 and /readyz 503 before NATS", func() bool {
		h, _ := admin.get(t, "/healthz", nil)
		r, _ := admin.get(t, "/readyz", nil)
		return h == http.StatusOK && r == http.StatusServiceUnavailable
	})
	stop() // fails the test unless Run returns nil
}
