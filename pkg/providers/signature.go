package providers

import (
	"errors"
	"net/http"
	"time"
)

// What every provider's signature scheme shares. Each scheme lives in its provider's folder
// (petstore/, bunjang/, standardwebhooks/, shopify/: signature.go, verify and sign); the
// building blocks they have in common (a pooled HMAC per secret, the constant-time compare over
// several secrets, the header value parsers) are in internal/hmacsig.
//
// Every verifier accepts several secrets (rotation): a request passes when any secret matches any
// of its signature entries. MACs are compared with hmac.Equal.
//
// Errors returned by verifiers and header parsers wrap exactly one of the sentinels
// ErrMissingSignature, ErrMalformedSignature, ErrSignatureMismatch or ErrStaleTimestamp, and never
// contain a secret or a signature value.
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

// Sentinel errors of the signature schemes. Verifier errors wrap one of the first five.
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

// DefaultTolerance is the freshness window a signature verifier uses when it is given a
// tolerance <= 0.
const DefaultTolerance = 300 * time.Second

// MaxSignatureEntries caps the entries of a signature header that may carry several (Bunjang,
// Standard Webhooks; every entry counts, including ones of versions we ignore); a header with
// more is malformed.
const MaxSignatureEntries = 16

// Clock returns the current time; tests inject a fixed one.
type Clock func() time.Time

// Verifier checks a request's signature over the exact raw body. Errors wrap one of the
// sentinels above.
type Verifier interface {
	Verify(h http.Header, body []byte) error
}
