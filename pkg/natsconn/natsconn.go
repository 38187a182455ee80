// Package natsconn opens the NATS connection every service uses: reconnect forever, log
// connection changes, and report connectivity for /readyz.
package natsconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// ErrDisconnected is reported by Check while the connection is not up.
var ErrDisconnected = errors.New("nats disconnected")

// Options for Connect.
type Options struct {
	// Name is shown in the server's connection list (the service name).
	Name string
	// NoReconnectBuffer makes publishes fail at once while reconnecting instead of being buffered,
	// so a caller never waits on a message that may or may not reach the server.
	NoReconnectBuffer bool
	// ConnectTimeout bounds the first connection attempt (default 5s). Later outages are retried
	// forever.
	ConnectTimeout time.Duration
}

// Connect dials rawURL, one server URL or several comma-separated. It retries the initial connection in the background (RetryOnFailedConnect)
// so a service can start before NATS and report not-ready until it connects.
func Connect(rawURL string, log *zap.Logger, o Options) (*nats.Conn, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.Timeout(o.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", zap.Error(err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", zap.String("server", c.ConnectedUrlRedacted()))
		}),
		nats.ConnectHandler(func(c *nats.Conn) {
			log.Info("nats connected", zap.String("server", c.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn("nats async error", zap.String("subject", subj), zap.Error(err))
		}),
	}
	if o.NoReconnectBuffer {
		opts = append(opts, nats.ReconnectBufSize(-1))
	}
	// rawURL may list several servers (a cluster): the client connects to one at random and
	// fails over to the others, and to those the cluster announces.
	log.Info("nats connecting", zap.String("servers", RedactURL(rawURL)), zap.String("name", o.Name))
	nc, err := nats.Connect(rawURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", RedactURL(rawURL), err)
	}
	return nc, nil
}

// Check returns a readiness check for nc.
func Check(nc *nats.Conn) func(context.Context) error {
	return func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("%w (%s)", ErrDisconnected, nc.Status())
		}
		return nil
	}
}

// Describe adds to err the NATS server URL (credentials removed) and, while the connection is
// not up, its state: a setup step that fails while NATS is unreachable then says so and where,
// instead of only "nats: outbound buffer limit exceeded". It returns nil for a nil err.
func Describe(nc *nats.Conn, err error) error {
	if err == nil {
		return nil
	}
	if !nc.IsConnected() {
		configured := nc.Opts.Url
		if len(nc.Opts.Servers) > 0 {
			configured = strings.Join(nc.Opts.Servers, ",")
		}
		return fmt.Errorf("nats %s unreachable (%s): %w", RedactURL(configured), strings.ToLower(nc.Status().String()), err)
	}
	return fmt.Errorf("nats %s: %w", nc.ConnectedUrlRedacted(), err)
}

// RedactURL returns a NATS URL (or a comma-separated list) without user, password or token, for
// logs and errors.
func RedactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err != nil || u.Host == "":
			// Not a URL nats.go understands either; keep only what follows a userinfo "@".
			if at := strings.LastIndex(p, "@"); at >= 0 {
				p = p[at+1:]
			}
			parts[i] = p
		default:
			u.User = nil
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
