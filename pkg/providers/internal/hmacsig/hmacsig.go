// Package hmacsig holds what the HMAC signature schemes of the providers share: one pooled HMAC
// per configured secret (so a verification allocates nothing), the constant-time compare of a
// MAC against a header's entries, the timestamp window, pre-wrapped errors, and the parsers of
// the values inside signature headers (hex and base64 MACs, unix seconds).
//
// Parsing rules shared by the schemes:
//   - Leading and trailing spaces and tabs (HTTP optional white space) around the value and
//     around each entry are ignored; hex digits may be upper or lower case.
//   - Each MAC must be exactly 32 bytes: 64 hex digits, or 44 base64 characters (43 without the
//     padding) in the standard alphabet with zero trailing bits.
//   - A timestamp is unsigned decimal unix seconds (at most 20 digits, fitting an int64). It is
//     signed exactly as written, so leading zeros are accepted and kept in the signed string.
package hmacsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hookline/hookline/pkg/providers"
)

// Size is the length of a MAC: HMAC-SHA256.
const Size = sha256.Size

// Wrapped is a pre-built error wrapping one sentinel: rejection paths, which attackers can drive,
// allocate nothing.
type Wrapped struct {
	sentinel error
	msg      string
}

// Wrap returns an error wrapping sentinel with a fixed message (never a secret or a signature).
func Wrap(sentinel error, msg string) *Wrapped { return &Wrapped{sentinel: sentinel, msg: msg} }

// Malformed returns an error wrapping providers.ErrMalformedSignature.
func Malformed(msg string) *Wrapped { return Wrap(providers.ErrMalformedSignature, msg) }

func (e *Wrapped) Error() string { return e.sentinel.Error() + ": " + e.msg }
func (e *Wrapped) Unwrap() error { return e.sentinel }

// Errors more than one scheme returns.
var (
	ErrEmptySecret  = Wrap(providers.ErrInvalidSecret, "secret is empty")
	ErrTooMany      = Malformed("too many entries")
	ErrBadHex       = Malformed("want 64 hex digits")
	ErrBadTimestamp = Malformed("timestamp is not unix seconds")
)

// HeaderValue returns the first value of the canonical key, like http.Header.Get but without
// canonicalising the key on every request (which allocates for lower-case names).
func HeaderValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// MAC is one reusable HMAC with scratch space, so a verification allocates nothing.
type MAC struct {
	h   hash.Hash
	sum [Size]byte
	buf [64]byte
}

// Write feeds b to the MAC.
func (st *MAC) Write(b []byte) { st.h.Write(b) }

// WriteString feeds s to the MAC through the scratch buffer (no []byte conversion).
func (st *MAC) WriteString(s string) {
	for len(s) > 0 {
		n := copy(st.buf[:], s)
		st.h.Write(st.buf[:n])
		s = s[n:]
	}
}

// WriteChar feeds one byte to the MAC.
func (st *MAC) WriteChar(c byte) {
	st.buf[0] = c
	st.h.Write(st.buf[:1])
}

// Sum returns the MAC, valid until the state is put back.
func (st *MAC) Sum() []byte { return st.h.Sum(st.sum[:0]) }

// Key is one secret with a pool of HMAC states keyed with it.
type Key struct {
	pool sync.Pool
}

func newKey(key []byte) *Key {
	k := append([]byte(nil), key...)
	m := &Key{}
	m.pool.New = func() any { return &MAC{h: hmac.New(sha256.New, k)} }
	return m
}

// Get returns a reset HMAC state keyed with the secret; give it back with Put.
func (m *Key) Get() *MAC {
	st := m.pool.Get().(*MAC)
	st.h.Reset()
	return st
}

// Put gives back a state from Get.
func (m *Key) Put(st *MAC) { m.pool.Put(st) }

