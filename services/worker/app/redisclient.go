package app

import (
	"fmt"

	"github.com/hookline/hookline/pkg/redisconn"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// newRedis connects to Redis as cfg.Redis says (one server, a cluster, or a Sentinel-managed
// primary) with the worker's client defaults: handlers share a few pipelines (see orders.Store),
// so a small pool; and dials fail fast while Redis is down, since the message is redelivered
// after a backoff anyway. It returns the store on top, which WAITs for the configured replicas;
// close the store before the client.
func newRedis(cfg Config, log *zap.Logger) (redis.UniversalClient, *orders.Store, error) {
	rdb, err := cfg.Redis.NewClient(redisconn.Tuning{PoolSize: 16, DialerRetries: 2})
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	log.Info("redis", zap.Stringer("deployment", cfg.Redis), zap.Int("min_replicas", cfg.Redis.MinReplicas),
		zap.Duration("wait_timeout", cfg.Redis.WaitTimeout))
	store := orders.NewStore(rdb, cfg.Worker.DedupeTTL, orders.WithDurability(orders.Durability{
		MinReplicas: cfg.Redis.MinReplicas,
		Timeout:     cfg.Redis.WaitTimeout,
		Detected: func(n int) {
			log.Info("redis replicas detected: writes wait for them before the ack", zap.Int("min_replicas", n))
		},
	}))
	return rdb, store, nil
}
