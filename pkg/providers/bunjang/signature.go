package bunjang

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/internal/hmacsig"
)

// The Bunjang signature scheme (contract section 2):
//
//	X-Bun-Webhook-Signature: t=<unix>,v0=<hex HMAC-SHA256(secret, "<t>.<rawBody>")>[,v0=<hex>...]
//
// Entries are comma-separated, in any order; several v0 entries are allowed (rotation on the
// sender's side); t must be within the tolerance of now.

// HeaderSignature carries "t=<unix>,v0=<hex HMAC(secret, "<t>.<body>")>[,v0=...]".
const HeaderSignature = "X-Bun-Webhook-Signature"

// keySignature is the canonical form, so a lookup indexes the map without canonicalising.
var keySignature = textproto.CanonicalMIMEHeaderKey(HeaderSignature)

// Pre-wrapped errors: no allocation on rejection paths.
var (
	errBadEntry     = hmacsig.Malformed("entry is not key=value")
	errDupTimestamp = hmacsig.Malformed("timestamp given twice")
	errNoTimestamp  = hmacsig.Malformed("no t= entry")
	errNoV0         = hmacsig.Malformed("no v0= entry")

	_ providers.Verifier = (*Verifier)(nil)
)

// Verifier checks HeaderSignature against any of its secrets, then that t is within the
// tolerance of now.
type Verifier struct {
	keys []*hmacsig.Key
	tol  time.Duration
	now  providers.Clock
}

// NewVerifier returns a verifier accepting any of secrets. tolerance <= 0 means
// providers.DefaultTolerance; now nil means time.Now. It returns providers.ErrNoSecrets when
// secrets is empty and an error wrapping providers.ErrInvalidSecret when one of them is empty.
func NewVerifier(secrets [][]byte, tolerance time.Duration, now providers.Clock) (*Verifier, error) {
	keys, err := hmacsig.NewKeys(secrets, nil)
	if err != nil {
		return nil, err
	}
	return &Verifier{keys: keys, tol: hmacsig.OrDefault(tolerance), now: hmacsig.OrNow(now)}, nil
}

// Verify checks the X-Bun-Webhook-Signature header against body, then the timestamp window.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	var sig signature
	if err := parseSignature(hmacsig.HeaderValue(h, keySignature), &sig); err != nil {
		return err
	}
	if !hmacsig.Match(v.keys, sig.macs[:sig.n], body, sig.tRaw) {
		return providers.ErrSignatureMismatch
	}
	if !hmacsig.Fresh(v.now(), sig.t, v.tol) {
		return providers.ErrStaleTimestamp
	}
	return nil
}

// Sign returns the X-Bun-Webhook-Signature value for body sent at t: "t=<unix>,v0=<hex>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v0=" + hex.EncodeToString(m.Sum(nil))
}

// ParseHeader parses an X-Bun-Webhook-Signature value into its timestamp and the raw 32-byte MACs
// of its v0 entries. An empty value is providers.ErrMissingSignature; anything else that does not
// parse wraps providers.ErrMalformedSignature.
func ParseHeader(v string) (t int64, macs [][]byte, err error) {
	var sig signature
	if err := parseSignature(v, &sig); err != nil {
		return 0, nil, err
	}
	return sig.t, hmacsig.CopyMACs(sig.macs[:sig.n]), nil
}

// signature is a parsed header; it lives on the verifier's stack.
type signature struct {
	tRaw string // t exactly as sent: it is what was signed
	t    int64
	n    int
	macs [providers.MaxSignatureEntries][hmacsig.Size]byte
}

// parseSignature parses "t=<unix>,v0=<hex>[,v0=<hex>...]". Entries are comma-separated, in any
// order; empty entries are skipped, keys other than t and v0 are ignored (but count towards
// providers.MaxSignatureEntries). Exactly one t and at least one v0 are required.
func parseSignature(v string, out *signature) error {
	if hmacsig.TrimOWS(v) == "" {
		return providers.ErrMissingSignature
	}
	entries := 0
	haveT := false
	for rest, more := v, true; more; {
		var seg string
		seg, rest, more = strings.Cut(rest, ",")
		seg = hmacsig.TrimOWS(seg)
		if seg == "" {
			continue
		}
		entries++
		if entries > providers.MaxSignatureEntries {
			return hmacsig.ErrTooMany
		}
		k, val, ok := strings.Cut(seg, "=")
		k, val = hmacsig.TrimOWS(k), hmacsig.TrimOWS(val)
		if !ok || k == "" {
			return errBadEntry
		}
		switch k {
		case "t":
			if haveT {
				return errDupTimestamp
			}
			t, ok := hmacsig.ParseUnix(val)
			if !ok {
				return hmacsig.ErrBadTimestamp
			}
			out.tRaw, out.t, haveT = val, t, true
		case "v0":
			if !hmacsig.DecodeHex32(&out.macs[out.n], val) {
				return hmacsig.ErrBadHex
			}
			out.n++
		}
	}
	if !haveT {
		return errNoTimestamp
	}
	if out.n == 0 {
		return errNoV0
	}
	return nil
}
