package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
)

func loadConfig(env map[string]string) (Config, error) {
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	base, err := config.Load(lookup, config.Defaults{AdminAddr: ":9092"})
	if err != nil {
		return Config{}, err
	}
	return NewConfig(base, lookup)
}

func TestNewConfigDefaults(t *testing.T) {
	c, err := loadConfig(map[string]string{"HOOKLINE_CALLBACK_SECRET": "s"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"timeout", c.CallbackTimeout, 10 * time.Second},
		{"ack wait", c.AckWait, 30 * time.Second},
		{"concurrency", c.Concurrency, 32},
		{"max ack pending", c.MaxAckPending, 20000},
		{"host concurrency", c.HostConcurrency, 4},
		{"host busy delay", c.HostBusyDelay, time.Second},
		{"breaker failures", c.BreakerFailures, 5},
		{"breaker cooldown", c.BreakerCooldown, 30 * time.Second},
		{"jitter", c.RetryJitter, 0.2},
		{"max retry after", c.MaxRetryAfter, 24 * time.Hour},
		{"attempts ttl", c.AttemptsTTL, 7 * 24 * time.Hour},
		{"admin addr", c.AdminAddr, ":9092"},
		{"retry delays", len(c.CallbackRetryDelays), 6},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestNewConfigAckWaitFollowsTimeout(t *testing.T) {
	c, err := loadConfig(map[string]string{"HOOKLINE_CALLBACK_SECRET": "s", "HOOKLINE_CALLBACK_TIMEOUT": "25s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.AckWait != 45*time.Second {
		t.Fatalf("AckWait %s, want 45s (timeout + 20s)", c.AckWait)
	}
}

func TestNewConfigErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		name string
		give map[string]string
		want string
	}{
		{"no secret", map[string]string{}, "HOOKLINE_CALLBACK_SECRET"},
		{"bad timeout", map[string]string{"HOOKLINE_CALLBACK_SECRET": "s", "HOOKLINE_CALLBACK_TIMEOUT": "soon"}, "HOOKLINE_CALLBACK_TIMEOUT"},
		{"ack wait too short", map[string]string{"HOOKLINE_CALLBACK_SECRET": "s", "HOOKLINE_DISPATCHER_ACK_WAIT": "11s"}, "HOOKLINE_DISPATCHER_ACK_WAIT"},
		{"zero concurrency", map[string]string{"HOOKLINE_CALLBACK_SECRET": "s", "HOOKLINE_DISPATCHER_CONCURRENCY": "0"}, "HOOKLINE_DISPATCHER_CONCURRENCY"},
		{"jitter above 1", map[string]string{"HOOKLINE_CALLBACK_SECRET": "s", "HOOKLINE_CALLBACK_RETRY_JITTER": "1.5"}, "HOOKLINE_CALLBACK_RETRY_JITTER"},
		{"bad host concurrency", map[string]string{"HOOKLINE_CALLBACK_SECRET": "s", "HOOKLINE_CALLBACK_HOST_CONCURRENCY": "x"}, "HOOKLINE_CALLBACK_HOST_CONCURRENCY"},
		{"bad retry delays", map[string]string{"HOOKLINE_CALLBACK_SECRET": "s", "HOOKLINE_CALLBACK_RETRY_DELAYS": "1m,x"}, "HOOKLINE_CALLBACK_RETRY_DELAYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.give)
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line naming %s", err, tt.want)
			}
		})
	}
}

// A Config built in code gets the same defaults as one read from an empty environment.
func TestWithDefaultsMatchesNewConfig(t *testing.T) {
	c, err := loadConfig(map[string]string{"HOOKLINE_CALLBACK_SECRET": "s"})
	if err != nil {
		t.Fatal(err)
	}
	z := Config{Config: c.Config, RetryJitter: c.RetryJitter}.withDefaults()
	if z != c {
		t.Fatalf("withDefaults() =\n%+v\nwant (NewConfig)\n%+v", z, c)
	}
}
