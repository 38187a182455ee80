package deliver

import (
	"net/http"
	"testing"
	"time"
)

func TestScheduleAfter(t *testing.T) {
	delays := []time.Duration{time.Minute, 5 * time.Minute}
	tests := []struct {
		name    string
		rand    float64
		give    int
		want    time.Duration
		wantOK  bool
		noRetry bool
	}{
		{"first retry, no spread", 0.5, 1, time.Minute, true, false},
		{"first retry, lowest", 0, 1, 48 * time.Second, true, false},
		{"second retry, highest", 0.999999999, 2, 6 * time.Minute, true, false},
		{"exhausted", 0.5, 3, 0, false, true},
		{"zero is no attempt", 0.5, 0, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Schedule{Delays: delays, Jitter: 0.2, Rand: func() float64 { return tt.rand }}
			got, ok := s.After(tt.give)
			if ok != tt.wantOK {
				t.Fatalf("After(%d) ok = %v, want %v", tt.give, ok, tt.wantOK)
			}
			if diff := got - tt.want; diff > time.Millisecond || diff < -time.Millisecond {
				t.Fatalf("After(%d) = %s, want %s", tt.give, got, tt.want)
			}
		})
	}
	if got := (Schedule{Delays: delays}).MaxAttempts(); got != 3 {
		t.Fatalf("MaxAttempts = %d, want 3", got)
	}
}

func TestScheduleJitterStaysWithinBounds(t *testing.T) {
	s := Schedule{Delays: []time.Duration{10 * time.Second}, Jitter: 0.2}
	seen := map[time.Duration]bool{}
	for range 200 {
		d, _ := s.After(1)
		if d < 8*time.Second || d > 12*time.Second {
			t.Fatalf("jittered delay %s outside ±20%% of 10s", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Fatalf("200 jittered delays are all equal: no jitter applied")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		give   string
		want   time.Duration
		wantOK bool
	}{
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.give, now)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("ParseRetryAfter(%q) = %s %v, want %s %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
