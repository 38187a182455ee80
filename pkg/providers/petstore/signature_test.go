package petstore_test

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
	"github.com/hookline/hookline/pkg/providers/petstore"
)

// hexB is the vector's MAC.
const hexB = "e622bb27eec372f79c833e67f47ecd9aedbc84a038b8d7caae2856ec8cb55d95"

func TestPetstoreVerify(t *testing.T) {
	v := sigtest.LoadVector(t)
	secret := []byte(v.Secret)
	body := []byte(v.Body)
	sig := v.Headers[petstore.HeaderSignature]
	hexPart := strings.TrimPrefix(sig, "sha256=")

	tests := []sigtest.Case{
		{Name: "vector"},
		{Name: "flipped first body byte", Body: sigtest.FlipByte(body, 0), Want: providers.ErrSignatureMismatch},
		{Name: "flipped last body byte", Body: sigtest.FlipByte(body, len(body)-1), Want: providers.ErrSignatureMismatch},
		{Name: "body with trailing newline", Body: append(bytes.Clone(body), '\n'), Want: providers.ErrSignatureMismatch},
		{Name: "empty body", Body: []byte{}, Want: providers.ErrSignatureMismatch},
		{Name: "wrong secret", Secrets: [][]byte{[]byte("not-the-secret")}, Want: providers.ErrSignatureMismatch},
		{Name: "rotation: second secret matches", Secrets: [][]byte{[]byte("old"), secret}},
		{Name: "rotation: first secret matches", Secrets: [][]byte{secret, []byte("new")}},
		{Name: "missing header", Header: func(h http.Header) { h.Del(petstore.HeaderSignature) }, Want: providers.ErrMissingSignature},
		{Name: "empty header", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, "") }, Want: providers.ErrMissingSignature},
		{Name: "white space only", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, "  \t ") }, Want: providers.ErrMissingSignature},
		{Name: "garbled hex", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, "sha256=zz"+hexPart[2:]) }, Want: providers.ErrMalformedSignature},
		{Name: "bare hex without prefix", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, hexPart) }, Want: providers.ErrMalformedSignature},
		{Name: "other algorithm", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, "sha1="+hexPart) }, Want: providers.ErrMalformedSignature},
		{Name: "truncated hex", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, sig[:len(sig)-2]) }, Want: providers.ErrMalformedSignature},
		{Name: "extra hex", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, sig+"00") }, Want: providers.ErrMalformedSignature},
		{Name: "garbage", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, "hello world") }, Want: providers.ErrMalformedSignature},
		{Name: "another body's valid signature", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, petstore.Sign(secret, []byte("{}"))) }, Want: providers.ErrSignatureMismatch},
		{Name: "upper-case hex and prefix", Header: func(h http.Header) { h.Set(petstore.HeaderSignature, "SHA256="+strings.ToUpper(hexPart)) }},
		{Name: "surrounding white space", Header: func(h http.Header) {
			h[http.CanonicalHeaderKey(petstore.HeaderSignature)] = []string{" \t" + sig + " "}
		}},
		{Name: "first of two header values is used", Header: func(h http.Header) { h.Add(petstore.HeaderSignature, "sha256="+strings.Repeat("0", 64)) }},
	}
	sigtest.RunVerify(t, v, secret, body, time.Time{}, tests, func(secrets [][]byte, now time.Time) (providers.Verifier, error) {
		return petstore.NewVerifier(secrets)
	})
}

func TestParsePetstoreHeader(t *testing.T) {
	tests := []struct {
		give    string
		want    string // hex
		wantErr error
	}{
		{give: "sha256=" + hexB, want: hexB},
		{give: "SHA256=" + strings.ToUpper(hexB), want: hexB},
		{give: "  sha256=" + hexB + "\t", want: hexB},
		{give: "", wantErr: providers.ErrMissingSignature},
		{give: " ", wantErr: providers.ErrMissingSignature},
		{give: hexB, wantErr: providers.ErrMalformedSignature},
		{give: "sha256=", wantErr: providers.ErrMalformedSignature},
		{give: "sha256= " + hexB, wantErr: providers.ErrMalformedSignature},
		{give: "sha256=" + hexB[:63], wantErr: providers.ErrMalformedSignature},
		{give: "sha256=" + hexB + "0", wantErr: providers.ErrMalformedSignature},
		{give: "sha256=" + hexB[:63] + "x", wantErr: providers.ErrMalformedSignature},
		{give: "sha512=" + hexB, wantErr: providers.ErrMalformedSignature},
		{give: "sha256=" + hexB + ",sha256=" + hexB, wantErr: providers.ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := petstore.ParseHeader(tt.give)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != nil {
					t.Fatalf("ParseHeader(%q) = %x, %v; want error %v", tt.give, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, sigtest.MustHex(t, tt.want)) {
				t.Fatalf("ParseHeader(%q) = %x, %v; want %s", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		name string
		give func() error
		want error
	}{
		{name: "without secrets", give: func() error { _, err := petstore.NewVerifier(nil); return err }, want: providers.ErrNoSecrets},
		{name: "empty secret", give: func() error { _, err := petstore.NewVerifier([][]byte{[]byte("a"), {}}); return err }, want: providers.ErrInvalidSecret},
		{name: "ok", give: func() error { _, err := petstore.NewVerifier([][]byte{[]byte("s")}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigtest.CheckConstructorErr(t, tt.give(), tt.want, "not-base64")
		})
	}
}

func TestSignMatchesVector(t *testing.T) {
	v := sigtest.LoadVector(t)
	if got, want := petstore.Sign([]byte(v.Secret), []byte(v.Body)), v.Headers[petstore.HeaderSignature]; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestSignRoundTrip(t *testing.T) {
	for _, tt := range sigtest.RoundTrips() {
		t.Run(tt.Name, func(t *testing.T) {
			p, err := petstore.NewVerifier([][]byte{tt.Secret})
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set(petstore.HeaderSignature, petstore.Sign(tt.Secret, tt.Body))
			if err := p.Verify(h, tt.Body); err != nil {
				t.Errorf("petstore: %v", err)
			}
		})
	}
}

// TestVerifyConcurrent exercises the pooled MAC states from many goroutines (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	secrets := [][]byte{[]byte("a"), []byte("b")}
	p, err := petstore.NewVerifier(secrets)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 8)
	for g := range 8 {
		go func() {
			var firstErr error
			for i := range 200 {
				body := []byte(strconv.Itoa(g*1000 + i))
				h := http.Header{}
				h.Set(petstore.HeaderSignature, petstore.Sign(secrets[i%2], body))
				if err := p.Verify(h, body); err != nil && firstErr == nil {
					firstErr = err
				}
				h.Set(petstore.HeaderSignature, petstore.Sign([]byte("c"), body))
				if err := p.Verify(h, body); !errors.Is(err, providers.ErrSignatureMismatch) && firstErr == nil {
					firstErr = errors.New("wrong secret accepted")
				}
			}
			errc <- firstErr
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
