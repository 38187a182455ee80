package petstore_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

// A callback carries both signatures of contract section 3, each checked by the verifier of its
// scheme with the same configured secret.
func TestCallbackSigner(t *testing.T) {
	now := time.Unix(1758613403, 0)
	body := []byte(`{"eventId":"e-1","eventType":"order.processed"}`)
	for _, secret := range []string{"whsec_Y2FsbGJhY2stc2lnbmluZy1rZXktb2YtMzItYnl0ZXM=", "plain-callback-secret"} {
		t.Run(secret, func(t *testing.T) {
			s, err := petstore.NewCallbackSigner([]byte(secret))
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			s.Sign(h, "e-1", body, now)
			if got := h.Get(standardwebhooks.HeaderID); got != "e-1" {
				t.Errorf("webhook-id %q, want e-1", got)
			}
			p, err := petstore.NewVerifier([][]byte{[]byte(secret)})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Verify(h, body); err != nil {
				t.Errorf("X-Webhook-Signature: %v", err)
			}
			sw, err := standardwebhooks.NewVerifier([][]byte{[]byte(secret)}, 0, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			if err := sw.Verify(h, body); err != nil {
				t.Errorf("Standard Webhooks trio: %v", err)
			}
			if err := sw.Verify(h, append(body, ' ')); !errors.Is(err, providers.ErrSignatureMismatch) {
				t.Errorf("changed body: %v, want a mismatch", err)
			}
		})
	}
	for _, bad := range []string{"", "whsec_%%%"} {
		if _, err := petstore.NewCallbackSigner([]byte(bad)); !errors.Is(err, providers.ErrInvalidSecret) {
			t.Errorf("NewCallbackSigner(%q) = %v, want ErrInvalidSecret", bad, err)
		}
	}
}
