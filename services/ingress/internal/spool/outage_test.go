package spool

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/natsconn"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// counting passes publishes to the real publisher and counts them.
type counting struct {
	next  Publisher
	calls atomic.Int64
}

func (c *counting) Publish(ctx context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error) {
	c.calls.Add(1)
	return c.next.Publish(ctx, msg, msgID)
}

// With the NATS connection known to be down, a message goes to the spool without a publish
// attempt (which would wait the whole publish timeout);
// with the connection up and the spool empty, it is published directly. Once NATS is back the
// forwarder stores the spooled ones, in order, with their Nats-Msg-Id.
func TestKnownDownSpoolsWithoutPublishing(t *testing.T) {
	n := testkit.StartNATS(t)
	nc, err := natsconn.Connect(n.URL, zap.NewNop(), natsconn.Options{NoReconnectBuffer: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	pub, err := publish.New(nc, publish.Options{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := pub.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "WEBHOOKS",
		Subjects: []string{"webhooks.>"}, Storage: jetstream.FileStorage, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, t.TempDir(), Options{})
	direct := &counting{next: pub}
	p := s.Wrap(direct, WrapOptions{Connected: pub.Connected})

	m, id := testMsg(0)
	if ack, err := p.Publish(ctx, m, id); err != nil || ack.Stream != "WEBHOOKS" {
		t.Fatalf("connected: Publish = %+v, %v; want stored in WEBHOOKS", ack, err)
	}
	if direct.calls.Load() != 1 || s.Messages() != 0 {
		t.Fatalf("connected: %d direct publishes, %d spooled; want 1 and 0", direct.calls.Load(), s.Messages())
	}

	n.Stop()
	testkit.Eventually(t, 30*time.Second, "client sees the outage", func() bool { return !pub.Connected() })
	const spooled = 20
	for i := 1; i <= spooled; i++ {
		m, id := testMsg(i)
		ack, err := p.Publish(ctx, m, id)
		if err != nil || ack.Stream != "spool" {
			t.Fatalf("down: Publish %d = %+v, %v; want spooled", i, ack, err)
		}
	}
	if got := direct.calls.Load(); got != 1 {
		t.Fatalf("down: %d publish attempts, want none after the first", got-1)
	}
	if s.Messages() != spooled {
		t.Fatalf("down: %d spooled, want %d", s.Messages(), spooled)
	}

	n.Start()
	stop, _ := testkit.RunInBackground(t, func(ctx context.Context) error {
		s.Forward(ctx, pub.JetStream(), ForwardOptions{Timeout: 5 * time.Second, Connected: pub.Connected})
		return nil
	})
	testkit.Eventually(t, 60*time.Second, "spool drained", func() bool { return s.Messages() == 0 })
	stop()
	msgs := testkit.StreamMsgs(t, ctx, pub.JetStream(), "WEBHOOKS")
	if len(msgs) != spooled+1 {
		t.Fatalf("%d messages in WEBHOOKS, want %d", len(msgs), spooled+1)
	}
	for i, msg := range msgs {
		if _, id := testMsg(i); msg.Header.Get(jetstream.MsgIDHeader) != id {
			t.Fatalf("message %d has Nats-Msg-Id %q, want %q", i, msg.Header.Get(jetstream.MsgIDHeader), id)
		}
	}
}

// While Connected reports the connection down the forwarder publishes nothing, however many
// records arrive; once it reports up, they are forwarded.
func TestForwardWaitsWhileDown(t *testing.T) {
	n := testkit.StartNATS(t)
	_, js := n.Conn(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WEBHOOKS", Subjects: []string{"webhooks.>"}}); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, t.TempDir(), Options{})
	var up atomic.Bool
	stop, _ := testkit.RunInBackground(t, func(ctx context.Context) error {
		s.Forward(ctx, js, ForwardOptions{Connected: up.Load, PollInterval: 10 * time.Millisecond})
		return nil
	})
	const total = 50
	for i := range total {
		m, id := testMsg(i)
		if err := s.Put(m, id); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // twenty polls of a connection reported down
	info, err := js.Stream(ctx, "WEBHOOKS")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().State.Msgs; got != 0 || s.Messages() != total {
		t.Fatalf("while down: %d forwarded, %d spooled; want 0 and %d", got, s.Messages(), total)
	}
	up.Store(true)
	testkit.Eventually(t, 30*time.Second, "spool drained", func() bool { return s.Messages() == 0 })
	stop()
	if got := len(testkit.StreamMsgs(t, ctx, js, "WEBHOOKS")); got != total {
		t.Fatalf("%d messages in WEBHOOKS, want %d", got, total)
	}
}
