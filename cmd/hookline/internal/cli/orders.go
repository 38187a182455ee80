package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// ErrNotFound is returned when the query API knows no such order.
var ErrNotFound = errors.New("not found")

// runOrders reads the worker's order query API (contract section 7).
func runOrders(ctx context.Context, env Env) error {
	const about = "Read order state and history from the worker's query API."
	verb, err := pickVerb(env, "orders", about, []verb{
		{"get", "one order's state: get <provider> <orderId>"},
		{"history", "one order's handled webhooks, oldest first: history <provider> <orderId>"},
	})
	if err != nil {
		return err
	}
	if verb == "history" {
		return ordersHistory(ctx, env)
	}
	fs := newFlags("orders get", "orders get <provider> <orderId> [-tenant T] [-url URL]", about)
	q := queryFlags(env, fs)
	args, err := parseInterleaved(env, fs, env.Args[1:])
	if err != nil {
		return err
	}
	if len(args) != 2 {
		return fmt.Errorf("%w: hookline orders get <provider> <orderId>", ErrUsage)
	}
	body, err := q.get(ctx, args[0], args[1], "")
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, body)
}

// printJSON prints the API's answer indented.
func printJSON(w io.Writer, body []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		return fmt.Errorf("answer is not JSON: %w", err)
	}
	fmt.Fprintln(w, out.String())
	return nil
}

// ordersHistory prints GET /v1/orders/{provider}/{orderId}/history as a table, or its JSON.
func ordersHistory(ctx context.Context, env Env) error {
	fs := newFlags("orders history", "orders history <provider> <orderId> [-tenant T] [-json] [-url URL]",
		"Print the webhooks the worker handled for one order (per item for Bunjang), oldest first:\n"+
			"kind applied, stale, rejected or duplicate, and the version after each.")
	q := queryFlags(env, fs)
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	args, err := parseInterleaved(env, fs, env.Args[1:])
	if err != nil {
		return err
	}
	if len(args) != 2 {
		return fmt.Errorf("%w: hookline orders history <provider> <orderId>", ErrUsage)
	}
	body, err := q.get(ctx, args[0], args[1], "/history")
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env.Stdout, body)
	}
	var h struct {
		TenantID, Provider, OrderID string
		Events                      []struct {
			EventID, ItemID, Kind, Status, ProviderStatus string
			Version                                       int64
			OccurredAt, ReceivedAt, AppliedAt             string
			StreamSequence                                uint64
			CanonicalEventID                              string
		}
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("answer is not a history: %w", err)
	}
	fmt.Fprintf(env.Stdout, "order %s/%s (tenant %s): %d events\n", h.Provider, h.OrderID, h.TenantID, len(h.Events))
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tKIND\tEVENT\tITEM\tSTATUS\tPROVIDER STATUS\tVERSION\tOCCURRED\tAPPLIED\tCANONICAL EVENT")
	for _, e := range h.Events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.StreamSequence, e.Kind, e.EventID, dash(e.ItemID),
			e.Status, e.ProviderStatus, e.Version, e.OccurredAt, e.AppliedAt, dash(e.CanonicalEventID))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// orderQuery is the worker's query API as the flags name it.
type orderQuery struct {
	base, tenant *string
}

func queryFlags(env Env, fs *flag.FlagSet) orderQuery {
	return orderQuery{
		base:   fs.String("url", envOr(env, "HOOKLINE_WORKER_URL", defaultWorker), "worker admin base URL (default: HOOKLINE_WORKER_URL, else a running hookline dev)"),
		tenant: fs.String("tenant", "", "X-Tenant-ID (empty: default tenant)"),
	}
}

// get fetches /v1/orders/{provider}/{orderId}{suffix} and returns the 200 body.
func (q orderQuery) get(ctx context.Context, provider, orderID, suffix string) ([]byte, error) {
	u := strings.TrimRight(*q.base, "/") + "/v1/orders/" + url.PathEscape(provider) + "/" + url.PathEscape(orderID) + suffix
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if *q.tenant != "" {
		req.Header.Set("X-Tenant-ID", *q.tenant)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer from %s: %w", u, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("order %s/%s: %w", provider, orderID, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("get %s: status %d: %s", u, resp.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}
