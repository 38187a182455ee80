package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/hookline/hookline/pkg/webhook"
)

// HeaderSignature carries base64(HMAC-SHA256(secret, rawBody)).
const HeaderSignature = "X-Shopify-Hmac-Sha256"

// verifier checks HeaderSignature against any of its secrets. Shopify signs no timestamp: there
// is no freshness window.
type verifier struct {
	keys [][]byte
}

func newVerifier(secrets [][]byte) (*verifier, error) {
	if len(secrets) == 0 {
		return nil, webhook.ErrNoSecrets
	}
	v := &verifier{}
	for _, s := range secrets {
		if len(s) == 0 {
			return nil, webhook.ErrInvalidSecret
		}
		v.keys = append(v.keys, append([]byte(nil), s...))
	}
	return v, nil
}

var b64 = base64.StdEncoding.Strict()

// Verify implements webhook.Verifier: a missing header is ErrMissingSignature, anything but the
// base64 of 32 bytes (hex included) ErrMalformedSignature, no secret matching
// ErrSignatureMismatch.
func (v *verifier) Verify(h http.Header, body []byte) error {
	sig := strings.Trim(h.Get(HeaderSignature), " \t")
	if sig == "" {
		return webhook.ErrMissingSignature
	}
	var buf [33]byte // base64.StdEncoding.DecodedLen(44)
	if len(sig) != 44 {
		return webhook.ErrMalformedSignature
	}
	if n, err := b64.Decode(buf[:], []byte(sig)); err != nil || n != sha256.Size {
		return webhook.ErrMalformedSignature
	}
	want := buf[:sha256.Size]
	ok := false
	for _, k := range v.keys {
		m := hmac.New(sha256.New, k)
		m.Write(body)
		if hmac.Equal(m.Sum(nil), want) {
			ok = true
		}
	}
	if !ok {
		return webhook.ErrSignatureMismatch
	}
	return nil
}

// Sign returns the HeaderSignature value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
