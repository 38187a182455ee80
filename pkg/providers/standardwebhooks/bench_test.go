package standardwebhooks_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

func BenchmarkVerifyStandard(b *testing.B) {
	body := sigtest.BenchBody()
	secret := []byte("whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ==")
	now := time.Unix(1735648123, 0)
	v, err := standardwebhooks.NewVerifier([][]byte{secret}, 0, sigtest.FixedClock(now))
	if err != nil {
		b.Fatal(err)
	}
	key, err := standardwebhooks.Key(secret)
	if err != nil {
		b.Fatal(err)
	}
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	h := http.Header{}
	h.Set(standardwebhooks.HeaderID, id)
	h.Set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderSignature, standardwebhooks.Sign(key, id, now, body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}
