package standardwebhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/internal/hmacsig"
)

// The Standard Webhooks signature scheme (contract section 2): webhook-id, webhook-timestamp and
// webhook-signature, whose space-separated "v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<rawBody>")>"
// entries are checked against the key of each secret (Key). Senders built on Svix send the same
// scheme as svix-id, svix-timestamp and svix-signature (Headers).

// Header names.
const (
	// HeaderID is the Standard Webhooks message id (also the idempotency key).
	HeaderID = "webhook-id"
	// HeaderTimestamp is the unix timestamp in seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries space-separated "v1,<base64>" entries.
	HeaderSignature = "webhook-signature"

	// Senders built on Svix send the Standard Webhooks scheme under these names.
	HeaderSvixID        = "svix-id"
	HeaderSvixTimestamp = "svix-timestamp"
	HeaderSvixSignature = "svix-signature"
)

// Canonical forms of the header names, so lookups index the map without canonicalising (which
// allocates for these lower-case names) on every request.
var (
	keyID            = textproto.CanonicalMIMEHeaderKey(HeaderID)
	keyTimestamp     = textproto.CanonicalMIMEHeaderKey(HeaderTimestamp)
	keySignature     = textproto.CanonicalMIMEHeaderKey(HeaderSignature)
	keySvixID        = textproto.CanonicalMIMEHeaderKey(HeaderSvixID)
	keySvixTimestamp = textproto.CanonicalMIMEHeaderKey(HeaderSvixTimestamp)
	keySvixSignature = textproto.CanonicalMIMEHeaderKey(HeaderSvixSignature)
)

// Pre-wrapped errors: no allocation on rejection paths.
var (
	errBadV1Entry = hmacsig.Malformed(`entry is not "<version>,<signature>"`)
	errBadBase64  = hmacsig.Malformed("v1 signature is not base64 of 32 bytes")
	errNoV1       = hmacsig.Malformed("no v1 entry")
	errBadWhsec   = hmacsig.Wrap(providers.ErrInvalidSecret, "whsec_ secret is not valid base64")

	_ providers.Verifier = (*Verifier)(nil)
)

// Headers returns the Standard Webhooks id, timestamp and signature of a request: the webhook-*
// trio, or, when the request carries none of the three, the Svix-branded svix-* trio (so
// webhook-* wins when both are present, and the two are never mixed). The id is the idempotency
// key.
func Headers(h http.Header) (id, timestamp, signature string) {
	_, hasID := h[keyID]
	_, hasTS := h[keyTimestamp]
	_, hasSig := h[keySignature]
	if hasID || hasTS || hasSig {
		return hmacsig.HeaderValue(h, keyID), hmacsig.HeaderValue(h, keyTimestamp), hmacsig.HeaderValue(h, keySignature)
	}
	return hmacsig.HeaderValue(h, keySvixID), hmacsig.HeaderValue(h, keySvixTimestamp), hmacsig.HeaderValue(h, keySvixSignature)
}

// ID is the id Headers returns.
func ID(h http.Header) string {
	id, _, _ := Headers(h)
	return id
}

// Verifier checks the Standard Webhooks headers: the id (non-empty), the timestamp (unix seconds
// within the tolerance of now) and the signature entries over "<id>.<timestamp>.<body>". The
// Svix-branded names are read the same way when no webhook-* header is present (Headers).
type Verifier struct {
	keys []*hmacsig.Key
	tol  time.Duration
	now  providers.Clock
}

// NewVerifier returns a verifier accepting any of secrets, each turned into a key by Key.
// tolerance <= 0 means providers.DefaultTolerance; now nil means time.Now. It returns
// providers.ErrNoSecrets when secrets is empty and an error wrapping providers.ErrInvalidSecret
// when one of them is unusable.
func NewVerifier(secrets [][]byte, tolerance time.Duration, now providers.Clock) (*Verifier, error) {
	keys, err := hmacsig.NewKeys(secrets, Key)
	if err != nil {
		return nil, err
	}
	return &Verifier{keys: keys, tol: hmacsig.OrDefault(tolerance), now: hmacsig.OrNow(now)}, nil
}

