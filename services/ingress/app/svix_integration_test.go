package app_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	official "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// officialSign signs like a Standard Webhooks sender, with the official library.
func officialSign(t *testing.T, id string, at time.Time, body []byte) string {
	t.Helper()
	wh, err := official.NewWebhook(stdSecret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// Issue 11, acceptance 4: a webhook signed by the official Standard Webhooks library and sent
// under the Svix-branded header names is answered 204 and stored once; its resend is one message.
func TestIngressAcceptsSvixHeaders(t *testing.T) {
	n := testkit.StartNATS(t)
	in := startIngress(t, n, nil)
	body := []byte(`{"type":"order.status.changed","data":{"orderId":"A-7","status":"SHIPPED"}}`)
	now := time.Now()
	svix := func(id string, at time.Time, sig string) request {
		return request{path: "/webhooks/acme", body: body, headers: map[string]string{
			standardwebhooks.HeaderSvixID:        id,
			standardwebhooks.HeaderSvixTimestamp: strconv.FormatInt(at.Unix(), 10),
			standardwebhooks.HeaderSvixSignature: sig,
		}}
	}
	good := svix("msg_svix_1", now, officialSign(t, "msg_svix_1", now, body))

	tests := []struct {
		name       string
		give       request
		wantStatus int
		wantCount  uint64
	}{
		{"svix headers", good, http.StatusNoContent, 1},
		{"resend", good, http.StatusNoContent, 1},
		{"svix headers, wrong signature", svix("msg_svix_2", now, officialSign(t, "msg_other", now, body)), http.StatusUnauthorized, 1},
		{"svix headers, stale", svix("msg_svix_3", now.Add(-time.Hour), officialSign(t, "msg_svix_3", now.Add(-time.Hour), body)), http.StatusUnauthorized, 1},
		{"webhook-* wins: valid webhook-*, bogus svix-*", func() request {
			r := svix("msg_bogus", now, "v1,AAAA")
			r.headers[standardwebhooks.HeaderID] = "msg_std_1"
			r.headers[standardwebhooks.HeaderTimestamp] = strconv.FormatInt(now.Unix(), 10)
			r.headers[standardwebhooks.HeaderSignature] = officialSign(t, "msg_std_1", now, body)
			return r
		}(), http.StatusNoContent, 2},
		{"webhook-* wins: valid svix-*, wrong webhook-*", func() request {
			r := svix("msg_svix_4", now, officialSign(t, "msg_svix_4", now, body))
			r.headers[standardwebhooks.HeaderID] = "msg_std_2"
			r.headers[standardwebhooks.HeaderTimestamp] = strconv.FormatInt(now.Unix(), 10)
			r.headers[standardwebhooks.HeaderSignature] = "v1,AAAA"
			return r
		}(), http.StatusUnauthorized, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := in.do(tt.give)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, b)
			}
			if got := in.count(); got != tt.wantCount {
				t.Fatalf("WEBHOOKS holds %d messages, want %d", got, tt.wantCount)
			}
		})
	}
	msgs := in.messages()
	wantIDs := []string{"msg_svix_1", "msg_std_1"}
	for i, m := range msgs {
		if got := m.Header.Get(streams.HeaderEventID); got != wantIDs[i] {
			t.Errorf("message %d has event id %q, want %q (the idempotency key is the svix-id)", i, got, wantIDs[i])
		}
		if want := fmt.Sprintf("acme:default:%s", wantIDs[i]); m.Header.Get(streams.HeaderMsgID) != want {
			t.Errorf("message %d Nats-Msg-Id %q, want %q", i, m.Header.Get(streams.HeaderMsgID), want)
		}
	}
}
