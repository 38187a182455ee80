package bunjang_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
)

func BenchmarkVerifyBunjang(b *testing.B) {
	body := sigtest.BenchBody()
	secret := []byte("bunjang-bench-secret")
	now := time.Unix(1735648123, 0)
	v, err := bunjang.NewVerifier([][]byte{secret}, 0, sigtest.FixedClock(now))
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	h.Set(bunjang.HeaderSignature, bunjang.Sign(secret, now, body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}
