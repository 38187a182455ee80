package deliver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The callback's two signatures, checked the way a receiver would: the Standard Webhooks trio
// by the official Standard Webhooks library, X-Webhook-Signature by its definition (hex
// HMAC-SHA256 of the body keyed with HOOKLINE_CALLBACK_SECRET as written, whsec_ prefix included;
// no Standard Webhooks library verifies that scheme).
func TestCallbackSignaturesVerifyWithTheOfficialLibrary(t *testing.T) {
	whsec := "whsec_" + base64.StdEncoding.EncodeToString([]byte("callback-signing-key-of-32-bytes"))
	tests := []struct {
		name     string
		secret   string
		verifier func() (*standardwebhooks.Webhook, error)
	}{
		{"whsec_ secret: the key is its decoded bytes", whsec, func() (*standardwebhooks.Webhook, error) {
			return standardwebhooks.NewWebhook(whsec)
		}},
		{"plain secret: the key is its raw bytes", "plain-callback-secret", func() (*standardwebhooks.Webhook, error) {
			return standardwebhooks.NewWebhookRaw([]byte("plain-callback-secret"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(Options{Secret: []byte(tt.secret)})
			if err != nil {
				t.Fatal(err)
			}
			req := streams.CallbackRequest{OrderID: "ord-1", TenantID: "default", Amount: "738.05", Currency: "USD",
				Timestamp: "1758613403", CallbackURL: "https://93.184.216.34/cb", ReceivedAt: time.Now().UTC().Format(streams.ReceivedAtLayout)}
			ev := BuildEvent(req, time.Now())
			body, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			h := d.Headers(ev.EventID, body, time.Now())

			wh, err := tt.verifier()
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Fatalf("official library refuses the Standard Webhooks signature: %v", err)
			}
			if h.Get("webhook-id") != ev.EventID {
				t.Errorf("webhook-id %q, want the eventId %q", h.Get("webhook-id"), ev.EventID)
			}
			if err := wh.Verify(append(body, ' '), h); err == nil {
				t.Fatal("official library accepts a changed body: the check proves nothing")
			}

			mac := hmac.New(sha256.New, []byte(tt.secret)) // the secret as written
			mac.Write(body)
			if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); h.Get("X-Webhook-Signature") != want {
				t.Errorf("X-Webhook-Signature %q, want %q (keyed with the secret string as configured)", h.Get("X-Webhook-Signature"), want)
			}
		})
	}
}
