package deliver

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Schedule is the retry schedule: Delays[i] is the wait before retry i+1, so a callback gets
// 1+len(Delays) attempts. Each delay is spread by ±Jitter (a fraction, 0.2 = ±20%).
type Schedule struct {
	Delays []time.Duration
	Jitter float64
	// Rand returns a number in [0, 1); nil uses math/rand/v2.
	Rand func() float64
}

// MaxAttempts is how many HTTP attempts a callback gets.
func (s Schedule) MaxAttempts() int { return 1 + len(s.Delays) }

// After returns the wait after failed attempt n (1-based) and whether a retry is left.
func (s Schedule) After(n int) (time.Duration, bool) {
	if n < 1 || n > len(s.Delays) {
		return 0, false
	}
	return s.jitter(s.Delays[n-1], s.Jitter), true
}

// jitter spreads d by ±frac.
func (s Schedule) jitter(d time.Duration, frac float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return max(d, 0)
	}
	r := s.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(float64(d) * (1 + frac*(2*r()-1)))
}

// Total is the sum of the delays without jitter.
func (s Schedule) Total() time.Duration {
	var t time.Duration
	for _, d := range s.Delays {
		t += d
	}
	return t
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date. ok is false when the
// header is absent or unparsable; a date in the past is a zero delay.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(365*24*time.Hour/time.Second) {
			n = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
