package orders

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("order store closed")

// call is one script run waiting for its pipeline.
type call struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
	done   chan struct{} // nil: nobody waits (fire and forget)
}

// batcher sends the script runs of concurrent handlers to Redis in pipelines: one write and one
// read for many scripts instead of one each, on both sides of the connection. Each script still
// runs atomically on its own.
//
// Calls nobody waits for (published markers) do not start a pipeline of their own: they wait in
// lazy and ride the next pipeline a waited-for call starts, or, when none comes, go out on their
// own once the first of them has waited lazyDelay. Under load that spares each marker its own
// write and read on both sides; idle, a marker reaches Redis at most lazyDelay late.
type batcher struct {
	rdb       redis.UniversalClient
	cluster   *redis.ClusterClient // set when rdb is one: pipelines go per node
	gate      *replicaGate         // nil: no WAIT
	in        chan *call
	maxBatch  int
	timeout   time.Duration
	pipelines int
	lazyDelay time.Duration

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup

	lazyMu    sync.Mutex
	lazy      []*call
	lazyTimer *time.Timer   // armed while lazy holds a call no pipeline took yet
	lazyArmed bool          // lazyTimer will fire
	lazyKick  chan struct{} // the timer's (or an overfull drain's) call for a pipeline

	inlineSlots chan struct{} // one: the pipeline a caller may run itself (see inline)
	busy        atomic.Int32  // pipelines running, inline or not
}

// lazyDelay bounds how long a call nobody waits for stays queued when nothing else goes to Redis.
const lazyDelay = 5 * time.Millisecond

func newBatcher(rdb redis.UniversalClient, pipelines, maxBatch int, timeout time.Duration) *batcher {
	b := &batcher{rdb: rdb, in: make(chan *call, pipelines*maxBatch), maxBatch: maxBatch, timeout: timeout,
		lazyDelay: lazyDelay, lazyKick: make(chan struct{}, 1), inlineSlots: make(chan struct{}, 1)}
	b.cluster, _ = rdb.(*redis.ClusterClient)
	b.pipelines = pipelines
	return b
}

// start runs the pipelines; options are set by then.
func (b *batcher) start() {
	b.lazyTimer = time.AfterFunc(time.Hour, b.lazyDue)
	b.lazyTimer.Stop()
	for range b.pipelines {
		b.wg.Add(1)
		go b.run()
	}
}

// do runs the script in the next pipeline and waits for its reply.
func (b *batcher) do(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	c := &call{script: s, keys: keys, args: args, done: make(chan struct{})}
	if cmd, ok := b.inline(c); ok {
		return cmd
	}
	if err := b.submit(ctx, c); err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(err)
		return cmd
	}
	select {
	case <-c.done:
		return c.cmd
	case <-ctx.Done():
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(ctx.Err())
		return cmd
	}
}

// inline runs c's pipeline on the caller's goroutine when no pipeline runs and nothing is
// queued (the lazy calls waiting ride along): at low load that spares the hand-off to a pipeline
// goroutine and back, two goroutine wake-ups per call. Under load pipelines are running, so calls
// queue for the pipeline goroutines, which batch them as before. ok is false when c was not run.
func (b *batcher) inline(c *call) (cmd *redis.Cmd, ok bool) {
	if b.busy.Load() > 0 || len(b.in) > 0 {
		return nil, false // join the next pipeline
	}
	select {
	case b.inlineSlots <- struct{}{}:
	default:
		return nil, false
	}
	defer func() { <-b.inlineSlots }()
	b.busy.Add(1)
	defer b.busy.Add(-1)
	b.mu.RLock() // close waits for a pipeline run here
	defer b.mu.RUnlock()
	if b.closed {
		cmd = redis.NewCmd(context.Background())
		cmd.SetErr(ErrClosed)
		return cmd, true
	}
	b.exec(b.takeLazy([]*call{c}))
	return c.cmd, true
}

