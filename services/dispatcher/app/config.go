package app

import (
	"fmt"
	"github.com/hookline/hookline/pkg/webhook"
	"net"
	"time"

	"github.com/hookline/hookline/pkg/config"
)

// Defaults is the dispatcher's admin address (contract section 1).
var Defaults = config.Defaults{AdminAddr: ":9092"}

// Config is the dispatcher's configuration: the shared settings plus its own.
type Config struct {
	*config.Config

	// CallbackTimeout bounds one HTTP attempt (HOOKLINE_CALLBACK_TIMEOUT, default 10s).
	CallbackTimeout time.Duration
	// Concurrency is how many callbacks are delivered at once (HOOKLINE_DISPATCHER_CONCURRENCY,
	// default 32).
	Concurrency int
	// AckWait is the consumer's AckWait (HOOKLINE_DISPATCHER_ACK_WAIT, default CallbackTimeout+20s,
	// at least 30s). It must exceed CallbackTimeout by 2s or more, or a slow endpoint would get a
	// second, parallel copy; handlers still running at AckWait/2 also send InProgress.
	AckWait time.Duration
	// MaxAckPending caps callbacks delivered and not yet settled, waiting retries included
	// (HOOKLINE_DISPATCHER_MAX_ACK_PENDING, default 20000).
	MaxAckPending int
	// HostConcurrency caps requests in flight to one host (HOOKLINE_CALLBACK_HOST_CONCURRENCY,
	// default 4).
	HostConcurrency int
	// HostBusyDelay is the redelivery delay of a callback whose host is at its limit
	// (HOOKLINE_CALLBACK_HOST_BUSY_DELAY, default 1s).
	HostBusyDelay time.Duration
	// BreakerFailures consecutive failures open a host's breaker
	// (HOOKLINE_CALLBACK_BREAKER_FAILURES, default 5).
	BreakerFailures int
	// BreakerCooldown is how long an open breaker holds a host's callbacks back
	// (HOOKLINE_CALLBACK_BREAKER_COOLDOWN, default 30s).
	BreakerCooldown time.Duration
	// RetryJitter spreads each retry delay by ± this fraction (HOOKLINE_CALLBACK_RETRY_JITTER,
	// default 0.2).
	RetryJitter float64
	// MaxRetryAfter caps a receiver's Retry-After (HOOKLINE_CALLBACK_MAX_RETRY_AFTER, default 24h).
	MaxRetryAfter time.Duration
	// AttemptsTTL is how long attempt counts are kept (HOOKLINE_CALLBACK_ATTEMPTS_TTL, default the
	// larger of 7 days and twice the retry schedule).
	AttemptsTTL time.Duration

	// AdminListener, when set, serves the admin port instead of listening on AdminAddr; tests
	// pass a 127.0.0.1:0 listener and read its address.
	AdminListener net.Listener
}

// ackMargin is how much longer than one HTTP attempt the consumer's AckWait must be.
const ackMargin = 2 * time.Second

// NewConfig adds the dispatcher's settings, read through lookup, to base. Errors wrap
// config.ErrInvalid and name the setting in one line.
func NewConfig(base *config.Config, lookup config.Lookup) (Config, error) {
	e := config.NewEnv(lookup)
	c := Config{
		Config:          base,
		CallbackTimeout: e.Duration("HOOKLINE_CALLBACK_TIMEOUT", 10*time.Second),
		Concurrency:     e.Int("HOOKLINE_DISPATCHER_CONCURRENCY", 32, 1, 4096),
		MaxAckPending:   e.Int("HOOKLINE_DISPATCHER_MAX_ACK_PENDING", 20000, 1, 10_000_000),
		HostConcurrency: e.Int("HOOKLINE_CALLBACK_HOST_CONCURRENCY", 4, 1, 1024),
		HostBusyDelay:   e.Duration("HOOKLINE_CALLBACK_HOST_BUSY_DELAY", time.Second),
		BreakerFailures: e.Int("HOOKLINE_CALLBACK_BREAKER_FAILURES", 5, 1, 1_000_000),
		BreakerCooldown: e.Duration("HOOKLINE_CALLBACK_BREAKER_COOLDOWN", 30*time.Second),
		RetryJitter:     e.Float("HOOKLINE_CALLBACK_RETRY_JITTER", 0.2),
		MaxRetryAfter:   e.Duration("HOOKLINE_CALLBACK_MAX_RETRY_AFTER", 24*time.Hour),
	}
	c.AckWait = e.Duration("HOOKLINE_DISPATCHER_ACK_WAIT", max(30*time.Second, c.CallbackTimeout+20*time.Second))
	c.AttemptsTTL = e.Duration("HOOKLINE_CALLBACK_ATTEMPTS_TTL", defaultAttemptsTTL(base))
	if c.RetryJitter > 1 {
		e.Fail("HOOKLINE_CALLBACK_RETRY_JITTER", "want a fraction from 0 to 1, got %g", c.RetryJitter)
	}
	if err := e.Err(); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the settings that depend on each other; Run calls it too.
func (c Config) Validate() error {
	switch {
	case c.Config == nil:
		return fmt.Errorf("%w: no base configuration", config.ErrInvalid)
	case c.CallbackSecret.IsZero():
		return fmt.Errorf("%w: HOOKLINE_CALLBACK_SECRET: required by the dispatcher to sign callbacks", config.ErrInvalid)
	case !validStandardKey(c.CallbackSecret.Bytes()):
		return fmt.Errorf("%w: HOOKLINE_CALLBACK_SECRET: a whsec_ secret must be base64 after the prefix", config.ErrInvalid)
	case c.CallbackTimeout <= 0:
		return fmt.Errorf("%w: HOOKLINE_CALLBACK_TIMEOUT: want a positive duration", config.ErrInvalid)
	case c.AckWait < c.CallbackTimeout+ackMargin:
		return fmt.Errorf("%w: HOOKLINE_DISPATCHER_ACK_WAIT: want at least HOOKLINE_CALLBACK_TIMEOUT + %s (%s), got %s",
			config.ErrInvalid, ackMargin, c.CallbackTimeout+ackMargin, c.AckWait)
	}
	return nil
}

func defaultAttemptsTTL(base *config.Config) time.Duration {
	var total time.Duration
	if base != nil {
		for _, d := range base.CallbackRetryDelays {
			total += d
		}
	}
	return max(7*24*time.Hour, 2*total)
}

// withDefaults fills zero values, so a Config built in code (the operator CLI, tests) works.
func (c Config) withDefaults() Config {
	if c.CallbackTimeout <= 0 {
		c.CallbackTimeout = 10 * time.Second
	}
	if c.AckWait <= 0 {
		c.AckWait = max(30*time.Second, c.CallbackTimeout+20*time.Second)
	}
	if c.Concurrency < 1 {
		c.Concurrency = 32
	}
	if c.MaxAckPending < 1 {
		c.MaxAckPending = 20000
	}
	if c.HostConcurrency < 1 {
		c.HostConcurrency = 4
	}
	if c.HostBusyDelay <= 0 {
		c.HostBusyDelay = time.Second
	}
	if c.BreakerFailures < 1 {
		c.BreakerFailures = 5
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = 30 * time.Second
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = 24 * time.Hour
	}
	if c.AttemptsTTL <= 0 {
		c.AttemptsTTL = defaultAttemptsTTL(c.Config)
	}
	return c
}

func validStandardKey(secret []byte) bool {
	_, err := webhook.StandardKey(secret)
	return err == nil
}
