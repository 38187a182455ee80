package bunjang_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
)

func FuzzParseBunjangHeader(f *testing.F) {
	f.Add(loadVector(f).Headers[bunjang.HeaderSignature])
	for _, s := range []string{
		"", ",", "t=", "v0=", "t=1,v0=" + hexA + ",v0=" + hexB, " t = 1 , v0 = " + strings.ToUpper(hexA),
		"v0=" + hexA + ",t=1", "t=1,t=2,v0=" + hexA, "t=-1,v0=" + hexA, "t=99999999999999999999,v0=" + hexA,
		"t=1" + strings.Repeat(",v0="+hexA, 20), "t=1,v0=" + hexA[:63], "t=1,,,,v0=" + hexA + ",", "t=1,x,v0=" + hexA,
		"t=0001,v0=" + hexA, "t=1,v1=" + hexA, "t=1\x00,v0=" + hexA,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ts, macs, err := bunjang.ParseHeader(v)
		if err != nil {
			sigtest.OneSentinel(t, err)
			if macs != nil {
				t.Fatalf("macs returned with error %v", err)
			}
			return
		}
		if ts < 0 || len(macs) == 0 || len(macs) > providers.MaxSignatureEntries-1 {
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
		ts2, macs2, err := bunjang.ParseHeader(canon)
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

// FuzzVerifyBunjang signs arbitrary bodies with arbitrary secrets and checks that the scheme
// accepts its own signature and rejects it once the body changes; and that an arbitrary header
// value never crashes the verifier and always gives exactly one sentinel.
func FuzzVerifyBunjang(f *testing.F) {
	v := loadVector(f)
	f.Add([]byte(v.Secret), []byte(v.Body), v.Headers[bunjang.HeaderSignature])
	f.Add([]byte("k"), []byte{}, "t=1,v0="+hexA)
	f.Add([]byte{0xff, 0}, []byte("x"), "t=1735648123,v0="+hexB+",v0=zz")
	now := time.Unix(1735648123, 0)
	clock := sigtest.FixedClock(now)
	f.Fuzz(func(t *testing.T, secret, body []byte, garbage string) {
		if len(secret) == 0 {
			return
		}
		b, err := bunjang.NewVerifier([][]byte{secret}, time.Minute, clock)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{bunjang.HeaderSignature: {bunjang.Sign(secret, now, body)}}
		if err := b.Verify(h, body); err != nil {
			t.Fatalf("bunjang rejects its own signature: %v", err)
		}
		if err := b.Verify(h, append(bytes.Clone(body), '!')); !errors.Is(err, providers.ErrSignatureMismatch) {
			t.Fatalf("bunjang with a changed body: %v", err)
		}
		// Garbage in the signature header: no panic, exactly one sentinel, never a pass unless
		// the garbage happens to be the right signature (impossible in practice).
		if err := b.Verify(http.Header{bunjang.HeaderSignature: {garbage}}, body); err != nil {
			sigtest.OneSentinel(t, err)
		}
	})
}