// send queues the script without waiting for its reply: it rides the next pipeline, at most
// lazyDelay later. Past maxLazy waiting calls it is queued like a waited-for call (and waits for
// room like one), so a backlog never grows without bound.
func (b *batcher) send(ctx context.Context, s *redis.Script, keys []string, args ...any) error {
	c := &call{script: s, keys: keys, args: args}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	b.lazyMu.Lock()
	queued := len(b.lazy) < b.maxLazy()
	if queued {
		b.lazy = append(b.lazy, c)
		if !b.lazyArmed {
			b.lazyArmed = true
			b.lazyTimer.Reset(b.lazyDelay)
		}
	}
	b.lazyMu.Unlock()
	b.mu.RUnlock()
	if queued {
		return nil
	}
	return b.submit(ctx, c)
}

func (b *batcher) maxLazy() int { return b.pipelines * b.maxBatch }

// lazyDue runs when the oldest lazy call has waited lazyDelay: a pipeline takes what is there
// (nothing, when pipelines took every lazy call meanwhile).
func (b *batcher) lazyDue() {
	b.lazyMu.Lock()
	b.lazyArmed = false
	waiting := len(b.lazy) > 0
	b.lazyMu.Unlock()
	if waiting {
		b.kick()
	}
}

func (b *batcher) kick() {
	select {
	case b.lazyKick <- struct{}{}:
	default: // a kick is pending already
	}
}

// takeLazy appends to batch the lazy calls that fit, oldest first. What does not fit is left for
// the next pipeline, which a kick starts at once.
func (b *batcher) takeLazy(batch []*call) []*call {
	b.lazyMu.Lock()
	defer b.lazyMu.Unlock()
	n := min(len(b.lazy), b.maxBatch-len(batch))
	if n <= 0 {
		return batch
	}
	batch = append(batch, b.lazy[:n]...)
	rest := copy(b.lazy, b.lazy[n:])
	clear(b.lazy[rest:])
	b.lazy = b.lazy[:rest]
	if rest > 0 {
		b.kick()
	}
	return batch
}

func (b *batcher) submit(ctx context.Context, c *call) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	select {
	case b.in <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close runs what is queued (lazy calls included) and stops the pipelines.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	b.wg.Wait()
	b.lazyTimer.Stop()
}

func (b *batcher) run() {
	defer b.wg.Done()
	batch := make([]*call, 0, b.maxBatch)
	for {
		batch = batch[:0]
		select {
		case c, ok := <-b.in:
			if !ok {
				// Closed: what is left of the lazy calls goes out before the pipelines stop.
				for batch = b.takeLazy(batch); len(batch) > 0; batch = b.takeLazy(batch[:0]) {
					b.exec(batch)
				}
				return
			}
			batch = append(batch, c)
		fill:
			for len(batch) < b.maxBatch {
				select {
				case c, ok := <-b.in:
					if !ok {
						break fill
					}
					batch = append(batch, c)
				default:
					break fill
				}
			}
		case <-b.lazyKick:
		}
		if batch = b.takeLazy(batch); len(batch) > 0 {
			b.busy.Add(1)
			b.exec(batch)
			b.busy.Add(-1)
		}
	}
}

