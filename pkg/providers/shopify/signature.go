package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/internal/hmacsig"
)

// HeaderSignature carries base64(HMAC-SHA256(secret, rawBody)).
const HeaderSignature = "X-Shopify-Hmac-Sha256"

// verifier checks HeaderSignature against any of its secrets. Shopify signs no timestamp: there
// is no freshness window.
type verifier struct {
	keys []*hmacsig.Key
}

var _ providers.Verifier = (*verifier)(nil)

func newVerifier(secrets [][]byte) (*verifier, error) {
	keys, err := hmacsig.NewKeys(secrets, nil)
	if err != nil {
		return nil, err
	}
	return &verifier{keys: keys}, nil
}

var b64 = base64.StdEncoding.Strict()

// Verify implements providers.Verifier: a missing header is ErrMissingSignature, anything but
// the padded base64 of 32 bytes (hex included) ErrMalformedSignature, no secret matching
// ErrSignatureMismatch.
func (v *verifier) Verify(h http.Header, body []byte) error {
	sig := strings.Trim(h.Get(HeaderSignature), " \t")
	if sig == "" {
		return providers.ErrMissingSignature
	}
	var buf [33]byte // base64.StdEncoding.DecodedLen(44)
	if len(sig) != 44 {
		return providers.ErrMalformedSignature
	}
	if n, err := b64.Decode(buf[:], []byte(sig)); err != nil || n != sha256.Size {
		return providers.ErrMalformedSignature
	}
	var want [1][hmacsig.Size]byte
	copy(want[0][:], buf[:sha256.Size])
	if !hmacsig.Match(v.keys, want[:], body) {
		return providers.ErrSignatureMismatch
	}
	return nil
}

// Sign returns the HeaderSignature value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