// NewKeys returns one Key per secret, each turned into key bytes by decode (nil: used as is). It
// returns providers.ErrNoSecrets when secrets is empty, and an error naming the secret's index
// (never its value) wrapping providers.ErrInvalidSecret when one is empty or decode fails.
func NewKeys(secrets [][]byte, decode func([]byte) ([]byte, error)) ([]*Key, error) {
	if len(secrets) == 0 {
		return nil, providers.ErrNoSecrets
	}
	out := make([]*Key, 0, len(secrets))
	for i, s := range secrets {
		key := s
		if decode != nil {
			var err error
			if key, err = decode(s); err != nil {
				return nil, &indexedErr{i: i, err: err}
			}
		}
		if len(key) == 0 {
			return nil, &indexedErr{i: i, err: ErrEmptySecret}
		}
		out = append(out, newKey(key))
	}
	return out, nil
}

// indexedErr names which secret is bad, never what it holds.
type indexedErr struct {
	i   int
	err error
}

func (e *indexedErr) Error() string { return "secret " + strconv.Itoa(e.i) + ": " + e.err.Error() }
func (e *indexedErr) Unwrap() error { return e.err }

// MatchAny reports whether sum equals any of macs, comparing each in constant time.
func MatchAny(sum []byte, macs [][Size]byte) bool {
	ok := false
	for i := range macs {
		if hmac.Equal(sum, macs[i][:]) {
			ok = true
		}
	}
	return ok
}

// Match reports whether any of keys, over the signed content "<prefix>.<prefix>.…<body>" (the
// body alone without prefixes), gives one of macs; every comparison is constant-time. It is the
// one secret-rotation loop the providers' verifiers share.
func Match(keys []*Key, macs [][Size]byte, body []byte, prefixes ...string) bool {
	for _, k := range keys {
		st := k.Get()
		for _, p := range prefixes {
			st.WriteString(p)
			st.WriteChar('.')
		}
		st.Write(body)
		ok := MatchAny(st.Sum(), macs)
		k.Put(st)
		if ok {
			return true
		}
	}
	return false
}

// Fresh reports whether the unix time t is within tol of now.
func Fresh(now time.Time, t int64, tol time.Duration) bool {
	d := now.Sub(time.Unix(t, 0))
	return d <= tol && d >= -tol
}

// OrNow is c, or time.Now when c is nil.
func OrNow(c providers.Clock) providers.Clock {
	if c == nil {
		return time.Now
	}
	return c
}

// OrDefault is tol, or providers.DefaultTolerance when tol <= 0.
func OrDefault(tol time.Duration) time.Duration {
	if tol <= 0 {
		return providers.DefaultTolerance
	}
	return tol
}

// CopyMACs returns the MACs as separate slices (for the exported header parsers).
func CopyMACs(in [][Size]byte) [][]byte {
	out := make([][]byte, len(in))
	for i := range in {
		out[i] = append([]byte(nil), in[i][:]...)
	}
	return out
}

// IsOWS reports whether c is HTTP optional white space.
func IsOWS(c byte) bool { return c == ' ' || c == '\t' }

// TrimOWS removes leading and trailing spaces and tabs.
func TrimOWS(s string) string {
	for len(s) > 0 && IsOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && IsOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DecodeHex32 decodes exactly 64 hex digits into dst.
func DecodeHex32(dst *[Size]byte, s string) bool {
	if len(s) != 2*Size {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

var (
	b64Padded = base64.StdEncoding.Strict()
	b64Raw    = base64.RawStdEncoding.Strict()
)

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// DecodeBase64_32 decodes the standard base64 of exactly 32 bytes ("...=" or without the "=").
func DecodeBase64_32(dst *[Size]byte, s string) bool {
	const padded = 44 // base64.StdEncoding.EncodedLen(32)
	enc := b64Padded
	body := s
	switch len(s) {
	case padded:
		if s[padded-1] != '=' {
			return false
		}
		body = s[:padded-1]
	case padded - 1:
		enc = b64Raw
	default:
		return false
	}
	// Only alphabet characters: the decoder would silently skip \r and \n.
	for i := 0; i < len(body); i++ {
		if !isBase64Char(body[i]) {
			return false
		}
	}
	var src [padded]byte
	var out [33]byte // DecodedLen(44)
	n := copy(src[:], s)
	m, err := enc.Decode(out[:], src[:n])
	if err != nil || m != Size {
		return false
	}
	copy(dst[:], out[:m])
	return true
}

// ParseUnix parses unsigned decimal unix seconds.
func ParseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
