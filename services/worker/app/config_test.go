package app

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
)

func TestLoadSettings(t *testing.T) {
	tests := []struct {
		name string
		give envMap
		want Settings
	}{
		{"defaults", envMap{}, DefaultSettings()},
		{"every setting", envMap{
			EnvConcurrency: "16", EnvMaxAckPending: "500", EnvAckWait: "45s", EnvMaxDeliver: "3",
			EnvBackoff: "100ms, 1s,1m", EnvDedupeTTL: "3d",
		}, Settings{Concurrency: 16, MaxAckPending: 500, AckWait: 45 * time.Second, MaxDeliver: 3,
			Backoff: []time.Duration{100 * time.Millisecond, time.Second, time.Minute}, DedupeTTL: 72 * time.Hour}},
		{"unlimited deliveries", envMap{EnvMaxDeliver: "-1"}, func() Settings { s := DefaultSettings(); s.MaxDeliver = -1; return s }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadSettings(tt.give.lookup)
			if err != nil {
				t.Fatalf("LoadSettings: %v", err)
			}
			if got.Concurrency != tt.want.Concurrency || got.MaxAckPending != tt.want.MaxAckPending || got.AckWait != tt.want.AckWait ||
				got.MaxDeliver != tt.want.MaxDeliver || !slices.Equal(got.Backoff, tt.want.Backoff) || got.DedupeTTL != tt.want.DedupeTTL {
				t.Fatalf("LoadSettings = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadSettingsRejects(t *testing.T) {
	tests := []struct {
		give envMap
		want string // the setting named in the error
	}{
		{envMap{EnvConcurrency: "0"}, EnvConcurrency},
		{envMap{EnvConcurrency: "many"}, EnvConcurrency},
		{envMap{EnvMaxAckPending: "-5"}, EnvMaxAckPending},
		{envMap{EnvAckWait: "500ms"}, EnvAckWait},
		{envMap{EnvAckWait: "soon"}, EnvAckWait},
		{envMap{EnvMaxDeliver: "0"}, EnvMaxDeliver},
		{envMap{EnvMaxDeliver: "-2"}, EnvMaxDeliver},
		{envMap{EnvBackoff: "1s,later"}, EnvBackoff},
		{envMap{EnvDedupeTTL: "30s"}, EnvDedupeTTL},
	}
	for _, tt := range tests {
		t.Run(tt.want+"="+strings.Join(slicesValues(tt.give), ","), func(t *testing.T) {
			_, err := LoadSettings(tt.give.lookup)
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tt.want+":") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("LoadSettings = %v, want one line naming %s", err, tt.want)
			}
		})
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(envMap{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Base.AdminAddr != ":9091" || cfg.Base.NATSURL != "nats://127.0.0.1:4222" || cfg.Base.RedisURL != "redis://127.0.0.1:6379/0" {
		t.Fatalf("LoadConfig defaults = %s %s %s", cfg.Base.AdminAddr, cfg.Base.NATSURL, cfg.Base.RedisURL)
	}
	c := ConsumerConfig(cfg.Worker)
	if c.Durable != "worker" || c.FilterSubject != "webhooks.>" || c.MaxDeliver != -1 || c.AckWait != 30*time.Second || c.MaxAckPending != 2048 {
		t.Fatalf("consumer config = %+v", c)
	}
}

func slicesValues(m envMap) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
