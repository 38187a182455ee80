package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/cmd/hookline/internal/loadgen"
	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/webhook"
)

// runSend signs and sends one webhook, like `stripe trigger`: a sample built from flags, or a
// given body (-f). Secrets come from the same configuration the ingress reads.
func runSend(ctx context.Context, env Env) error {
	const about = "Sign a sample webhook (built from the flags) or a given body (-f) with the configured secrets\n" +
		"(the dev secrets when none is set) and send it to the ingress."
	kind, err := pickVerb(env, "send", about, []verb{
		{"petstore", "a Petstore order.statusChanged or payment.succeeded event"},
		{"bunjang", "a Bunjang order.status.changed event"},
		{"standard", "a Standard Webhooks event for a source of the tenants file (-source)"},
	})
	if err != nil {
		return err
	}
	fs := newFlags("send "+kind, "send "+kind+" [flags]", about)
	target := fs.String("url", envOr(env, "HOOKLINE_URL", defaultIngress), "ingress base URL (default: HOOKLINE_URL, else a running hookline dev)")
	tenant := fs.String("tenant", "", "X-Tenant-ID (empty: default tenant)")
	file := fs.String("f", "", "send this file's bytes as the body instead of a sample")
	eventID := fs.String("event-id", "", "event id (default: a new one)")
	order := fs.String("order", "", "order id (default: a new one; a number for bunjang)")
	status := fs.String("status", "", "status (petstore: PLACED…DELIVERED; bunjang: PAYMENT_RECEIVED…)")
	typ := fs.String("type", "", "petstore event type: order.statusChanged (default) or payment.succeeded")
	items := fs.String("items", "", "bunjang order item ids, comma-separated (default: <order>1)")
	source := fs.String("source", "", "standard: the source name from the tenants file")
	secret := fs.String("secret", "", "sign with this secret instead of the configured one")
	verbose := fs.Bool("v", false, "print the request")
	if err := parseFlags(env, fs, env.Args[1:]); err != nil {
		return err
	}
	now := time.Now()
	if *eventID == "" {
		*eventID = newEventID(kind, now)
	}
	var body []byte
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("read %s: %w", *file, err)
		}
		body = b
	}
	cfg, err := config.Load(withDevDefaults(env.Lookup), config.Defaults{})
	if err != nil {
		return err
	}
	headers := http.Header{}
	path := "/webhooks/" + kind
	switch kind {
	case "petstore":
		if body == nil {
			body = samplePetstore(*eventID, *order, *status, *typ, now)
		}
		key, err := pickSecret(*secret, cfg, *tenant, kind)
		if err != nil {
			return err
		}
		headers.Set(webhook.HeaderPetstore, webhook.SignPetstore(key, body))
	case "bunjang":
		if body == nil {
			b, err := sampleBunjang(*eventID, *order, *items, *status, now)
			if err != nil {
				return err
			}
			body = b
		}
		key, err := pickSecret(*secret, cfg, *tenant, kind)
		if err != nil {
			return err
		}
		headers.Set(webhook.HeaderBunjang, webhook.SignBunjang(key, now, body))
	case "standard":
		if *source == "" {
			return fmt.Errorf("%w: send standard needs -source <name> from the tenants file", ErrUsage)
		}
		path = "/webhooks/" + *source
		if body == nil {
			body = sampleStandard(*order, *status)
		}
		raw := []byte(*secret)
		if *secret == "" {
			src, ok := cfg.Sources[*source]
			if !ok {
				return fmt.Errorf("%w: no source %q in HOOKLINE_CONFIG", ErrUsage, *source)
			}
			raw = src.Secrets[0].Bytes()
		}
		key, err := webhook.StandardKey(raw)
		if err != nil {
			return fmt.Errorf("source %s secret: %w", *source, err)
		}
		headers.Set(webhook.HeaderStandardID, *eventID)
		headers.Set(webhook.HeaderStandardTimestamp, strconv.FormatInt(now.Unix(), 10))
		headers.Set(webhook.HeaderStandardSignature, webhook.SignStandard(key, *eventID, now, body))
	default:
		return fmt.Errorf("%w: unknown provider %q (petstore, bunjang or standard)", ErrUsage, kind)
	}
	if *tenant != "" {
		headers.Set("X-Tenant-ID", *tenant)
	}
	headers.Set("Content-Type", "application/json")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*target, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header = headers
	if *verbose {
		fmt.Fprintf(env.Stdout, "POST %s\n%s\n", req.URL, body)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096)) // what arrived is what we print
	fmt.Fprintf(env.Stdout, "%s %s -> %d %s\n", kind, *eventID, resp.StatusCode, bytes.TrimSpace(answer))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: ingress answered %d", ErrRejected, resp.StatusCode)
	}
	return nil
}

