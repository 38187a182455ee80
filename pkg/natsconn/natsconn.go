// Package natsconn opens the NATS connection every service uses: reconnect forever, log
// connection changes, and report connectivity for /readyz.
package natsconn

import (
	"context"
	"errors"
	"fmt"
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

// Connect dials url. It retries the initial connection in the background (RetryOnFailedConnect)
// so a service can start before NATS and report not-ready until it connects.
func Connect(url string, log *zap.Logger, o Options) (*nats.Conn, error) {
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
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
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
