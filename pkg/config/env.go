package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid marks every configuration error; its message names the setting.
var ErrInvalid = errors.New("invalid configuration")

// Lookup reads one environment variable; os.LookupEnv fits.
type Lookup func(name string) (string, bool)

// Env reads typed settings and keeps the first error, so a service can read all of its settings
// and report one clear line: `HOOKLINE_X: invalid duration "abc"`.
type Env struct {
	lookup Lookup
	err    error
}

// NewEnv wraps lookup.
func NewEnv(lookup Lookup) *Env { return &Env{lookup: lookup} }

// Err returns the first error seen, wrapping ErrInvalid.
func (e *Env) Err() error { return e.err }

// Fail records err for name unless an error is already recorded.
func (e *Env) Fail(name, format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%w: %s: %s", ErrInvalid, name, fmt.Sprintf(format, args...))
	}
}

func (e *Env) raw(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// String returns the variable or def.
func (e *Env) String(name, def string) string {
	if v, ok := e.raw(name); ok {
		return v
	}
	return def
}

// Int returns the variable as an int within [lo, hi], or def.
func (e *Env) Int(name string, def, lo, hi int) int {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		e.Fail(name, "want an integer from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

// Float returns the variable as a finite float >= 0, or def.
func (e *Env) Float(name string, def float64) float64 {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		e.Fail(name, "want a number >= 0, got %q", v)
		return def
	}
	return f
}

// Bool returns the variable as a bool, or def.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.Fail(name, "want true or false, got %q", v)
		return def
	}
	return b
}

// Duration returns the variable as a positive duration ("300s", "72h"; a bare number is seconds),
// or def.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil || d <= 0 {
		e.Fail(name, "want a positive duration such as 300s or 72h, got %q", v)
		return def
	}
	return d
}

// Durations returns a comma-separated list of durations >= 0, or def.
func (e *Env) Durations(name string, def []time.Duration) []time.Duration {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	var out []time.Duration
	for _, part := range strings.Split(v, ",") {
		d, err := ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 {
			e.Fail(name, "want a comma-separated list of durations such as 1m,5m,30m, got %q", v)
			return def
		}
		out = append(out, d)
	}
	return out
}

// List returns a comma-separated list with empty entries dropped.
func (e *Env) List(name string) []string {
	v, ok := e.raw(name)
	if !ok {
		return nil
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseDuration accepts Go durations, a bare number of seconds, and a `d` suffix for days.
func ParseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	return d, nil
}
