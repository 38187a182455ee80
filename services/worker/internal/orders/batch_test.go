package orders

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/redis/go-redis/v9"
)

// pipelineLog is a go-redis hook that records the size of every pipeline sent.
type pipelineLog struct {
	mu    sync.Mutex
	sizes []int
}

func (*pipelineLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (*pipelineLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}

func (l *pipelineLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.mu.Lock()
		l.sizes = append(l.sizes, len(cmds))
		l.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (l *pipelineLog) take() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sizes
	l.sizes = nil
	return s
}

// lazyStore is a store on its own Redis whose pipelines are logged; a lazy call waits delay
// when nothing else goes to Redis. The scripts are loaded already (a first NOSCRIPT would add a
// pipeline).
func lazyStore(t *testing.T, delay time.Duration) (*Store, *redis.Client, *pipelineLog) {
	t.Helper()
	rdb := testkit.StartRedis(t).Client(t)
	log := &pipelineLog{}
	rdb.AddHook(log)
	s := NewStore(rdb, time.Hour)
	s.batch.lazyDelay = delay
	t.Cleanup(s.Close)
	for _, sc := range []*redis.Script{s.apply, s.mark} {
		if err := sc.Load(context.Background(), rdb).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return s, rdb, log
}

func petstoreRequest(t *testing.T, orderID, eventID string, seq uint64) Request {
	t.Helper()
	book, err := NewBook(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	return Request{
		Tenant: "default", Provider: ProviderPetstore, OrderID: orderID, SourceEventID: eventID, Seq: seq, AppliedAt: base,
		Units: []Unit{{Status: book.For(ProviderPetstore).Resolve("SHIPPED"), OccurredAt: base}},
	}
}

func marker(t *testing.T, rdb *redis.Client, orderID, eventID string) string {
	t.Helper()
	v, err := rdb.HGet(context.Background(), EventKey("default", ProviderPetstore, orderID, eventID), "p").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return v
}

// TestIntegrationMarkerRidesNextPipeline: a published marker does not start a pipeline of its
// own; the next apply's pipeline carries it, after the apply.
func TestIntegrationMarkerRidesNextPipeline(t *testing.T) {
	s, rdb, log := lazyStore(t, time.Hour)
	ctx := context.Background()
	if _, err := s.Apply(ctx, petstoreRequest(t, "o-1", "e-1", 1)); err != nil {
		t.Fatal(err)
	}
	log.take()
	if err := s.MarkPublished(ctx, "default", ProviderPetstore, "o-1", "e-1", 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // time for a pipeline that should not start
	if got := log.take(); len(got) != 0 {
		t.Fatalf("pipelines after the marker alone = %v, want none", got)
	}
	if got := marker(t, rdb, "o-1", "e-1"); got != "" {
		t.Fatalf("marker = %q before any pipeline, want none", got)
	}
	if _, err := s.Apply(ctx, petstoreRequest(t, "o-2", "e-2", 2)); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("pipelines = %v, want one of two scripts (the apply and the marker)", got)
	}
	if got := marker(t, rdb, "o-1", "e-1"); got != "1" {
		t.Fatalf("marker = %q after the apply's pipeline, want 1", got)
	}
}

// TestIntegrationMarkerAloneGoesOut: with nothing else going to Redis, a marker is written on its
// own after the lazy delay.
func TestIntegrationMarkerAloneGoesOut(t *testing.T) {
	s, rdb, log := lazyStore(t, lazyDelay)
	ctx := context.Background()
	if _, err := s.Apply(ctx, petstoreRequest(t, "o-1", "e-1", 1)); err != nil {
		t.Fatal(err)
	}
	log.take()
	if err := s.MarkPublished(ctx, "default", ProviderPetstore, "o-1", "e-1", 1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for marker(t, rdb, "o-1", "e-1") != "1" {
		if time.Now().After(deadline) {
			t.Fatal("marker never written without other traffic")
		}
		time.Sleep(time.Millisecond)
	}
	if got := log.take(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("pipelines = %v, want one with the marker", got)
	}
}

// TestIntegrationCloseSendsLazyCalls: Close writes the markers still waiting.
func TestIntegrationCloseSendsLazyCalls(t *testing.T) {
	s, rdb, _ := lazyStore(t, time.Hour)
	ctx := context.Background()
	for i := range 3 {
		id := strconv.Itoa(i)
		if _, err := s.Apply(ctx, petstoreRequest(t, "o-"+id, "e-"+id, uint64(10+i))); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkPublished(ctx, "default", ProviderPetstore, "o-"+id, "e-"+id, uint64(10+i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for i := range 3 {
		id := strconv.Itoa(i)
		if got := marker(t, rdb, "o-"+id, "e-"+id); got != strconv.Itoa(10+i) {
			t.Errorf("marker %d = %q after Close, want %d", i, got, 10+i)
		}
	}
	if err := s.MarkPublished(ctx, "default", ProviderPetstore, "o-0", "e-0", 10); err == nil {
		t.Fatal("MarkPublished after Close = nil, want ErrClosed")
	}
}

// TestIntegrationLazyBacklogIsBounded: past the lazy queue's bound, markers go out like any call,
// and every one is written, in pipelines of at most maxBatch.
func TestIntegrationLazyBacklogIsBounded(t *testing.T) {
	s, rdb, log := lazyStore(t, time.Hour)
	ctx := context.Background()
	n := s.batch.maxLazy() + 300
	pipe := rdb.Pipeline()
	for i := range n { // the event records the markers need
		pipe.HSet(ctx, EventKey("default", ProviderPetstore, "o", "e-"+strconv.Itoa(i)), "u:", "x")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	log.take()
	for i := range n {
		if err := s.MarkPublished(ctx, "default", ProviderPetstore, "o", "e-"+strconv.Itoa(i), uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < n; {
		if marker(t, rdb, "o", "e-"+strconv.Itoa(i)) == strconv.Itoa(i+1) {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("marker %d of %d never written (lazy delay an hour, no other traffic)", i, n)
		}
		time.Sleep(time.Millisecond)
	}
	for _, size := range log.take() {
		if size > maxBatch {
			t.Fatalf("a pipeline of %d scripts, over %d", size, maxBatch)
		}
	}
}

// goid is the calling goroutine's id, read from its stack header ("goroutine 42 [running]:").
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// goroutineLog records the goroutine each pipeline is sent from.
type goroutineLog struct {
	pipelineLog
	mu  sync.Mutex
	ids []string
}

func (l *goroutineLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.mu.Lock()
		l.ids = append(l.ids, goid())
		l.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestIntegrationIdleApplyRunsOnCaller: with no pipeline running, Apply sends its pipeline from
// the caller's goroutine (no hand-off to a pipeline goroutine and back).
func TestIntegrationIdleApplyRunsOnCaller(t *testing.T) {
	rdb := testkit.StartRedis(t).Client(t)
	s := NewStore(rdb, time.Hour)
	t.Cleanup(s.Close)
	ctx := context.Background()
	if _, err := s.Apply(ctx, petstoreRequest(t, "o-0", "e-0", 1)); err != nil { // loads the script
		t.Fatal(err)
	}
	log := &goroutineLog{}
	rdb.AddHook(log)
	for i := range 3 {
		id := strconv.Itoa(i + 1)
		if _, err := s.Apply(ctx, petstoreRequest(t, "o-"+id, "e-"+id, uint64(i+2))); err != nil {
			t.Fatal(err)
		}
	}
	me := goid()
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.ids) != 3 {
		t.Fatalf("%d pipelines for 3 idle applies, want 3", len(log.ids))
	}
	for i, id := range log.ids {
		if id != me {
			t.Errorf("pipeline %d sent from goroutine %s, want the caller's (%s)", i, id, me)
		}
	}
}
