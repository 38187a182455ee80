package petstore_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
	"github.com/hookline/hookline/pkg/providers/petstore"
)

func FuzzParsePetstoreHeader(f *testing.F) {
	f.Add(sigtest.LoadVector(f).Headers[petstore.HeaderSignature])
	for _, s := range []string{
		"", " ", "sha256=", "SHA256=" + strings.ToUpper(hexB), "sha256=" + hexB + " ", hexB,
		"sha256=" + hexB[:63], "sha256=" + hexB + "0", "sha256=" + hexB[:62] + "zz", "sha256=\x00",
		"sha256=" + strings.Repeat("ff", 32), "sha256= " + hexB, "sha256=" + hexB + "\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		mac, err := petstore.ParseHeader(v)
		if err != nil {
			sigtest.OneSentinel(t, err)
			if mac != nil {
				t.Fatalf("mac %x returned with error %v", mac, err)
			}
			if errors.Is(err, providers.ErrMissingSignature) != (strings.Trim(v, " \t") == "") {
				t.Fatalf("missing-signature error %v for %q", err, v)
			}
			return
		}
		if len(mac) != 32 {
			t.Fatalf("mac length %d", len(mac))
		}
		// The accepted value is exactly the canonical encoding, up to case and outer white space.
		if canon := "sha256=" + hex.EncodeToString(mac); !strings.EqualFold(strings.Trim(v, " \t"), canon) {
			t.Fatalf("accepted %q, which does not re-encode as %q", v, canon)
		}
	})
}

// FuzzVerifyPetstore signs arbitrary bodies with arbitrary secrets and checks that the scheme
// accepts its own signature and rejects it once the body changes; and that an arbitrary header
// value never crashes the verifier and always gives exactly one sentinel.
func FuzzVerifyPetstore(f *testing.F) {
	v := sigtest.LoadVector(f)
	f.Add([]byte(v.Secret), []byte(v.Body), v.Headers[petstore.HeaderSignature])
	f.Add([]byte("k"), []byte{}, "sha256="+hexB)
	f.Add([]byte{0xff, 0}, []byte("x"), "sha256= zz")
	f.Fuzz(func(t *testing.T, secret, body []byte, garbage string) {
		if len(secret) == 0 {
			return
		}
		p, err := petstore.NewVerifier([][]byte{secret})
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{petstore.HeaderSignature: {petstore.Sign(secret, body)}}
		if err := p.Verify(h, body); err != nil {
			t.Fatalf("petstore rejects its own signature: %v", err)
		}
		if err := p.Verify(h, append(bytes.Clone(body), '!')); !errors.Is(err, providers.ErrSignatureMismatch) {
			t.Fatalf("petstore with a changed body: %v", err)
		}
		// Garbage in the signature header: no panic, exactly one sentinel, never a pass unless
		// the garbage happens to be the right signature (impossible in practice).
		if err := p.Verify(http.Header{petstore.HeaderSignature: {garbage}}, body); err != nil {
			sigtest.OneSentinel(t, err)
		}
	})
}
