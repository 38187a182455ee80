package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/pkg/providers/shopify"
	"github.com/hookline/hookline/pkg/testkit"
)

// Issue 11, what to build 2: Shopify through the built binary with its secrets from
// HOOKLINE_SHOPIFY_SECRETS (contract sections 2 and 8; comma-separated, any match passes):
// `hookline send shopify` walks an order to SHIPPED v3, a webhook signed with the second secret
// is accepted, a wrong secret is refused, and `hookline bench -shopify 1` passes `hookline verify`.
func TestShopifyEnvSecretsSendBenchVerify(t *testing.T) {
	const oldSecret, newSecret = "shop-secret-old", "shop-secret-new"
	r := testkit.StartRedis(t)
	d := startDev(t, r.URL, "HOOKLINE_SHOPIFY_SECRETS="+oldSecret+","+newSecret)

	for i, st := range []string{"PLACED", "APPROVED", "SHIPPED"} {
		out := d.mustRun("send", "shopify", "-url", d.ingress, "-order", "424242", "-status", st)
		if !strings.Contains(out, " -> 200") {
			t.Fatalf("send shopify %s: %q, want a 200 answer", st, out)
		}
		want := int64(i + 1)
		d.waitOrder("shopify", "424242", func(s orderState) bool { return s.Version == want })
	}
	if s := d.waitOrder("shopify", "424242", func(s orderState) bool { return s.Version == 3 }); s.Status != "SHIPPED" {
		t.Fatalf("order 424242 = %+v, want SHIPPED v3", s)
	}
	if out, err := d.run("send", "shopify", "-url", d.ingress, "-order", "424243", "-secret", "wrong"); err == nil {
		t.Fatalf("send shopify with a wrong secret passed: %q", out)
	}

	// Rotation: the second secret of HOOKLINE_SHOPIFY_SECRETS passes too.
	body := []byte(`{"id":424244,"updated_at":"2026-01-02T03:04:05-05:00","financial_status":"pending","fulfillment_status":null,"cancelled_at":null}`)
	code := postWith(t, d.ingress+"/webhooks/shopify", body, map[string]string{
		shopify.HeaderSignature: shopify.Sign([]byte(newSecret), body), shopify.HeaderTopic: shopify.TopicCreate,
		shopify.HeaderWebhookID: "rotated-1", shopify.HeaderShopDomain: "acme.myshopify.com", "Content-Type": "application/json",
	})
	if code != http.StatusOK {
		t.Fatalf("webhook signed with the second secret: %d, want 200", code)
	}
	d.waitOrder("shopify", "424244", func(s orderState) bool { return s.Status == "PLACED" && s.Version == 1 })

	oracle := filepath.Join(t.TempDir(), "oracle.json")
	d.mustRun("bench", "-q", "-target", d.ingress, "-petstore", "0", "-bunjang", "0", "-shopify", "1",
		"-n", "90", "-c", "4", "-orders", "30", "-nats", d.nats, "-oracle", oracle)
	out, err := d.run("verify", "-oracle", oracle, "-url", d.worker, "-nats", d.nats, "-wait", "60s")
	if err != nil || strings.Contains(out, "verified 0 orders") || !strings.Contains(out, "0 lost, 0 duplicated, 0 wrong state") {
		t.Fatalf("verify of a Shopify bench run: %v\n%s", err, out)
	}
}