// Verify checks the Standard Webhooks headers (Headers) against body, then the timestamp window.
// A missing id, timestamp or signature is providers.ErrMissingSignature.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id, tsRaw, sigHeader := Headers(h)
	tsRaw = hmacsig.TrimOWS(tsRaw)
	if id == "" || tsRaw == "" {
		return providers.ErrMissingSignature
	}
	var sigs signatures
	if err := parseSignatures(sigHeader, &sigs); err != nil {
		return err
	}
	ts, ok := hmacsig.ParseUnix(tsRaw)
	if !ok {
		return hmacsig.ErrBadTimestamp
	}
	if !hmacsig.Match(v.keys, sigs.macs[:sigs.n], body, id, tsRaw) {
		return providers.ErrSignatureMismatch
	}
	if !hmacsig.Fresh(v.now(), ts, v.tol) {
		return providers.ErrStaleTimestamp
	}
	return nil
}

// secretPrefix marks a base64-encoded Standard Webhooks secret.
const secretPrefix = "whsec_"

// Key turns a configured Standard Webhooks secret into the HMAC key: "whsec_<base64>" gives the
// decoded bytes (standard alphabet, padding optional), any other value its raw bytes. A whsec_
// value whose base64 is bad or empty, or an empty secret, is an error wrapping
// providers.ErrInvalidSecret.
func Key(secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, hmacsig.ErrEmptySecret
	}
	s := string(secret)
	if !strings.HasPrefix(s, secretPrefix) {
		return append([]byte(nil), secret...), nil
	}
	enc := strings.TrimPrefix(s, secretPrefix)
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(enc)
	}
	if err != nil || len(key) == 0 {
		return nil, errBadWhsec
	}
	return key, nil
}

// Sign returns one webhook-signature entry, "v1,<base64>", for message id sent at ts (the
// webhook-timestamp header must carry ts.Unix()). key is already decoded (see Key).
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ParseSignatures parses a webhook-signature value into the raw 32-byte MACs of its v1 entries;
// entries of other versions are ignored. An empty value is providers.ErrMissingSignature; a value
// with no v1 entry, a v1 entry that is not base64 of 32 bytes, or more than
// providers.MaxSignatureEntries entries wraps providers.ErrMalformedSignature.
func ParseSignatures(v string) ([][]byte, error) {
	var sigs signatures
	if err := parseSignatures(v, &sigs); err != nil {
		return nil, err
	}
	return hmacsig.CopyMACs(sigs.macs[:sigs.n]), nil
}

// signatures is a parsed webhook-signature header; it lives on the verifier's stack.
type signatures struct {
	n    int
	macs [providers.MaxSignatureEntries][hmacsig.Size]byte
}

// parseSignatures parses white-space-separated "<version>,<signature>" entries, keeping the v1
// ones. Entries of other versions (such as v1a, asymmetric) are ignored but count towards
// providers.MaxSignatureEntries. A header without any v1 entry is malformed: there is nothing we
// could verify.
func parseSignatures(v string, out *signatures) error {
	entries := 0
	for i := 0; i < len(v); {
		for i < len(v) && hmacsig.IsOWS(v[i]) {
			i++
		}
		j := i
		for j < len(v) && !hmacsig.IsOWS(v[j]) {
			j++
		}
		if j == i {
			break
		}
		entry := v[i:j]
		i = j
		entries++
		if entries > providers.MaxSignatureEntries {
			return hmacsig.ErrTooMany
		}
		ver, sig, ok := strings.Cut(entry, ",")
		if !ok || ver == "" {
			return errBadV1Entry
		}
		if ver != "v1" {
			continue
		}
		if !hmacsig.DecodeBase64_32(&out.macs[out.n], sig) {
			return errBadBase64
		}
		out.n++
	}
	if entries == 0 {
		return providers.ErrMissingSignature
	}
	if out.n == 0 {
		return errNoV1
	}
	return nil
}
