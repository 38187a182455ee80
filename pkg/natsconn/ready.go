package natsconn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrJetStreamUnavailable is reported by CheckStream while the connection is up but JetStream
// does not answer for the stream: no stream leader (an election in a cluster), JetStream
// disabled or the stream missing.
var ErrJetStreamUnavailable = errors.New("jetstream not answering")

// Readiness probe pacing: one stream info call at most every checkCacheFor, each given
// checkTimeout.
const (
	checkTimeout  = time.Second
	checkCacheFor = time.Second
)

// CheckStream returns a readiness check for nc that also asks JetStream for the stream's info
// (a cheap API call answered by the stream's leader), with a short timeout and its result
// cached for a second: during a leader election, or while JetStream is down behind a live
// connection, /readyz says not ready rather than only "connected".
func CheckStream(nc *nats.Conn, stream string) func(context.Context) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return func(context.Context) error { return fmt.Errorf("%w: %w", ErrJetStreamUnavailable, err) }
	}
	return newCachedCheck(Check(nc), func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
		defer cancel()
		if _, err := js.Stream(ctx, stream); err != nil {
			return fmt.Errorf("%w: stream %s: %w", ErrJetStreamUnavailable, stream, err)
		}
		return nil
	}, checkCacheFor, time.Now)
}

// newCachedCheck runs conn at every call and probe at most once per cacheFor (callers within it
// share the last probe's result).
func newCachedCheck(conn, probe func(context.Context) error, cacheFor time.Duration, now func() time.Time) func(context.Context) error {
	var (
		mu   sync.Mutex
		at   time.Time
		last error
	)
	return func(ctx context.Context) error {
		if err := conn(ctx); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if t := now(); at.IsZero() || t.Sub(at) >= cacheFor {
			last, at = probe(ctx), t
		}
		return last
	}
}
