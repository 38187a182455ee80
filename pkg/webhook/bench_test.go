package webhook_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/webhook"
)

// benchBody is a ~1 KiB JSON-ish body.
var benchBody = bytes.Repeat([]byte(`{"k":"0123456789abcdef"},`), 41)[:1024]

func BenchmarkVerifyPetstore(b *testing.B) {
	secret := []byte("petstore-bench-secret")
	p, err := webhook.NewPetstore([][]byte{secret})
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	h.Set(webhook.HeaderPetstore, webhook.SignPetstore(secret, benchBody))
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Verify(h, benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBunjang(b *testing.B) {
	secret := []byte("bunjang-bench-secret")
	now := time.Unix(1735648123, 0)
	v, err := webhook.NewBunjang([][]byte{secret}, 0, fixedClock(now))
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	h.Set(webhook.HeaderBunjang, webhook.SignBunjang(secret, now, benchBody))
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(h, benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyStandard(b *testing.B) {
	secret := []byte("whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ==")
	now := time.Unix(1735648123, 0)
	v, err := webhook.NewStandard([][]byte{secret}, 0, fixedClock(now))
	if err != nil {
		b.Fatal(err)
	}
	key, err := webhook.StandardKey(secret)
	if err != nil {
		b.Fatal(err)
	}
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	h := http.Header{}
	h.Set(webhook.HeaderStandardID, id)
	h.Set(webhook.HeaderStandardTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhook.HeaderStandardSignature, webhook.SignStandard(key, id, now, benchBody))
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(h, benchBody); err != nil {
			b.Fatal(err)
		}
	}
}
