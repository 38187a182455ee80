package consumer

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestBackoffFor(t *testing.T) {
	s := defaults()
	s.backoff = []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	tests := []struct {
		give uint64
		want time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 3 * time.Second}, {4, 3 * time.Second}, {1 << 40, 3 * time.Second},
	}
	for _, tt := range tests {
		if got := s.backoffFor(tt.give); got != tt.want {
			t.Errorf("backoffFor(%d) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

func TestConsumerConfig(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	tests := []struct {
		name       string
		give       []Option
		wantPolicy jetstream.DeliverPolicy
		wantStart  *time.Time
	}{
		{name: "default", wantPolicy: jetstream.DeliverAllPolicy},
		{name: "new", give: []Option{WithDeliverNew()}, wantPolicy: jetstream.DeliverNewPolicy},
		{name: "start time", give: []Option{WithStartTime(start)}, wantPolicy: jetstream.DeliverByStartTimePolicy, wantStart: &start},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaults()
			for _, o := range tt.give {
				o(&s)
			}
			cfg := s.consumerConfig("n", "orders.*.*.status_changed")
			if cfg.DeliverPolicy != tt.wantPolicy {
				t.Errorf("policy %v, want %v", cfg.DeliverPolicy, tt.wantPolicy)
			}
			if (cfg.OptStartTime == nil) != (tt.wantStart == nil) || (tt.wantStart != nil && !cfg.OptStartTime.Equal(*tt.wantStart)) {
				t.Errorf("start %v, want %v", cfg.OptStartTime, tt.wantStart)
			}
			if cfg.Durable != "n" || cfg.AckPolicy != jetstream.AckExplicitPolicy || cfg.MaxDeliver != -1 || cfg.AckWait != DefaultAckWait {
				t.Errorf("config %+v: want durable n, explicit ack, server MaxDeliver -1, default AckWait", cfg)
			}
		})
	}
}

// No exported mutable default (issue 11): changing what DefaultBackoff returns changes neither
// the next call nor a new consumer's settings.
func TestDefaultBackoffIsACopy(t *testing.T) {
	got := DefaultBackoff()
	want := []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute}
	if len(got) != len(want) {
		t.Fatalf("DefaultBackoff() = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("DefaultBackoff() = %v, want %v", got, want)
		}
		got[i] = time.Hour
	}
	if again := DefaultBackoff(); again[0] != time.Second {
		t.Fatalf("DefaultBackoff() after a caller changed its slice = %v", again)
	}
	if s := defaults(); s.backoff[0] != time.Second || s.backoffFor(1) != time.Second {
		t.Fatalf("defaults().backoff = %v after a caller changed DefaultBackoff()'s slice", s.backoff)
	}
}
