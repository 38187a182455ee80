package orders

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated marks writes that ran on the primary but that WAIT did not see reach enough
// replicas in time. It is an outage, not bad data: the message is redelivered, and the event-id
// dedupe makes the second apply a duplicate if the first one survived after all.
var ErrNotReplicated = errors.New("write not confirmed by enough replicas")

// AutoReplicas as Durability.MinReplicas: 1 when every primary has a replica, 0 otherwise,
// decided when Redis first answers.
const AutoReplicas = -1

// Durability says how many replicas must hold a write before Apply returns. Redis replication is
// asynchronous: a primary that dies can take its last writes with it, and a message acknowledged
// in JetStream on the strength of such a write would lose its effect.
type Durability struct {
	// MinReplicas for WAIT after every pipeline; 0 skips WAIT, AutoReplicas detects.
	MinReplicas int
	// Timeout is WAIT's timeout.
	Timeout time.Duration
	// Detected, if set, is told what AutoReplicas resolved to.
	Detected func(replicas int)
}

// Option changes a Store.
type Option func(*Store)

// WithDurability makes Apply wait for replicas; without it the store does not WAIT.
func WithDurability(d Durability) Option {
	return func(s *Store) { s.batch.gate = newReplicaGate(d) }
}

// replicaGate resolves AutoReplicas once and remembers it.
type replicaGate struct {
	d    Durability
	mu   sync.Mutex
	want int
}

func newReplicaGate(d Durability) *replicaGate {
	if d.Timeout <= 0 {
		d.Timeout = time.Second
	}
	return &replicaGate{d: d, want: d.MinReplicas}
}

// replicas returns how many replicas WAIT asks for, detecting it on first use.
func (g *replicaGate) replicas(ctx context.Context, rdb redis.UniversalClient) (int, error) {
	if g == nil {
		return 0, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.want >= 0 {
		return g.want, nil
	}
	n, err := DetectReplicas(ctx, rdb)
	if err != nil {
		return 0, fmt.Errorf("detect replicas: %w", err)
	}
	g.want = min(n, 1)
	if g.d.Detected != nil {
		g.d.Detected(g.want)
	}
	return g.want, nil
}

// DetectReplicas returns the fewest replicas any primary has: from CLUSTER SLOTS on a cluster,
// from INFO replication's connected_slaves otherwise.
func DetectReplicas(ctx context.Context, rdb redis.UniversalClient) (int, error) {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		slots, err := cc.ClusterSlots(ctx).Result() //nolint:staticcheck // CLUSTER SLOTS works on every Redis version; CLUSTER SHARDS needs 7.0
		if err != nil {
			return 0, err
		}
		least := -1
		for _, s := range slots {
			if n := len(s.Nodes) - 1; least < 0 || n < least {
				least = n
			}
		}
		return max(least, 0), nil
	}
	info, err := rdb.InfoMap(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	v := info["Replication"]["connected_slaves"]
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: connected_slaves %q", ErrBadReply, v)
	}
	return n, nil
}
