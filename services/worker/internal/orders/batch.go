package orders

import (
	"context"
	"errors"
	"sync"
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
type batcher struct {
	rdb      redis.UniversalClient
	in       chan *call
	maxBatch int
	timeout  time.Duration

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

func newBatcher(rdb redis.UniversalClient, pipelines, maxBatch int, timeout time.Duration) *batcher {
	b := &batcher{rdb: rdb, in: make(chan *call, pipelines*maxBatch), maxBatch: maxBatch, timeout: timeout}
	for range pipelines {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

// do runs the script in the next pipeline and waits for its reply.
func (b *batcher) do(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	c := &call{script: s, keys: keys, args: args, done: make(chan struct{})}
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

// send queues the script without waiting for its reply.
func (b *batcher) send(ctx context.Context, s *redis.Script, keys []string, args ...any) error {
	return b.submit(ctx, &call{script: s, keys: keys, args: args})
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

// close runs what is queued and stops the pipelines.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *batcher) run() {
	defer b.wg.Done()
	batch := make([]*call, 0, b.maxBatch)
	for c := range b.in {
		batch = append(batch[:0], c)
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
		b.exec(batch)
	}
}

func (b *batcher) exec(batch []*call) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	b.pipeline(ctx, batch)
	// A server that lost its script cache (restart, failover, SCRIPT FLUSH) answers NOSCRIPT: the
	// script did not run, so load it and run those calls again.
	var retry []*call
	for _, c := range batch {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			retry = append(retry, c)
		}
	}
	if len(retry) > 0 {
		loaded := map[*redis.Script]bool{}
		for _, c := range retry {
			if !loaded[c.script] {
				loaded[c.script] = true
				if err := c.script.Load(ctx, b.rdb).Err(); err != nil {
					for _, r := range retry {
						r.cmd.SetErr(err)
					}
					retry = nil
					break
				}
			}
		}
		b.pipeline(ctx, retry)
	}
	for _, c := range batch {
		if c.done != nil {
			close(c.done)
		}
	}
}

func (b *batcher) pipeline(ctx context.Context, calls []*call) {
	if len(calls) == 0 {
		return
	}
	pipe := b.rdb.Pipeline()
	for _, c := range calls {
		c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	// Per-command errors are on each cmd; Exec's own error repeats the first of them.
	_, _ = pipe.Exec(ctx)
}
