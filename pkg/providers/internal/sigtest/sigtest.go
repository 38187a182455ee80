// Package sigtest holds what the signature scheme tests of the providers share: loading a
// provider's signature vector, MAC helpers and the assertions every verifier must meet. Tests
// only.
package sigtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
)

// VectorFile is where each provider folder keeps its signature vector: its entry of the
// contract's signature vectors (pkg/providers/all checks the two agree).
const VectorFile = "testdata/signature-vector.json"

// Vector is one provider's signature test vector.
type Vector struct {
	Secret  string            `json:"secret"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
	// T is the signed timestamp, for schemes that sign one in a header of their own syntax.
	T int64 `json:"t"`
}

// LoadVector reads the provider's VectorFile; an unreadable or incomplete one fails tb.
func LoadVector(tb testing.TB) Vector {
	tb.Helper()
	raw, err := os.ReadFile(VectorFile)
	if err != nil {
		tb.Fatalf("signature vector not found at %s: %v", VectorFile, err)
	}
	var v Vector
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("parse %s: %v", VectorFile, err)
	}
	if v.Secret == "" || v.Body == "" || len(v.Headers) == 0 {
		tb.Fatalf("%s: the vector is incomplete", VectorFile)
	}
	return v
}

// Header builds an http.Header the way net/http does (canonical keys).
func (v Vector) Header() http.Header {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return h
}

// FixedClock always returns t.
func FixedClock(t time.Time) providers.Clock { return func() time.Time { return t } }

// FlipByte returns a copy of b with byte i changed.
func FlipByte(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func mac(key []byte, parts []string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// HexMAC is the hex HMAC-SHA256 of the concatenated parts.
func HexMAC(key []byte, parts ...string) string { return hex.EncodeToString(mac(key, parts)) }

// B64MAC is the standard base64 HMAC-SHA256 of the concatenated parts.
func B64MAC(key []byte, parts ...string) string {
	return base64.StdEncoding.EncodeToString(mac(key, parts))
}

// MustHex decodes s.
func MustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// MustB64 decodes s.
func MustB64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// CheckErr asserts err is nil when want is nil, else wraps want, and never echoes a header value
// (a signature).
func CheckErr(t *testing.T, err, want error, h http.Header) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Verify() = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify() = %v, want an error wrapping %v", err, want)
	}
	for _, vals := range h {
		for _, v := range vals {
			if len(v) >= 8 && strings.Contains(err.Error(), v) {
				t.Fatalf("error %q echoes a header value", err)
			}
		}
	}
}

// OneSentinel fails unless err wraps exactly one of the request sentinels.
func OneSentinel(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range []error{providers.ErrMissingSignature, providers.ErrMalformedSignature, providers.ErrSignatureMismatch, providers.ErrStaleTimestamp} {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %v wraps %d sentinels, want 1", err, n)
	}
}

// CheckConstructorErr asserts err is nil when want is nil, else wraps want without echoing the
// secret marker leak (a substring of the secret that must not appear in the message).
func CheckConstructorErr(t *testing.T, err, want error, leak string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if strings.Contains(err.Error(), leak) {
		t.Fatalf("error %q leaks the secret", err)
	}
}

// BenchBody is the ~1 KiB JSON-ish body the BenchmarkVerify* benchmarks sign.
func BenchBody() []byte {
	return bytes.Repeat([]byte(`{"k":"0123456789abcdef"},`), 41)[:1024]
}

// RoundTrip is a secret and a body every scheme must sign and then verify.
type RoundTrip struct {
	Name   string
	Secret []byte
	Body   []byte
}

// RoundTrips are the TestSignRoundTrip cases of every scheme.
func RoundTrips() []RoundTrip {
	return []RoundTrip{
		{Name: "json", Secret: []byte("s3cr3t"), Body: []byte(`{"eventId":"x"}`)},
		{Name: "empty body", Secret: []byte("k"), Body: nil},
		{Name: "binary secret and body", Secret: []byte{0, 255, 10, 13}, Body: []byte{0, 1, 2, '.', 0xff}},
		{Name: "long secret", Secret: bytes.Repeat([]byte("k"), 200), Body: bytes.Repeat([]byte("b"), 5000)},
	}
}

// RoundTripNow is the verifiers' clock in TestSignRoundTrip.
func RoundTripNow() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }

// Case is one row of a verifier's table test: the vector's request, changed by what is set.
type Case struct {
	Name    string
	Secrets [][]byte  // nil: the default secret
	Body    []byte    // nil: the default body
	Now     time.Time // zero: the default time (ignored by schemes without a timestamp)
	Header  func(h http.Header)
	Want    error
}

// RunVerify runs each case as a subtest: newVerifier(secrets, now) builds the provider's
// verifier, which checks v's headers (changed by Header) over the body; CheckErr judges it.
func RunVerify(t *testing.T, v Vector, secret, body []byte, now time.Time, cases []Case,
	newVerifier func(secrets [][]byte, now time.Time) (providers.Verifier, error)) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			secrets := tt.Secrets
			if secrets == nil {
				secrets = [][]byte{secret}
			}
			at := now
			if !tt.Now.IsZero() {
				at = tt.Now
			}
			ver, err := newVerifier(secrets, at)
			if err != nil {
				t.Fatalf("NewVerifier: %v", err)
			}
			h := v.Header()
			if tt.Header != nil {
				tt.Header(h)
			}
			b := body
			if tt.Body != nil {
				b = tt.Body
			}
			CheckErr(t, ver.Verify(h, b), tt.Want, h)
		})
	}
}
