package webhook_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookline/hookline/pkg/webhook"
)

// An ingress maps verifier errors to the contract's answers: stale timestamps to 401
// stale_timestamp, everything else to 401 invalid_signature.
func ExampleBunjang_Verify() {
	secret := []byte("bunjang-test-secret")
	sent := time.Unix(1735648123, 0)
	v, err := webhook.NewBunjang([][]byte{secret}, 300*time.Second, func() time.Time { return sent.Add(10 * time.Minute) })
	if err != nil {
		fmt.Println(err)
		return
	}
	body := []byte(`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A"}`)
	h := http.Header{}
	h.Set(webhook.HeaderBunjang, webhook.SignBunjang(secret, sent, body))

	err = v.Verify(h, body)
	switch {
	case err == nil:
		fmt.Println("204")
	case errors.Is(err, webhook.ErrStaleTimestamp):
		fmt.Println("401 stale_timestamp")
	default:
		fmt.Println("401 invalid_signature")
	}
	// Output: 401 stale_timestamp
}

func ExampleSignStandard() {
	key, err := webhook.StandardKey([]byte("whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ=="))
	if err != nil {
		fmt.Println(err)
		return
	}
	body := []byte(`{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`)
	fmt.Println(webhook.SignStandard(key, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Unix(1735648123, 0), body))
	// Output: v1,w1WrBQP8U6wwD8TQWvjkr1wzz5nH1gIzex90klJ3yZY=
}
