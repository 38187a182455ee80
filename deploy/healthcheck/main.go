// Command healthcheck is the container health probe of the Hookline images. The images are
// distroless (no shell, curl or wget), so Docker and Compose healthchecks run this static binary:
//
//	healthcheck [-timeout 3s] http://127.0.0.1:9090/readyz
//
// It sends one GET and exits 0 when the answer is 2xx, 1 otherwise (including a timeout or a
// refused connection), and 2 on a usage error. Redirects are not followed. Kubernetes does not
// need it: its probes are httpGet probes on the admin port.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Exit codes: Docker treats 0 as healthy and 1 as unhealthy; 2 is reserved by Docker and used here
// only for a command line that cannot work.
const (
	exitHealthy   = 0
	exitUnhealthy = 1
	exitUsage     = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

var errUsage = errors.New("usage: healthcheck [-timeout 3s] http://host:port/path")

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "bound on the whole request")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	target, err := parseTarget(fs.Args(), *timeout)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	status, err := check(ctx, target)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return exitUnhealthy
	}
	if status < 200 || status > 299 {
		fmt.Fprintf(stderr, "healthcheck: %s answered %d\n", target.Redacted(), status)
		return exitUnhealthy
	}
	return exitHealthy
}

func parseTarget(args []string, timeout time.Duration) (*url.URL, error) {
	if len(args) != 1 {
		return nil, errUsage
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("-timeout must be positive, got %s", timeout)
	}
	u, err := url.Parse(args[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: want an http:// URL, got %q", errUsage, u.Redacted())
	}
	return u, nil
}

// check sends one GET and returns the status code; the body is drained so the connection closes
// cleanly.
func check(ctx context.Context, target *url.URL) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("request %s: %w", target.Redacted(), err)
	}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", target.Redacted(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
