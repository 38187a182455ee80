package petstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/internal/hmacsig"
)

// The Petstore signature scheme (contract section 2):
//
//	X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, rawBody)>
//
// The prefix is case-insensitive, the hex upper or lower case, white space around the value
// ignored. Petstore signs no timestamp: the body's own timestamp is bounded instead (Knobs).

// HeaderSignature carries "sha256=<hex HMAC-SHA256(secret, rawBody)>".
const HeaderSignature = "X-Webhook-Signature"

// keySignature is the canonical form, so a lookup indexes the map without canonicalising.
var keySignature = textproto.CanonicalMIMEHeaderKey(HeaderSignature)

var (
	errBadPrefix = hmacsig.Malformed(`want "sha256=<hex>"`)

	_ providers.Verifier = (*Verifier)(nil)
)

// Verifier checks HeaderSignature against any of its secrets (rotation).
type Verifier struct {
	keys []*hmacsig.Key
}

// NewVerifier returns a verifier accepting any of secrets. It returns providers.ErrNoSecrets when
// secrets is empty and an error wrapping providers.ErrInvalidSecret when one of them is empty.
func NewVerifier(secrets [][]byte) (*Verifier, error) {
	keys, err := hmacsig.NewKeys(secrets, nil)
	if err != nil {
		return nil, err
	}
	return &Verifier{keys: keys}, nil
}

// Verify checks the X-Webhook-Signature header against body.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	var want [1][hmacsig.Size]byte
	if err := parseSignature(hmacsig.HeaderValue(h, keySignature), &want[0]); err != nil {
		return err
	}
	if !hmacsig.Match(v.keys, want[:], body) {
		return providers.ErrSignatureMismatch
	}
	return nil
}

// Sign returns the X-Webhook-Signature value for body: "sha256=<hex>".
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ParseHeader parses an X-Webhook-Signature value, "sha256=<hex>", into the raw 32-byte MAC. An
// empty value is providers.ErrMissingSignature; anything else that does not parse wraps
// providers.ErrMalformedSignature.
func ParseHeader(v string) ([]byte, error) {
	var mac [hmacsig.Size]byte
	if err := parseSignature(v, &mac); err != nil {
		return nil, err
	}
	return mac[:], nil
}

// parseSignature parses "sha256=<64 hex>" (prefix case-insensitive) into dst.
func parseSignature(v string, dst *[hmacsig.Size]byte) error {
	const prefix = "sha256="
	v = hmacsig.TrimOWS(v)
	if v == "" {
		return providers.ErrMissingSignature
	}
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return errBadPrefix
	}
	if !hmacsig.DecodeHex32(dst, v[len(prefix):]) {
		return hmacsig.ErrBadHex
	}
	return nil
}
