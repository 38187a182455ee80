package natsconn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// The readiness check asks JetStream, not only the connection: a missing stream (as during an
// election, nobody answers for it) is not ready, a stream with a leader is, and a stopped server
// is ErrDisconnected.
func TestCheckStreamAsksJetStream(t *testing.T) {
	n := testkit.StartNATS(t)
	nc, err := Connect(n.URL, zap.NewNop(), Options{Name: "test", NoReconnectBuffer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	testkit.Eventually(t, 10*time.Second, "connected", nc.IsConnected)
	check := CheckStream(nc, "READY")
	ctx := context.Background()
	if err := check(ctx); !errors.Is(err, ErrJetStreamUnavailable) || !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("check without the stream = %v, want ErrJetStreamUnavailable wrapping ErrStreamNotFound", err)
	}
	_, js := n.Conn(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "READY", Subjects: []string{"ready"}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "ready once the stream exists", func() bool { return check(ctx) == nil })
	n.Stop()
	testkit.Eventually(t, 20*time.Second, "not ready while NATS is down", func() bool { return errors.Is(check(ctx), ErrDisconnected) })
}

// The probe runs at most once per cache period; the connection state is read on every call.
func TestCachedCheck(t *testing.T) {
	now := time.Unix(0, 0)
	probes := 0
	probeErr := errors.New("no leader")
	var connErr error
	check := newCachedCheck(func(context.Context) error { return connErr }, func(context.Context) error {
		probes++
		return probeErr
	}, time.Second, func() time.Time { return now })
	ctx := context.Background()
	tests := []struct {
		name       string
		advance    time.Duration
		conn       error
		probe      error
		want       error
		wantProbes int
	}{
		{"first call probes", 0, nil, probeErr, probeErr, 1},
		{"within the period: cached", 500 * time.Millisecond, nil, nil, probeErr, 1},
		{"disconnected: not cached", 0, ErrDisconnected, nil, ErrDisconnected, 1},
		{"period over: probes again", 600 * time.Millisecond, nil, nil, nil, 2},
	}
	for _, tt := range tests {
		now = now.Add(tt.advance)
		connErr, probeErr = tt.conn, tt.probe
		if err := check(ctx); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: check = %v, want %v", tt.name, err, tt.want)
		}
		if probes != tt.wantProbes {
			t.Errorf("%s: %d probes, want %d", tt.name, probes, tt.wantProbes)
		}
	}
}
