// Package webhook verifies and produces the signatures of the three inbound webhook schemes
// Hookline accepts (contract section 2):
//
//   - Petstore: X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, rawBody)>
//   - Bunjang: X-Bun-Webhook-Signature: t=<unix>,v0=<hex HMAC-SHA256(secret, "<t>.<rawBody>")>,
//     several v0 entries allowed
//   - Standard Webhooks: webhook-id, webhook-timestamp and webhook-signature
//     ("v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<rawBody>")>" entries, space-separated)
//
// Every verifier accepts several secrets (rotation): a request passes when any secret matches any
// of its signature entries. MACs are compared with hmac.Equal.
//
// Errors returned by verifiers and parsers wrap exactly one of the sentinels ErrMissingSignature,
// ErrMalformedSignature, ErrSignatureMismatch or ErrStaleTimestamp, and never contain a secret or
// a signature value.
//
// Order of checks: presence, then syntax, then the MAC, and only then the timestamp window. So a
// sender that does not hold a secret always learns "invalid signature" whatever timestamp it
// sends, and "stale timestamp" is only ever reported for an authentic request (a replay, or a
// sender whose clock is off), which is the case where that answer helps.
//
// Header values are read like http.Header.Get: the first value of the canonical header key. The
// number of entries a signature header may carry is capped at MaxSignatureEntries, and each
// secret costs one HMAC per request however many entries the header holds, so a garbage header
// cannot make a verifier do unbounded work.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"time"
)

// Sentinel errors. Verifier errors wrap one of the first five.
var (
	ErrNoSecrets          = errors.New("no secrets configured")
	ErrMissingSignature   = errors.New("signature missing")
	ErrMalformedSignature = errors.New("signature header malformed")
	ErrSignatureMismatch  = errors.New("signature does not match")
	ErrStaleTimestamp     = errors.New("timestamp outside tolerance")
	// ErrInvalidSecret is returned when a configured secret cannot be used: empty, or a
	// "whsec_" value whose base64 is bad.
	ErrInvalidSecret = errors.New("invalid secret")
)

// Header names.
const (
	// HeaderPetstore carries "sha256=<hex HMAC-SHA256(secret, rawBody)>".
	HeaderPetstore = "X-Webhook-Signature"
	// HeaderBunjang carries "t=<unix>,v0=<hex HMAC(secret, "<t>.<body>")>[,v0=...]".
	HeaderBunjang = "X-Bun-Webhook-Signature"
	// HeaderStandardID is the Standard Webhooks message id (also the idempotency key).
	HeaderStandardID = "webhook-id"
	// HeaderStandardTimestamp is the Standard Webhooks unix timestamp in seconds.
	HeaderStandardTimestamp = "webhook-timestamp"
	// HeaderStandardSignature carries space-separated "v1,<base64>" entries.
	HeaderStandardSignature = "webhook-signature"

	// Senders built on Svix send the Standard Webhooks scheme under these names.
	HeaderSvixID        = "svix-id"
	HeaderSvixTimestamp = "svix-timestamp"
	HeaderSvixSignature = "svix-signature"
)

// DefaultTolerance is the freshness window used when a constructor is given a tolerance <= 0.
const DefaultTolerance = 300 * time.Second

// MaxSignatureEntries caps the entries of a Bunjang or Standard signature header (every entry
// counts, including ones of versions we ignore); a header with more is malformed.
const MaxSignatureEntries = 16

// Clock returns the current time; tests inject a fixed one.
type Clock func() time.Time

// Verifier checks a request's signature over the exact raw body. Errors wrap one of the
// sentinels.
type Verifier interface {
	Verify(h http.Header, body []byte) error
}

var (
	_ Verifier = (*Petstore)(nil)
	_ Verifier = (*Bunjang)(nil)
	_ Verifier = (*Standard)(nil)
)

// Canonical forms of the header names, so lookups index the map without canonicalising (which
// allocates for the lower-case Standard Webhooks names) on every request.
var (
	keyPetstore          = textproto.CanonicalMIMEHeaderKey(HeaderPetstore)
	keyBunjang           = textproto.CanonicalMIMEHeaderKey(HeaderBunjang)
	keyStandardID        = textproto.CanonicalMIMEHeaderKey(HeaderStandardID)
	keyStandardTimestamp = textproto.CanonicalMIMEHeaderKey(HeaderStandardTimestamp)
	keyStandardSignature = textproto.CanonicalMIMEHeaderKey(HeaderStandardSignature)
	keySvixID            = textproto.CanonicalMIMEHeaderKey(HeaderSvixID)
	keySvixTimestamp     = textproto.CanonicalMIMEHeaderKey(HeaderSvixTimestamp)
	keySvixSignature     = textproto.CanonicalMIMEHeaderKey(HeaderSvixSignature)
)

