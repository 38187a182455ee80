package petstore_test

import (
	"net/http"
	"testing"

	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
	"github.com/hookline/hookline/pkg/providers/petstore"
)

func BenchmarkVerifyPetstore(b *testing.B) {
	body := sigtest.BenchBody()
	secret := []byte("petstore-bench-secret")
	p, err := petstore.NewVerifier([][]byte{secret})
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	h.Set(petstore.HeaderSignature, petstore.Sign(secret, body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}
