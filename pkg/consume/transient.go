package consume

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Transient reports whether a JetStream publish failed in a way that resending the same message
// (same Nats-Msg-Id, so the stream's duplicate window drops a second copy) may fix within
// moments: no stream leader to answer (a leader election, "no responders"), no ack in time (the
// leader died holding it), the client reconnecting to another server, or the server saying
// JetStream is temporarily unavailable (status 503).
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, nats.ErrDisconnected):
		return true
	case errors.As(err, &apiErr):
		return apiErr.Code == http.StatusServiceUnavailable
	}
	return false
}

// Publish retry pacing: attempts get a share of the overall deadline, and the pauses between
// them grow from the first to the last value.
const (
	retryFirstPause = 25 * time.Millisecond
	retryMaxPause   = 500 * time.Millisecond
	minAttempt      = 250 * time.Millisecond
)

// AttemptTimeout is how long one attempt of RetryPublish waits within an overall budget: a
// quarter of it, at least 250ms, so a publish whose leader died holding it is resent in time.
func AttemptTimeout(budget time.Duration) time.Duration {
	return max(budget/4, minAttempt)
}

// RetryPublish calls attempt until it succeeds, fails with an error that is not Transient, or
// ctx ends (then the last attempt's error is returned). Each attempt gets its own context of at
// most per (see AttemptTimeout); between attempts it pauses briefly, so publishes during a
// leader election wait for the new leader instead of failing at the first "no responders".
// attempt must publish the same message with the same Nats-Msg-Id every time.
func RetryPublish[T any](ctx context.Context, per time.Duration, attempt func(ctx context.Context) (T, error)) (T, error) {
	pause := retryFirstPause
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, per)
		v, err := attempt(actx)
		cancel()
		if err == nil || !Transient(err) {
			return v, err
		}
		if ctx.Err() != nil {
			return v, fmt.Errorf("%d attempts: %w", n, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, fmt.Errorf("%d attempts: %w", n, err)
		case <-t.C:
		}
		pause = min(2*pause, retryMaxPause)
	}
}
