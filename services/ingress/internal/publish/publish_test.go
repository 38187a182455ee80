package publish_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A message that fits max_payload alone but not with its headers is ErrTooLarge (a 413), not
// ErrUnavailable (a 503 retried for ever); one that fits with them is stored, even when the
// caller's context is already cancelled (the PubAck is awaited whatever the client does).
func TestPublishSizeAndCancelledContext(t *testing.T) {
	const maxPayload = 16 << 10
	n := testkit.StartNATSWith(t, testkit.NATSOptions{MaxPayload: maxPayload})
	nc, js := n.Conn(t)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	p, err := publish.New(nc, publish.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.MaxPayload(); got != maxPayload {
		t.Fatalf("MaxPayload = %d, want %d", got, maxPayload)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		header  int // bytes of one extra header value
		body    int
		wantErr error
	}{
		{"fits with its headers", 100, maxPayload - 1024, nil},
		{"body fits, headers push it over", 2048, maxPayload - 1024, publish.ErrTooLarge},
		{"body alone over", 0, maxPayload + 1, publish.ErrTooLarge},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := nats.NewMsg("t.x")
			msg.Data = make([]byte, tt.body)
			msg.Header.Set("Hookline-Event-Type", strings.Repeat("e", tt.header))
			ack, err := p.Publish(cancelled, msg, "id-"+string(rune('a'+i)))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && ack == nil) {
				t.Fatalf("Publish = %v, %v; want error %v", ack, err, tt.wantErr)
			}
			if tt.wantErr != nil && errors.Is(err, publish.ErrUnavailable) {
				t.Errorf("too large also marked unavailable: %v", err)
			}
		})
	}
}
