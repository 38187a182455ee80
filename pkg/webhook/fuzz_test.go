package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/webhook"
)

func mustB64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// oneSentinel fails unless err wraps exactly one of the request sentinels.
func oneSentinel(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range []error{webhook.ErrMissingSignature, webhook.ErrMalformedSignature, webhook.ErrSignatureMismatch, webhook.ErrStaleTimestamp} {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %v wraps %d sentinels, want 1", err, n)
	}
}

func FuzzParsePetstoreHeader(f *testing.F) {
	f.Add(loadVectors(f).Petstore.Headers[webhook.HeaderPetstore])
	for _, s := range []string{
		"", " ", "sha256=", "SHA256=" + strings.ToUpper(hexB), "sha256=" + hexB + " ", hexB,
		"sha256=" + hexB[:63], "sha256=" + hexB + "0", "sha256=" + hexB[:62] + "zz", "sha256=\x00",
		"sha256=" + strings.Repeat("ff", 32), "sha256= " + hexB, "sha256=" + hexB + "\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		mac, err := webhook.ParsePetstoreHeader(v)
		if err != nil {
			oneSentinel(t, err)
			if mac != nil {
				t.Fatalf("mac %x returned with error %v", mac, err)
			}
			if errors.Is(err, webhook.ErrMissingSignature) != (strings.Trim(v, " \t") == "") {
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

func FuzzParseBunjangHeader(f *testing.F) {
	f.Add(loadVectors(f).Bunjang.Headers[webhook.HeaderBunjang])
	for _, s := range []string{
		"", ",", "t=", "v0=", "t=1,v0=" + hexA + ",v0=" + hexB, " t = 1 , v0 = " + strings.ToUpper(hexA),
		"v0=" + hexA + ",t=1", "t=1,t=2,v0=" + hexA, "t=-1,v0=" + hexA, "t=99999999999999999999,v0=" + hexA,
		"t=1" + strings.Repeat(",v0="+hexA, 20), "t=1,v0=" + hexA[:63], "t=1,,,,v0=" + hexA + ",", "t=1,x,v0=" + hexA,
		"t=0001,v0=" + hexA, "t=1,v1=" + hexA, "t=1\x00,v0=" + hexA,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ts, macs, err := webhook.ParseBunjangHeader(v)
		if err != nil {
			oneSentinel(t, err)
			if macs != nil {
				t.Fatalf("macs returned with error %v", err)
			}
			return
		}
		if ts < 0 || len(macs) == 0 || len(macs) > webhook.MaxSignatureEntries-1 {
			t.Fatalf("t=%d with %d macs", ts, len(macs))
		}
		canon := "t=" + strconv.FormatInt(ts, 10)
		for _, m := range macs {
			if len(m) != 32 {
				t.Fatalf("mac length %d", len(m))
			}
			if !strings.Contains(strings.ToLower(v), hex.EncodeToString(m)) {
				t.Fatalf("mac %x is not in %q", m, v)
			}
			canon += ",v0=" + hex.EncodeToString(m)
		}
		// The canonical form parses back to the same values.
		ts2, macs2, err := webhook.ParseBunjangHeader(canon)
		if err != nil || ts2 != ts || len(macs2) != len(macs) {
			t.Fatalf("canonical %q reparsed as %d, %d macs, %v", canon, ts2, len(macs2), err)
		}
		for i := range macs {
			if !bytes.Equal(macs[i], macs2[i]) {
				t.Fatalf("mac %d changed on re-encoding", i)
			}
		}
	})
}

func FuzzParseStandardSignatures(f *testing.F) {
	f.Add(loadVectors(f).Standard.Headers[webhook.HeaderStandardSignature])
	for _, s := range []string{
		"", "  ", "v1", "v1,", ",", "v1," + b64A + " v1," + b64A, "v1a,xyz v1," + b64A, "v1," + strings.TrimRight(b64A, "="),
		"v1," + b64A[:42] + "Z=", "v1," + b64A + "=", "v2,a v3,b", strings.Repeat("v1,"+b64A+" ", 17),
		"v1," + b64A[:20] + "\r\n" + b64A[20:], "\tv1," + b64A + "\t", "v1,-" + b64A[1:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		macs, err := webhook.ParseStandardSignatures(v)
		if err != nil {
			oneSentinel(t, err)
			if macs != nil {
				t.Fatalf("macs returned with error %v", err)
			}
			return
		}
		if len(macs) == 0 || len(macs) > webhook.MaxSignatureEntries {
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

// FuzzVerify signs arbitrary bodies with arbitrary secrets and checks that every scheme accepts
// its own signature and rejects it once the body changes; and that arbitrary header values never
// crash a verifier and always give exactly one sentinel.
func FuzzVerify(f *testing.F) {
	vs := loadVectors(f)
	f.Add([]byte(vs.Petstore.Secret), []byte(vs.Petstore.Body), "msg_1", vs.Bunjang.Headers[webhook.HeaderBunjang])
	f.Add([]byte("k"), []byte{}, "", "t=1,v0="+hexA)
	f.Add([]byte{0xff, 0}, []byte("x"), " id ", vs.Standard.Headers[webhook.HeaderStandardSignature])
	now := time.Unix(1735648123, 0)
	clock := fixedClock(now)
	f.Fuzz(func(t *testing.T, secret, body []byte, id, garbage string) {
		if len(secret) == 0 {
			return
		}
		p, err := webhook.NewPetstore([][]byte{secret})
		if err != nil {
			t.Fatal(err)
		}
		b, err := webhook.NewBunjang([][]byte{secret}, time.Minute, clock)
		if err != nil {
			t.Fatal(err)
		}
		key, err := webhook.StandardKey(secret)
		if err != nil {
			return // a whsec_ secret with bad base64
		}
		s, err := webhook.NewStandard([][]byte{secret}, time.Minute, clock)
		if err != nil {
			t.Fatal(err)
		}
		changed := append(bytes.Clone(body), '!')

		hp := http.Header{webhook.HeaderPetstore: {webhook.SignPetstore(secret, body)}}
		hb := http.Header{webhook.HeaderBunjang: {webhook.SignBunjang(secret, now, body)}}
		hs := http.Header{
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
			"Webhook-Signature": {webhook.SignStandard(key, id, now, body)},
		}
		for name, c := range map[string]struct {
			v webhook.Verifier
			h http.Header
		}{"petstore": {p, hp}, "bunjang": {b, hb}, "standard": {s, hs}} {
			err := c.v.Verify(c.h, body)
			if name == "standard" && id == "" {
				if !errors.Is(err, webhook.ErrMissingSignature) {
					t.Fatalf("standard without id: %v", err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s rejects its own signature: %v", name, err)
			}
			if err := c.v.Verify(c.h, changed); !errors.Is(err, webhook.ErrSignatureMismatch) {
				t.Fatalf("%s with a changed body: %v", name, err)
			}
		}

		// Garbage in every signature header: no panic, exactly one sentinel, never a pass unless
		// the garbage happens to be the right signature (impossible in practice).
		hs["Webhook-Signature"] = []string{garbage}
		for _, c := range []struct {
			v webhook.Verifier
			h http.Header
		}{
			{p, http.Header{webhook.HeaderPetstore: {garbage}}},
			{b, http.Header{webhook.HeaderBunjang: {garbage}}},
			{s, hs},
		} {
			if err := c.v.Verify(c.h, body); err != nil {
				oneSentinel(t, err)
			}
		}
	})
}
