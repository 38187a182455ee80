package config

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Secret holds key material. It prints as [redacted] through fmt (every verb) and zap's
// reflection, so it can never reach a log by accident.
type Secret struct{ b []byte }

// NewSecret wraps raw key bytes.
func NewSecret(b []byte) Secret { return Secret{b: b} }

// Bytes returns the key material.
func (s Secret) Bytes() []byte { return s.b }

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// String redacts.
func (Secret) String() string { return "[redacted]" }

// GoString redacts.
func (Secret) GoString() string { return "[redacted]" }

// Format redacts for every verb, so that not even %d, %x or %c of a struct holding a Secret can
// print the key bytes.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[redacted]") }

// MarshalText redacts.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// ResolveSecret turns a configured value into key bytes: `env:VAR` reads the variable,
// `file:/path` reads the file (trailing newline trimmed), anything else is the secret itself.
func ResolveSecret(v string, lookup Lookup) (Secret, error) {
	switch {
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		val, ok := lookup(name)
		if !ok || val == "" {
			return Secret{}, fmt.Errorf("secret reference env:%s: variable is not set", name)
		}
		return Secret{b: []byte(val)}, nil
	case strings.HasPrefix(v, "file:"):
		path := strings.TrimPrefix(v, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return Secret{}, fmt.Errorf("secret reference file:%s: %w", path, err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) == 0 {
			return Secret{}, fmt.Errorf("secret reference file:%s: file is empty", path)
		}
		return Secret{b: b}, nil
	case v == "":
		return Secret{}, fmt.Errorf("empty secret")
	default:
		return Secret{b: []byte(v)}, nil
	}
}
