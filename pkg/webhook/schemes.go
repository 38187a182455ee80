package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// Petstore verifies X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, rawBody)>.
type Petstore struct {
	macs []*keyedMAC
}

// NewPetstore returns a verifier accepting any of secrets (rotation). It returns ErrNoSecrets
// when secrets is empty and an error wrapping ErrInvalidSecret when one of them is empty.
func NewPetstore(secrets [][]byte) (*Petstore, error) {
	macs, err := newKeyedMACs(secrets, nil)
	if err != nil {
		return nil, err
	}
	return &Petstore{macs: macs}, nil
}

// Verify checks the X-Webhook-Signature header against body.
func (p *Petstore) Verify(h http.Header, body []byte) error {
	var want [1][sha256.Size]byte
	if err := parsePetstore(headerValue(h, keyPetstore), &want[0]); err != nil {
		return err
	}
	for _, m := range p.macs {
		st := m.get()
		st.h.Write(body)
		ok := matchAny(st.finish(), want[:])
		m.put(st)
		if ok {
			return nil
		}
	}
	return ErrSignatureMismatch
}

// Bunjang verifies X-Bun-Webhook-Signature: t=<unix>,v0=<hex HMAC-SHA256(secret, "<t>.<body>")>,
// with several v0 entries allowed, and that t is within the tolerance of now.
type Bunjang struct {
	macs []*keyedMAC
	tol  time.Duration
	now  Clock
}

// NewBunjang returns a verifier accepting any of secrets. tolerance <= 0 means
// DefaultTolerance; now nil means time.Now. It returns ErrNoSecrets when secrets is empty and an
// error wrapping ErrInvalidSecret when one of them is empty.
func NewBunjang(secrets [][]byte, tolerance time.Duration, now Clock) (*Bunjang, error) {
	macs, err := newKeyedMACs(secrets, nil)
	if err != nil {
		return nil, err
	}
	return &Bunjang{macs: macs, tol: orDefault(tolerance), now: orNow(now)}, nil
}

// Verify checks the X-Bun-Webhook-Signature header against body, then the timestamp window.
func (b *Bunjang) Verify(h http.Header, body []byte) error {
	var sig bunjangSig
	if err := parseBunjang(headerValue(h, keyBunjang), &sig); err != nil {
		return err
	}
	matched := false
	for _, m := range b.macs {
		st := m.get()
		st.writeString(sig.tRaw)
		st.writeByte('.')
		st.h.Write(body)
		matched = matchAny(st.finish(), sig.macs[:sig.n])
		m.put(st)
		if matched {
			break
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}
	if !fresh(b.now(), sig.t, b.tol) {
		return ErrStaleTimestamp
	}
	return nil
}

// Standard verifies Standard Webhooks: webhook-id (non-empty), webhook-timestamp (unix seconds
// within the tolerance of now) and webhook-signature (space-separated "v1,<base64>" entries over
// "<id>.<timestamp>.<body>"). The Svix-branded names svix-id, svix-timestamp and svix-signature
// are read the same way when no webhook-* header is present (StandardHeaders).
type Standard struct {
	macs []*keyedMAC
	tol  time.Duration
	now  Clock
}

// NewStandard returns a verifier accepting any of secrets, each turned into a key by StandardKey.
// tolerance <= 0 means DefaultTolerance; now nil means time.Now. It returns ErrNoSecrets when
// secrets is empty and an error wrapping ErrInvalidSecret when one of them is unusable.
func NewStandard(secrets [][]byte, tolerance time.Duration, now Clock) (*Standard, error) {
	macs, err := newKeyedMACs(secrets, StandardKey)
	if err != nil {
		return nil, err
	}
	return &Standard{macs: macs, tol: orDefault(tolerance), now: orNow(now)}, nil
}

// Verify checks the Standard Webhooks headers (StandardHeaders) against body, then the timestamp
// window. A missing id, timestamp or signature is ErrMissingSignature.
func (s *Standard) Verify(h http.Header, body []byte) error {
	id, tsRaw, sigHeader := StandardHeaders(h)
	tsRaw = trimOWS(tsRaw)
	if id == "" || tsRaw == "" {
		return ErrMissingSignature
	}
	var sigs standardSigs
	if err := parseStandard(sigHeader, &sigs); err != nil {
		return err
	}
	ts, ok := parseUnix(tsRaw)
	if !ok {
		return errBadTimestamp
	}
	matched := false
	for _, m := range s.macs {
		st := m.get()
		st.writeString(id)
		st.writeByte('.')
		st.writeString(tsRaw)
		st.writeByte('.')
		st.h.Write(body)
		matched = matchAny(st.finish(), sigs.macs[:sigs.n])
		m.put(st)
		if matched {
			break
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}
	if !fresh(s.now(), ts, s.tol) {
		return ErrStaleTimestamp
	}
	return nil
}

// standardSecretPrefix marks a base64-encoded Standard Webhooks secret.
const standardSecretPrefix = "whsec_"

var errBadWhsec = &wrapped{sentinel: ErrInvalidSecret, msg: "whsec_ secret is not valid base64"}

// StandardKey turns a configured Standard Webhooks secret into the HMAC key: "whsec_<base64>"
// gives the decoded bytes (standard alphabet, padding optional), any other value its raw bytes.
// A whsec_ value whose base64 is bad or empty, or an empty secret, is an error wrapping
// ErrInvalidSecret.
func StandardKey(secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, errEmptySecret
	}
	s := string(secret)
	if !strings.HasPrefix(s, standardSecretPrefix) {
		return append([]byte(nil), secret...), nil
	}
	enc := strings.TrimPrefix(s, standardSecretPrefix)
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(enc)
	}
	if err != nil || len(key) == 0 {
		return nil, errBadWhsec
	}
	return key, nil
}
