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
	"time"
)

// ErrNotFound is returned when the query API knows no such order.
var ErrNotFound = errors.New("not found")

// runOrders reads the worker's order query API (contract section 7).
func runOrders(ctx context.Context, env Env) error {
	if len(env.Args) == 0 || env.Args[0] != "get" {
		return fmt.Errorf("%w: hookline orders get <provider> <orderId> [-tenant T] [-url URL]", ErrUsage)
	}
	fs := flag.NewFlagSet("orders get", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	base := fs.String("url", envOr(env, "HOOKLINE_WORKER_URL", "http://127.0.0.1:9091"), "worker admin base URL")
	tenant := fs.String("tenant", "", "X-Tenant-ID (empty: default tenant)")
	args, err := parseInterleaved(fs, env.Args[1:])
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

// parseInterleaved parses flags that may come before or after positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
