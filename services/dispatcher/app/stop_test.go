package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	"go.uber.org/zap"
)

// A shutdown while NATS is down (a deploy during a broker restart) is clean: the callbacks in
// hand are settled or left for redelivery, there is nothing to drain, and Run returns nil.
func TestIntegrationStopsCleanlyDuringNATSOutage(t *testing.T) {
	h := newHarness(t, nil)
	h.nats.Stop()
	eventually(t, 20*time.Second, "/readyz 503 with NATS down", func() bool { return h.get("/readyz") == http.StatusServiceUnavailable })
	h.stop() // fails the test unless Run returns nil within 20s
}

// Stopped before NATS was ever reachable (setup keeps retrying meanwhile), Run returns nil: a
// stop asked for is not a failure.
func TestIntegrationStopsCleanlyBeforeNATS(t *testing.T) {
	cfg := testConfig(t, map[string]string{"NATS_URL": fmt.Sprintf("nats://127.0.0.1:%d", testkit.FreePort(t))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminListener = ln
	h := &harness{t: t, admin: "http://" + ln.Addr().String()}
	stop, _ := testkit.RunInBackground(t, func(ctx context.Context) error { return Run(ctx, cfg, zap.NewNop()) })
	eventually(t, 20*time.Second, "/healthz 200 and /readyz 503 before NATS", func() bool {
		return h.get("/healthz") == http.StatusOK && h.get("/readyz") == http.StatusServiceUnavailable
	})
	stop() // fails the test unless Run returns nil
}
