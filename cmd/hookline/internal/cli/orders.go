package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNotFound is returned when the query API knows no such order.
var ErrNotFound = errors.New("not found")

// runOrders reads the worker's order query API (contract section 7).
func runOrders(ctx context.Context, env Env) error {
	const about = "Read order state from the worker's query API."
	if _, err := pickVerb(env, "orders", about, []verb{{"get", "one order's state: get <provider> <orderId>"}}); err != nil {
		return err
	}
	fs := newFlags("orders get", "orders get <provider> <orderId> [-tenant T] [-url URL]", about)
	base := fs.String("url", envOr(env, "HOOKLINE_WORKER_URL", defaultWorker), "worker admin base URL (default: HOOKLINE_WORKER_URL, else a running hookline dev)")
	tenant := fs.String("tenant", "", "X-Tenant-ID (empty: default tenant)")
	args, err := parseInterleaved(env, fs, env.Args[1:])
	if err != nil {
		return err
	}
	if len(args) != 2 {
		return fmt.Errorf("%w: hookline orders get <provider> <orderId>", ErrUsage)
	}
	u := strings.TrimRight(*base, "/") + "/v1/orders/" + url.PathEscape(args[0]) + "/" + url.PathEscape(args[1])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if *tenant != "" {
		req.Header.Set("X-Tenant-ID", *tenant)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("order %s/%s: %w", args[0], args[1], ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("get %s: status %d: %s", u, resp.StatusCode, bytes.TrimSpace(body))
	}
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		return fmt.Errorf("answer is not JSON: %w", err)
	}
	fmt.Fprintln(env.Stdout, out.String())
	return nil
}
