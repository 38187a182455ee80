package standardwebhooks_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

func FuzzParseStandardSignatures(f *testing.F) {
	f.Add(sigtest.LoadVector(f).Headers[standardwebhooks.HeaderSignature])
	for _, s := range []string{
		"", "  ", "v1", "v1,", ",", "v1," + b64A + " v1," + b64A, "v1a,xyz v1," + b64A, "v1," + strings.TrimRight(b64A, "="),
		"v1," + b64A[:42] + "Z=", "v1," + b64A + "=", "v2,a v3,b", strings.Repeat("v1,"+b64A+" ", 17),
		"v1," + b64A[:20] + "\r\n" + b64A[20:], "\tv1," + b64A + "\t", "v1,-" + b64A[1:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		macs, err := standardwebhooks.ParseSignatures(v)
		if err != nil {
			sigtest.OneSentinel(t, err)
			if macs != nil {
				t.Fatalf("macs returned with error %v", err)
			}
			return
		}
		if len(macs) == 0 || len(macs) > providers.MaxSignatureEntries {
			t.Fatalf("%d macs", len(macs))
		}
		for _, m := range macs {
			if len(m) != 32 {
				t.Fatalf("mac length %d", len(m))
			}
			enc := base64.StdEncoding.EncodeToString(m)
			if !strings.Contains(v, "v1,"+enc) && !strings.Contains(v, "v1,"+strings.TrimRight(enc, "=")) {
				t.Fatalf("mac %x (%s) is not a v1 entry of %q", m, enc, v)
			}
		}
	})
}

// FuzzVerifyStandard signs arbitrary bodies with arbitrary secrets and message ids and checks
// that the scheme accepts its own signature (an empty id is a missing signature) and rejects it
// once the body changes; and that an arbitrary signature header value never crashes the verifier
// and always gives exactly one sentinel.
func FuzzVerifyStandard(f *testing.F) {
	v := sigtest.LoadVector(f)
	f.Add([]byte(v.Secret), []byte(v.Body), v.Headers[standardwebhooks.HeaderID], v.Headers[standardwebhooks.HeaderSignature])
	f.Add([]byte("k"), []byte{}, "", "v1,"+b64A)
	f.Add([]byte{0xff, 0}, []byte("x"), " id ", "v1a,xyz v1,!!")
	now := time.Unix(1735648123, 0)
	clock := sigtest.FixedClock(now)
	f.Fuzz(func(t *testing.T, secret, body []byte, id, garbage string) {
		if len(secret) == 0 {
			return
		}
		key, err := standardwebhooks.Key(secret)
		if err != nil {
			return // a whsec_ secret with bad base64
		}
		s, err := standardwebhooks.NewVerifier([][]byte{secret}, time.Minute, clock)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
			"Webhook-Signature": {standardwebhooks.Sign(key, id, now, body)},
		}
		err = s.Verify(h, body)
		switch {
		case id == "":
			if !errors.Is(err, providers.ErrMissingSignature) {
				t.Fatalf("standard without id: %v", err)
			}
		case err != nil:
			t.Fatalf("standard rejects its own signature: %v", err)
		default:
			if err := s.Verify(h, append(bytes.Clone(body), '!')); !errors.Is(err, providers.ErrSignatureMismatch) {
				t.Fatalf("standard with a changed body: %v", err)
			}
		}
		// Garbage in the signature header: no panic, exactly one sentinel, never a pass unless
		// the garbage happens to be the right signature (impossible in practice).
		h["Webhook-Signature"] = []string{garbage}
		if err := s.Verify(h, body); err != nil {
			sigtest.OneSentinel(t, err)
		}
	})
}
