package testkit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// Eventually polls cond every 20ms until it holds, and fails the test when within passes first.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RunInBackground calls run in a goroutine on a context that stop cancels; stop then waits for
// run to return and reports an error from it, or fails when it takes more than 30s. stop is
// idempotent and also runs at cleanup; errc receives what run returned when stop was not used.
func RunInBackground(t testing.TB, run func(context.Context) error) (stop func(), errc <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-ch:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop, ch
}

// StreamMsgs returns every message stored in the stream name, in sequence order.
func StreamMsgs(t testing.TB, ctx context.Context, js jetstream.JetStream, name string) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("%s stream: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("%s info: %v", name, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := max(info.State.FirstSeq, 1); info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("%s message %d: %v", name, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// StartNATSWithStreams starts a NATS server, creates Hookline's streams on it and returns its
// JetStream context with a context that ends two minutes later (or with the test).
func StartNATSWithStreams(t testing.TB) (jetstream.JetStream, context.Context) {
	t.Helper()
	_, js := StartNATS(t).Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if err := streams.Ensure(ctx, js, streams.Options{}); err != nil {
		t.Fatalf("ensure streams: %v", err)
	}
	return js, ctx
}
