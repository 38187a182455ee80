package jsonscan

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookline/hookline/pkg/providers/envelope"
)

// Field readers: the rules every provider applies to the fields it reads. Errors wrap the
// envelope package's sentinels and name the field, never its content.

// OptString reads an optional string: absent or null is "".
func OptString(raw []byte, name string) (string, error) {
	if IsNull(raw) {
		return "", nil
	}
	s, ok := String(raw)
	if !ok {
		return "", invalid(raw, name)
	}
	return s, nil
}

// Status reads an optional status string without its surrounding spaces.
func Status(raw []byte, name string) (string, error) {
	s, err := OptString(raw, name)
	return strings.TrimSpace(s), err
}

// ID reads an optional id: a JSON string, used verbatim (leading or trailing spaces are refused,
// never trimmed), or a JSON integer (no fraction or exponent: `100`, `1e2` and `1.0` would be
// three spellings of one order), its decimal text. Absent or null is "".
func ID(raw []byte, name string) (string, error) {
	if IsNull(raw) {
		return "", nil
	}
	var s string
	if raw[0] == '"' {
		var ok bool
		if s, ok = String(raw); !ok {
			return "", invalid(raw, name)
		}
		if strings.TrimSpace(s) != s {
			return "", fmt.Errorf("%w: %s has surrounding spaces", envelope.ErrInvalidField, name)
		}
	} else {
		s = string(raw)
		if !ValidInteger(s) {
			return "", fmt.Errorf("%w: %s is not a string or an integer", envelope.ErrInvalidField, name)
		}
	}
	if len(s) > envelope.MaxIDLen {
		return "", fmt.Errorf("%w: %s longer than %d bytes", envelope.ErrInvalidField, name, envelope.MaxIDLen)
	}
	return s, nil
}

// IntegerID reads an optional id that must be an integer: a JSON integer, or a string holding
// one (the same grammar, so "100" and 100 are one id). Absent or null is "".
func IntegerID(raw []byte, name string) (string, error) {
	s, err := ID(raw, name)
	if err != nil || s == "" {
		return s, err
	}
	if raw[0] == '"' && !ValidInteger(s) {
		return "", fmt.Errorf("%w: %s is not an integer", envelope.ErrInvalidField, name)
	}
	return s, nil
}

// Time reads an optional time: an RFC 3339 string, or Unix seconds (milliseconds when that
// large) as a number or a string of digits. A value that is no time is ignored (zero time); a
// string that is not valid UTF-8 is refused like any other field.
func Time(raw []byte, name string) (time.Time, error) {
	if IsNull(raw) {
		return time.Time{}, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		var ok bool
		if s, ok = String(raw); !ok {
			return time.Time{}, invalid(raw, name)
		}
		s = strings.TrimSpace(s)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 || n > 1e15 {
		return time.Time{}, nil //nolint:nilerr // an unreadable time is ignored (zero), as documented
	}
	if n >= 1e12 { // milliseconds
		return time.UnixMilli(int64(n)), nil
	}
	sec := int64(n)
	return time.Unix(sec, int64((n-float64(sec))*1e9)), nil
}

// FirstTime returns the first non-zero time among raws (names[i] names raws[i]).
func FirstTime(names []string, raws ...[]byte) (time.Time, error) {
	var first time.Time
	for i, r := range raws {
		t, err := Time(r, names[i])
		if err != nil {
			return time.Time{}, err
		}
		if first.IsZero() {
			first = t
		}
	}
	return first, nil
}

// Object checks that raw is absent, null or a JSON object; it reports whether it is an object.
func Object(raw []byte, name string) (bool, error) {
	switch {
	case IsNull(raw):
		return false, nil
	case raw[0] != '{':
		return false, fmt.Errorf("%w: %s is not an object", envelope.ErrInvalidField, name)
	}
	return true, nil
}

// Fields picks names from the object raw (valid JSON), refusing a duplicate among them; prefix
// names the object in errors ("data.").
func Fields(raw []byte, prefix string, names ...string) (Vals, error) {
	f, dup, err := Pick(raw, names...)
	switch {
	case err != nil:
		return Vals{}, fmt.Errorf("%w: %s%w", envelope.ErrNotJSON, prefix, err)
	case dup != "":
		return Vals{}, fmt.Errorf("%w: %s%s", envelope.ErrDuplicateKey, prefix, dup)
	}
	return f, nil
}

// Top checks that body is a JSON object and picks names from it.
func Top(body []byte, names ...string) (Vals, error) {
	if !Valid(body) {
		return Vals{}, envelope.ErrNotJSON
	}
	return Fields(body, "", names...)
}

func invalid(raw []byte, name string) error {
	if raw[0] == '"' {
		return fmt.Errorf("%w: %s is not valid UTF-8", envelope.ErrInvalidField, name)
	}
	return fmt.Errorf("%w: %s is not a string", envelope.ErrInvalidField, name)
}

// TypeIs reports whether NormType(s) == norm (norm already normalized), without allocating
// when s is ASCII.
func TypeIs(s, norm string) bool {
	j := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			return NormType(s) == norm // Unicode lowercasing: the slow, exact path
		case c == '.', c == '_', c == '-', c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if j >= len(norm) || norm[j] != c {
			return false
		}
		j++
	}
	return j == len(norm)
}

// NormType lowercases an event type and drops '.', '_', '-' and spaces, so
// `order.statusChanged`, `order.status_changed` and `order.status.changed` all match.
func NormType(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case '.', '_', '-', ' ':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
