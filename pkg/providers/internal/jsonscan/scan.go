// Package jsonscan is the one envelope reader: a small scanner that reads only the few fields a
// provider's envelope parser needs, without reflection. The body is validated once with
// json.Valid, so the scanner never has to recover from malformed JSON; what json.Valid lets
// through (invalid UTF-8, lone surrogate escapes, duplicate keys) is refused here, for every
// field that is read.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrNotObject marks a value that is not the JSON object or array the caller expected.
var ErrNotObject = errors.New("not an object")

// Valid reports whether body is valid JSON (grammar only: UTF-8 is checked per field read).
func Valid(body []byte) bool { return json.Valid(body) }

// ObjectFields calls fn for every member of the JSON object v (valid JSON) with the raw key
// (between its quotes, escapes kept) and the raw value. Duplicate keys are reported in order.
func ObjectFields(v []byte, fn func(key, val []byte)) error {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return ErrNotObject
	}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == '}' {
		return nil
	}
	for i < len(v) {
		// key
		ks := i + 1
		ke := stringEnd(v, i)
		key := v[ks : ke-1]
		i = skipSpace(v, ke)
		i = skipSpace(v, i+1) // ':'
		vs := i
		ve := valueEnd(v, i)
		fn(key, v[vs:ve])
		i = skipSpace(v, ve)
		if i >= len(v) || v[i] == '}' {
			return nil
		}
		i = skipSpace(v, i+1) // ','
	}
	return nil
}

// MaxPick is the most names one Pick reads.
const MaxPick = 8

// ErrTooManyNames marks a Pick of more than MaxPick names (a programming error in a parser).
var ErrTooManyNames = errors.New("too many names for one pick")

// Vals are the raw values Pick found, in the order of its names (nil where absent). An array,
// returned by value, so a parse allocates nothing for it.
type Vals [MaxPick][]byte

// Pick returns the raw values of the named members of the JSON object v (valid JSON), in the
// order of names (nil where absent), and the first name that appears twice.
func Pick(v []byte, names ...string) (vals Vals, dup string, err error) {
	if len(names) > MaxPick {
		return Vals{}, "", ErrTooManyNames
	}
	err = ObjectFields(v, func(k, val []byte) {
		for i, n := range names {
			if keyIs(k, n) {
				if vals[i] != nil && dup == "" {
					dup = n
				}
				vals[i] = val
				return
			}
		}
	})
	return vals, dup, err
}

// ArrayElems calls fn for every element of the JSON array v (valid JSON).
func ArrayElems(v []byte, fn func(elem []byte)) error {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '[' {
		return ErrNotObject
	}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return nil
	}
	for i < len(v) {
		e := valueEnd(v, i)
		fn(v[i:e])
		i = skipSpace(v, e)
		if i >= len(v) || v[i] == ']' {
			return nil
		}
		i = skipSpace(v, i+1)
	}
	return nil
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at v[i] == '"': the next quote that
// an even number of backslashes precedes (bytes.IndexByte finds quotes many bytes at a time).
func stringEnd(v []byte, i int) int {
	for i++; i < len(v); {
		j := bytes.IndexByte(v[i:], '"')
		if j < 0 {
			return len(v)
		}
		q := i + j
		n := 0
		for k := q - 1; v[k] == '\\'; k-- { // stops at the opening quote at the latest
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return len(v)
}

// valueEnd returns the index just past the value starting at v[i].
func valueEnd(v []byte, i int) int {
	switch v[i] {
	case '"':
		return stringEnd(v, i)
	case '{', '[':
		depth := 0
		for ; i < len(v); i++ {
			switch v[i] {
			case '"':
				i = stringEnd(v, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(v)
	default: // number, true, false, null
		for ; i < len(v); i++ {
			switch v[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return len(v)
	}
}

// keyIs compares a raw key with name; keys with escapes are decoded first.
func keyIs(raw []byte, name string) bool {
	for _, c := range raw {
		if c == '\\' {
			k, ok := unquote(raw)
			return ok && k == name
		}
	}
	return string(raw) == name
}

// String returns the value of a raw JSON string (valid JSON), and false for anything else: not a
// string, invalid UTF-8, or an escaped lone surrogate (which encoding/json would silently turn
// into U+FFFD, so two different ids would become one).
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	return unquote(raw[1 : len(raw)-1])
}

// unquote decodes the inside of a JSON string (valid JSON) strictly.
func unquote(in []byte) (string, bool) {
	esc := false
	for _, c := range in {
		if c == '\\' {
			esc = true
			break
		}
	}
	if !esc {
		if !utf8.Valid(in) {
			return "", false
		}
		return string(in), true
	}
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		c := in[i]
		if c != '\\' {
			r, n := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", false
			}
			out = append(out, in[i:i+n]...)
			i += n
			continue
		}
		if i+1 >= len(in) {
			return "", false
		}
		switch in[i+1] {
		case '"', '\\', '/':
			out = append(out, in[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(in, i+2)
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 >= len(in) || in[i] != '\\' || in[i+1] != 'u' {
					return "", false
				}
				r2, ok := hex4(in, i+2)
				if !ok {
					return "", false
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return "", false
				}
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(in[i:i+4]), 16, 16)
	return rune(v), err == nil
}

// IsNull reports whether raw is absent or JSON null.
func IsNull(raw []byte) bool { return raw == nil || string(raw) == "null" }

// ValidNumber is JSON's number grammar.
func ValidNumber(s string) bool {
	i := integerEnd(s)
	if i < 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// ValidInteger is JSON's number grammar without fraction or exponent, and without "-0" (which
// would be a second spelling of 0): one spelling per integer.
func ValidInteger(s string) bool {
	return integerEnd(s) == len(s) && s != "-0"
}

// integerEnd returns the end of the leading `-?(0|[1-9][0-9]*)` of s, or -1.
func integerEnd(s string) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	return i
}