func (b *batcher) exec(batch []*call) {
	timeout := b.timeout
	if b.gate != nil {
		timeout += b.gate.d.Timeout // WAIT may hold the pipeline that long
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer func() {
		for _, c := range batch {
			if c.done != nil {
				close(c.done)
			}
		}
	}()
	replicas, err := b.gate.replicas(ctx, b.rdb)
	if err != nil {
		for _, c := range batch {
			c.cmd = redis.NewCmd(ctx)
			c.cmd.SetErr(err)
		}
		return
	}
	pending := batch
	for attempt := 0; len(pending) > 0; attempt++ {
		b.pipeline(ctx, pending, replicas)
		if attempt == maxPasses-1 {
			return
		}
		// A server that lost its script cache (restart, failover, SCRIPT FLUSH) answers NOSCRIPT: the
		// script did not run, so load it and run those calls again. On a cluster, MOVED means the
		// slot has a new owner (after a failover or a resharding): the script did not run either,
		// and the next pass sends it to the owner the reloaded slot map names.
		var again []*call
		moved := false
		for _, c := range pending {
			err := c.cmd.Err()
			_, isMoved := redis.IsMovedError(err)
			switch {
			case redis.HasErrorPrefix(err, "NOSCRIPT"):
				again = append(again, c)
			case isMoved && b.cluster != nil:
				again, moved = append(again, c), true
			}
		}
		if len(again) == 0 {
			return
		}
		if moved && !sleep(ctx, time.Duration(attempt+1)*movedPause) {
			return
		}
		if err := b.loadScripts(ctx, again); err != nil {
			for _, c := range again {
				c.cmd.SetErr(err)
			}
			return
		}
		pending = again
	}
}

// maxPasses bounds the pipelines one batch gets: the first, and retries after NOSCRIPT or MOVED.
// movedPause, growing per pass, gives the cluster client time to reload its slot map.
const (
	maxPasses  = 3
	movedPause = 30 * time.Millisecond
)

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *batcher) loadScripts(ctx context.Context, calls []*call) error {
	loaded := map[*redis.Script]bool{}
	for _, c := range calls {
		if !redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") || loaded[c.script] {
			continue
		}
		loaded[c.script] = true
		if err := c.script.Load(ctx, b.rdb).Err(); err != nil { // a cluster client loads it on every primary
			return err
		}
	}
	return nil
}

// pipeliner is a connection that pipelines: the client itself, or one cluster node's client.
type pipeliner interface {
	Pipeline() redis.Pipeliner
}

// pipeline runs calls in one pipeline per node, each followed by WAIT when replicas > 0. A
// single server or a Sentinel-managed primary is one node; on a cluster the calls are grouped by
// the primary owning their keys' slot (every key of a call shares one hash tag), and the nodes
// run in parallel. WAIT counts the replicas that hold every earlier write of its own connection,
// which is why it must travel in the same pipeline as the scripts.
func (b *batcher) pipeline(ctx context.Context, calls []*call, replicas int) {
	if b.cluster == nil {
		b.pipelineNode(ctx, b.rdb, calls, replicas)
		return
	}
	groups := map[pipeliner][]*call{}
	for _, c := range calls {
		node, err := b.cluster.MasterForKey(ctx, c.keys[0])
		if err != nil {
			c.cmd = redis.NewCmd(ctx)
			c.cmd.SetErr(err)
			continue
		}
		groups[node] = append(groups[node], c)
	}
	var wg sync.WaitGroup
	for node, calls := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.pipelineNode(ctx, node, calls, replicas)
		}()
	}
	wg.Wait()
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil && !isScriptError(err) {
			// A node is down or a slot moved: have the cluster client read the slot map again (at
			// most one reload runs at a time).
			b.cluster.ReloadState(ctx)
			return
		}
	}
}

func (b *batcher) pipelineNode(ctx context.Context, node pipeliner, calls []*call, replicas int) {
	pipe := node.Pipeline()
	for _, c := range calls {
		c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	var wait *redis.Cmd
	if replicas > 0 {
		wait = pipe.Do(ctx, "wait", replicas, b.gate.d.Timeout.Milliseconds())
	}
	// Per-command errors are on each cmd; Exec's own error repeats the first of them.
	_, _ = pipe.Exec(ctx)
	if wait == nil {
		return
	}
	var err error
	switch n, werr := wait.Int64(); {
	case werr != nil:
		err = fmt.Errorf("%w: wait: %w", ErrUnavailable, werr)
	case n < int64(replicas):
		err = fmt.Errorf("%w: %w: %d of %d replicas within %s", ErrUnavailable, ErrNotReplicated, n, replicas, b.gate.d.Timeout)
	default:
		return
	}
	// The scripts that ran wrote on the primary, but nothing says a replica has the writes: the
	// message must not be acknowledged on their strength.
	for _, c := range calls {
		if c.cmd.Err() == nil {
			c.cmd.SetErr(err)
		}
	}
}

// isScriptError reports a reply the script itself gave (a bug or bad data): the node answered.
func isScriptError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && !isTransient(err)
}