func pickSecret(override string, cfg *config.Config, tenant, provider string) ([]byte, error) {
	if override != "" {
		return []byte(override), nil
	}
	if key := signingSecret(cfg, tenant, provider); key != nil {
		return key, nil
	}
	return nil, fmt.Errorf("%w: no %s secret configured (HOOKLINE_%s_SECRETS or the tenants file; or pass -secret)",
		ErrUsage, provider, strings.ToUpper(provider))
}

// ErrRejected is returned when the ingress answers anything but 2xx.
var ErrRejected = errors.New("webhook rejected")

func newEventID(kind string, now time.Time) string {
	if kind == "bunjang" {
		return loadgen.ULID(now) // Bunjang event ids are ULIDs; the worker reads the time from them
	}
	return fmt.Sprintf("evt-%s-%d", kind, now.UnixNano())
}

func samplePetstore(eventID, order, status, typ string, now time.Time) []byte {
	if order == "" {
		order = fmt.Sprintf("ord-%d", now.UnixNano())
	}
	if status == "" {
		status = "PLACED"
	}
	ts := now.UTC().Format(time.RFC3339)
	if typ == "payment.succeeded" {
		return fmt.Appendf(nil, `{"eventId":%q,"eventType":"payment.succeeded","timestamp":%q,"data":{"payment":{"id":"pay-%s","amount":"125.50","currency":"USD","status":"SUCCEEDED"},"order":{"id":%q,"status":"APPROVED"}}}`,
			eventID, ts, eventID, order)
	}
	return fmt.Appendf(nil, `{"eventId":%q,"eventType":"order.statusChanged","timestamp":%q,"data":{"order":{"id":%q,"status":%q,"totalAmount":"125.50","currency":"USD"},"newStatus":%q,"changedAt":%q,"changedBy":"hookline-send"}}`,
		eventID, ts, order, status, status, ts)
}

func sampleBunjang(eventID, order, items, status string, now time.Time) ([]byte, error) {
	if order == "" {
		order = strconv.FormatInt(now.UnixMilli()%1_000_000_000, 10)
	}
	orderID, err := strconv.ParseInt(order, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: bunjang -order must be a number, got %q", ErrUsage, order)
	}
	if status == "" {
		status = "PAYMENT_RECEIVED"
	}
	if items == "" {
		items = order + "1"
	}
	b := fmt.Appendf(nil, `{"eventId":%q,"eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":%d,"orderItems":[`,
		eventID, orderID)
	for i, it := range strings.Split(items, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(it), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bunjang -items must be numbers, got %q", ErrUsage, it)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"orderItemId":%d,"pid":%d,"orderStatus":%q}`, id, 500000+i, status)
	}
	return append(b, "]}}"...), nil
}

func sampleStandard(order, status string) []byte {
	if order == "" {
		order = fmt.Sprintf("A-%d", time.Now().UnixNano()%1_000_000)
	}
	if status == "" {
		status = "PLACED"
	}
	return fmt.Appendf(nil, `{"type":"order.status.changed","data":{"orderId":%q,"status":%q}}`, order, status)
}
