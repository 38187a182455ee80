package standardwebhooks_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

func TestStandardHeadersSvix(t *testing.T) {
	tests := []struct {
		name       string
		give       map[string]string
		wantID     string
		wantTS     string
		wantSig    string
		wantIDOnly bool
	}{
		{name: "webhook-*", give: map[string]string{"webhook-id": "a", "webhook-timestamp": "1", "webhook-signature": "v1,x"}, wantID: "a", wantTS: "1", wantSig: "v1,x"},
		{name: "svix-*", give: map[string]string{"svix-id": "b", "svix-timestamp": "2", "svix-signature": "v1,y"}, wantID: "b", wantTS: "2", wantSig: "v1,y"},
		{name: "Svix-* any case", give: map[string]string{"Svix-Id": "b", "SVIX-TIMESTAMP": "2", "svix-Signature": "v1,y"}, wantID: "b", wantTS: "2", wantSig: "v1,y"},
		{name: "both: webhook-* wins", give: map[string]string{"webhook-id": "a", "webhook-timestamp": "1", "webhook-signature": "v1,x", "svix-id": "b", "svix-timestamp": "2", "svix-signature": "v1,y"}, wantID: "a", wantTS: "1", wantSig: "v1,x"},
		{name: "never mixed: one webhook-* header selects the trio", give: map[string]string{"webhook-id": "a", "svix-id": "b", "svix-timestamp": "2", "svix-signature": "v1,y"}, wantID: "a"},
		{name: "none", give: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.give {
				h.Set(k, v)
			}
			id, ts, sig := standardwebhooks.Headers(h)
			if id != tt.wantID || ts != tt.wantTS || sig != tt.wantSig {
				t.Fatalf("Headers = %q %q %q, want %q %q %q", id, ts, sig, tt.wantID, tt.wantTS, tt.wantSig)
			}
			if got := standardwebhooks.ID(h); got != tt.wantID {
				t.Fatalf("ID = %q, want %q", got, tt.wantID)
			}
		})
	}
}

func TestStandardVerifySvixHeaders(t *testing.T) {
	secret := []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	key, err := standardwebhooks.Key(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"x"}`)
	v, err := standardwebhooks.NewVerifier([][]byte{secret}, 0, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	sig := standardwebhooks.Sign(key, "msg_1", now, body)
	tests := []struct {
		name string
		give map[string]string
		want error
	}{
		{"svix trio", map[string]string{"svix-id": "msg_1", "svix-timestamp": strconv.FormatInt(now.Unix(), 10), "svix-signature": sig}, nil},
		{"svix trio, other id", map[string]string{"svix-id": "msg_2", "svix-timestamp": strconv.FormatInt(now.Unix(), 10), "svix-signature": sig}, providers.ErrSignatureMismatch},
		{"svix trio without signature", map[string]string{"svix-id": "msg_1", "svix-timestamp": strconv.FormatInt(now.Unix(), 10)}, providers.ErrMissingSignature},
		{"svix signature with a webhook-id present is not read", map[string]string{"webhook-id": "msg_1", "svix-id": "msg_1", "svix-timestamp": strconv.FormatInt(now.Unix(), 10), "svix-signature": sig}, providers.ErrMissingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, val := range tt.give {
				h.Set(k, val)
			}
			err := v.Verify(h, body)
			if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
