package httpapi

import (
	"encoding/json"
	"errors"
)

// A small scanner for the envelope checks: the body is validated once with json.Valid, then only
// the few fields the ingress checks are read, without reflection. It understands exactly valid
// JSON (json.Valid runs first), so it never has to recover from malformed input.

var errNotObject = errors.New("not an object")

// objectFields calls fn for every member of the JSON object v (valid JSON) with the raw key
// (between its quotes, escapes kept) and the raw value. Duplicate keys are reported in order.
func objectFields(v []byte, fn func(key, val []byte)) error {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return errNotObject
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

// pick returns the raw values of the named members of the JSON object v (valid JSON), in the
// order of names (nil where absent), and the first name that appears twice.
func pick(v []byte, names ...string) (vals [][]byte, dup string, err error) {
	vals = make([][]byte, len(names))
	err = objectFields(v, func(k, val []byte) {
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

// arrayElems calls fn for every element of the JSON array v (valid JSON).
func arrayElems(v []byte, fn func(elem []byte)) error {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '[' {
		return errNotObject
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

// stringEnd returns the index just past the string starting at v[i] == '"'.
func stringEnd(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
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
			var k string
			if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k) != nil {
				return false
			}
			return k == name
		}
	}
	return string(raw) == name
}

// rawString returns the value of a raw JSON string, and whether raw is a string at all.
func rawString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(inner), true
}

// rawNumber reports whether raw is a JSON number, or a string holding one (what json.Number
// accepts).
func rawNumber(raw []byte) bool {
	if len(raw) > 0 && raw[0] == '"' {
		s, ok := rawString(raw)
		return ok && validNumber(s)
	}
	return validNumber(string(raw))
}

// validNumber is JSON's number grammar.
func validNumber(s string) bool {
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