// Pre-wrapped errors: no allocation on rejection paths, which attackers can drive.
var (
	errEmptySecret  = &wrapped{sentinel: ErrInvalidSecret, msg: "secret is empty"}
	errTooMany      = wrapMalformed("too many entries")
	errBadHex       = wrapMalformed("want 64 hex digits")
	errBadPrefix    = wrapMalformed(`want "sha256=<hex>"`)
	errBadEntry     = wrapMalformed("entry is not key=value")
	errBadTimestamp = wrapMalformed("timestamp is not unix seconds")
	errDupTimestamp = wrapMalformed("timestamp given twice")
	errNoTimestamp  = wrapMalformed("no t= entry")
	errNoV0         = wrapMalformed("no v0= entry")
	errBadV1Entry   = wrapMalformed(`entry is not "<version>,<signature>"`)
	errBadBase64    = wrapMalformed("v1 signature is not base64 of 32 bytes")
	errNoV1         = wrapMalformed("no v1 entry")
)

type wrapped struct {
	sentinel error
	msg      string
}

func (e *wrapped) Error() string { return e.sentinel.Error() + ": " + e.msg }
func (e *wrapped) Unwrap() error { return e.sentinel }

func wrapMalformed(msg string) error { return &wrapped{sentinel: ErrMalformedSignature, msg: msg} }

// headerValue returns the first value of the canonical key, like http.Header.Get.
// StandardHeaders returns the Standard Webhooks id, timestamp and signature of a request: the
// webhook-* trio, or, when the request carries none of the three, the Svix-branded svix-* trio
// (so webhook-* wins when both are present, and the two are never mixed). The id is the
// idempotency key.
func StandardHeaders(h http.Header) (id, timestamp, signature string) {
	_, hasID := h[keyStandardID]
	_, hasTS := h[keyStandardTimestamp]
	_, hasSig := h[keyStandardSignature]
	if hasID || hasTS || hasSig {
		return headerValue(h, keyStandardID), headerValue(h, keyStandardTimestamp), headerValue(h, keyStandardSignature)
	}
	return headerValue(h, keySvixID), headerValue(h, keySvixTimestamp), headerValue(h, keySvixSignature)
}

// StandardID is the id StandardHeaders returns.
func StandardID(h http.Header) string {
	id, _, _ := StandardHeaders(h)
	return id
}

func headerValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// macState is one reusable HMAC with scratch space, so a verification allocates nothing.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	buf [64]byte
}

// writeString feeds s to the MAC through the scratch buffer (no []byte conversion).
func (st *macState) writeString(s string) {
	for len(s) > 0 {
		n := copy(st.buf[:], s)
		st.h.Write(st.buf[:n])
		s = s[n:]
	}
}

// writeByte feeds one byte to the MAC.
func (st *macState) writeByte(c byte) {
	st.buf[0] = c
	st.h.Write(st.buf[:1])
}

// finish returns the MAC, valid until the state is put back.
func (st *macState) finish() []byte { return st.h.Sum(st.sum[:0]) }

// keyedMAC is one secret with a pool of HMAC states keyed with it.
type keyedMAC struct {
	pool sync.Pool
}

func newKeyedMAC(key []byte) *keyedMAC {
	k := append([]byte(nil), key...)
	m := &keyedMAC{}
	m.pool.New = func() any { return &macState{h: hmac.New(sha256.New, k)} }
	return m
}

func (m *keyedMAC) get() *macState {
	st := m.pool.Get().(*macState)
	st.h.Reset()
	return st
}

func (m *keyedMAC) put(st *macState) { m.pool.Put(st) }

func newKeyedMACs(secrets [][]byte, decode func([]byte) ([]byte, error)) ([]*keyedMAC, error) {
	if len(secrets) == 0 {
		return nil, ErrNoSecrets
	}
	out := make([]*keyedMAC, 0, len(secrets))
	for i, s := range secrets {
		key := s
		if decode != nil {
			var err error
			if key, err = decode(s); err != nil {
				return nil, &indexedErr{i: i, err: err}
			}
		}
		if len(key) == 0 {
			return nil, &indexedErr{i: i, err: errEmptySecret}
		}
		out = append(out, newKeyedMAC(key))
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

// matchAny reports whether sum equals any of macs, comparing each in constant time.
func matchAny(sum []byte, macs [][sha256.Size]byte) bool {
	ok := false
	for i := range macs {
		if hmac.Equal(sum, macs[i][:]) {
			ok = true
		}
	}
	return ok
}

// fresh reports whether the unix time t is within tol of now.
func fresh(now time.Time, t int64, tol time.Duration) bool {
	d := now.Sub(time.Unix(t, 0))
	return d <= tol && d >= -tol
}

func orNow(c Clock) Clock {
	if c == nil {
		return time.Now
	}
	return c
}

func orDefault(tol time.Duration) time.Duration {
	if tol <= 0 {
		return DefaultTolerance
	}
	return tol
}
