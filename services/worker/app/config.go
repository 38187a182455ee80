package app

import (
	"net"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/redisconn"
	"github.com/hookline/hookline/services/worker/internal/console"
	"github.com/nats-io/nats.go"
)

// Settings are the worker's own settings, read from the environment.
type Settings struct {
	// Concurrency is how many messages one worker process handles at once
	// (HOOKLINE_WORKER_CONCURRENCY).
	Concurrency int
	// MaxAckPending bounds the unacknowledged messages of the shared consumer, across every worker
	// process (HOOKLINE_WORKER_MAX_ACK_PENDING).
	MaxAckPending int
	// AckWait is how long the server waits for an ack before redelivering
	// (HOOKLINE_WORKER_ACK_WAIT). Handlers running longer send InProgress.
	AckWait time.Duration
	// MaxDeliver is how many deliveries a failing message gets before it goes to the DLQ; -1 is
	// unlimited (HOOKLINE_WORKER_MAX_DELIVER). Deliveries during a Redis or NATS outage do not
	// count.
	MaxDeliver int
	// Backoff lists the redelivery delays after delivery 1, 2, …; the last repeats
	// (HOOKLINE_WORKER_BACKOFF).
	Backoff []time.Duration
	// OutageDLQ: deliveries during a Redis or NATS outage count towards MaxDeliver, so messages
	// whose deliveries run out during a long outage go to the DLQ for replay
	// (HOOKLINE_WORKER_OUTAGE_DLQ, default true). false: such messages wait out any outage.
	OutageDLQ bool
	// DedupeTTL is how long event ids and their outcomes are remembered (HOOKLINE_DEDUPE_TTL).
	// Providers retry for days.
	DedupeTTL time.Duration
	// ConsoleToken turns on the web console at /console/ on the admin port
	// (HOOKLINE_CONSOLE_TOKEN, default empty: off). env: and file: references are resolved.
	ConsoleToken config.Secret
	// Pprof mounts net/http/pprof under /debug/pprof/ on the admin port (HOOKLINE_PPROF, default
	// false), for profiling a running worker; like the rest of the admin port it is not public.
	Pprof bool
}

// DefaultSettings are the settings with nothing in the environment.
func DefaultSettings() Settings {
	return Settings{
		Concurrency:   64,
		MaxAckPending: 2048,
		AckWait:       30 * time.Second,
		MaxDeliver:    10,
		Backoff:       []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second},
		DedupeTTL:     7 * 24 * time.Hour,
		OutageDLQ:     true,
	}
}

// Environment variables of the worker's own settings.
const (
	EnvConcurrency   = "HOOKLINE_WORKER_CONCURRENCY"
	EnvMaxAckPending = "HOOKLINE_WORKER_MAX_ACK_PENDING"
	EnvAckWait       = "HOOKLINE_WORKER_ACK_WAIT"
	EnvMaxDeliver    = "HOOKLINE_WORKER_MAX_DELIVER"
	EnvBackoff       = "HOOKLINE_WORKER_BACKOFF"
	EnvDedupeTTL     = "HOOKLINE_DEDUPE_TTL"
	EnvOutageDLQ     = "HOOKLINE_WORKER_OUTAGE_DLQ"
	EnvConsoleToken  = console.Env
	EnvPprof         = "HOOKLINE_PPROF"
)

// LoadSettings reads the worker's settings; an error names the setting and wraps
// config.ErrInvalid.
func LoadSettings(lookup config.Lookup) (Settings, error) {
	d := DefaultSettings()
	e := config.NewEnv(lookup)
	s := Settings{
		Concurrency:   e.Int(EnvConcurrency, d.Concurrency, 1, 4096),
		MaxAckPending: e.Int(EnvMaxAckPending, d.MaxAckPending, 1, 1_000_000),
		AckWait:       e.Duration(EnvAckWait, d.AckWait),
		MaxDeliver:    e.Int(EnvMaxDeliver, d.MaxDeliver, -1, 100_000),
		Backoff:       e.Durations(EnvBackoff, d.Backoff),
		DedupeTTL:     e.Duration(EnvDedupeTTL, d.DedupeTTL),
		OutageDLQ:     e.Bool(EnvOutageDLQ, d.OutageDLQ),
		Pprof:         e.Bool(EnvPprof, d.Pprof),
	}
	if v := e.String(EnvConsoleToken, ""); v != "" {
		tok, err := config.ResolveSecret(v, lookup)
		if err != nil {
			e.Fail(EnvConsoleToken, "%v", err)
		}
		s.ConsoleToken = tok
	}
	if s.MaxDeliver == 0 {
		e.Fail(EnvMaxDeliver, "want -1 (unlimited) or a number of deliveries from 1, got 0")
	}
	if s.AckWait < time.Second {
		e.Fail(EnvAckWait, "want at least 1s, got %s", s.AckWait)
	}
	if s.DedupeTTL < time.Minute {
		e.Fail(EnvDedupeTTL, "want at least 1m (providers retry for days; default 7d), got %s", s.DedupeTTL)
	}
	if err := e.Err(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Config is everything Run needs.
type Config struct {
	// Base is the configuration every service shares (NATS_URL, REDIS_URL, HOOKLINE_ADMIN_ADDR, …).
	Base config.Config
	// Worker holds the worker's own settings.
	Worker Settings
	// Redis says where Redis is (REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_*) and how many
	// replicas a write waits for.
	Redis redisconn.Settings
	// AdminListener, when set, is served instead of listening on Base.AdminAddr, so a caller can
	// use port 0 and know the address.
	AdminListener net.Listener

	// hooks run inside the handler; tests use them to simulate a crash between steps.
	hooks hooks
}

// hooks get the worker's NATS connection; an error they return ends the handling at once.
type hooks struct {
	afterApply, afterPublish func(nc *nats.Conn) error
}

// DefaultAdminAddr is the worker's admin address (contract section 1).
const DefaultAdminAddr = ":9091"

// LoadConfig reads the shared configuration and the worker's settings from lookup.
func LoadConfig(lookup config.Lookup) (Config, error) {
	base, err := config.Load(lookup, config.Defaults{AdminAddr: DefaultAdminAddr})
	if err != nil {
		return Config{}, err
	}
	s, err := LoadSettings(lookup)
	if err != nil {
		return Config{}, err
	}
	r, err := redisconn.Load(lookup)
	if err != nil {
		return Config{}, err
	}
	return Config{Base: *base, Worker: s, Redis: r}, nil
}
