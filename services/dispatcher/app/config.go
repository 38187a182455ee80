package app

import (
	"fmt"
	"net"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/services/dispatcher/internal/deliver"
)

// DefaultAdminAddr is the dispatcher's admin address (contract section 1).
const DefaultAdminAddr = ":9092"

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

// LoadConfig reads the shared configuration and the dispatcher's settings from lookup
// (os.LookupEnv).
func LoadConfig(lookup config.Lookup) (Config, error) {
	base, err := config.Load(lookup, config.Defaults{AdminAddr: DefaultAdminAddr})
	if err != nil {
		return Config{}, err
	}
	return NewConfig(base, lookup)
}

// defaults are the dispatcher's own settings with nothing in the environment, less the two that
// follow other settings (ackWaitFor, attemptsTTLFor). NewConfig and withDefaults both read them.
func defaults() Config {
	return Config{
		CallbackTimeout: 10 * time.Second,
		Concurrency:     32,
		MaxAckPending:   20000,
		HostConcurrency: deliver.DefaultMaxConcurrent,
		HostBusyDelay:   deliver.DefaultBusyDelay,
		BreakerFailures: deliver.DefaultFailureThreshold,
		BreakerCooldown: deliver.DefaultCooldown,
		RetryJitter:     0.2,
		MaxRetryAfter:   deliver.DefaultMaxRetryAfter,
	}
}

// ackWaitFor is the default AckWait for a callback timeout: 20s more, at least 30s.
func ackWaitFor(timeout time.Duration) time.Duration {
	return max(30*time.Second, timeout+20*time.Second)
}

// NewConfig adds the dispatcher's settings, read through lookup, to base. Errors wrap
// config.ErrInvalid and name the setting in one line.
func NewConfig(base *config.Config, lookup config.Lookup) (Config, error) {
	d := defaults()
	e := config.NewEnv(lookup)
	c := Config{
		Config:          base,
		CallbackTimeout: e.Duration("HOOKLINE_CALLBACK_TIMEOUT", d.CallbackTimeout),
		Concurrency:     e.Int("HOOKLINE_DISPATCHER_CONCURRENCY", d.Concurrency, 1, 4096),
		MaxAckPending:   e.Int("HOOKLINE_DISPATCHER_MAX_ACK_PENDING", d.MaxAckPending, 1, 10_000_000),
		HostConcurrency: e.Int("HOOKLINE_CALLBACK_HOST_CONCURRENCY", d.HostConcurrency, 1, 1024),
		HostBusyDelay:   e.Duration("HOOKLINE_CALLBACK_HOST_BUSY_DELAY", d.HostBusyDelay),
		BreakerFailures: e.Int("HOOKLINE_CALLBACK_BREAKER_FAILURES", d.BreakerFailures, 1, 1_000_000),
		BreakerCooldown: e.Duration("HOOKLINE_CALLBACK_BREAKER_COOLDOWN", d.BreakerCooldown),
		RetryJitter:     e.Float("HOOKLINE_CALLBACK_RETRY_JITTER", d.RetryJitter),
		MaxRetryAfter:   e.Duration("HOOKLINE_CALLBACK_MAX_RETRY_AFTER", d.MaxRetryAfter),
	}
	c.AckWait = e.Duration("HOOKLINE_DISPATCHER_ACK_WAIT", ackWaitFor(c.CallbackTimeout))
	c.AttemptsTTL = e.Duration("HOOKLINE_CALLBACK_ATTEMPTS_TTL", attemptsTTLFor(base))
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
	case !validCallbackSecret(c.CallbackSecret.Bytes()):
		return fmt.Errorf("%w: HOOKLINE_CALLBACK_SECRET: a whsec_ secret must be base64 after the prefix", config.ErrInvalid)
	case c.CallbackTimeout <= 0:
		return fmt.Errorf("%w: HOOKLINE_CALLBACK_TIMEOUT: want a positive duration", config.ErrInvalid)
	case c.AckWait < c.CallbackTimeout+ackMargin:
		return fmt.Errorf("%w: HOOKLINE_DISPATCHER_ACK_WAIT: want at least HOOKLINE_CALLBACK_TIMEOUT + %s (%s), got %s",
			config.ErrInvalid, ackMargin, c.CallbackTimeout+ackMargin, c.AckWait)
	}
	return nil
}

// attemptsTTLFor is the default AttemptsTTL: the larger of 7 days and twice the retry schedule.
func attemptsTTLFor(base *config.Config) time.Duration {
	var total time.Duration
	if base != nil {
		for _, d := range base.CallbackRetryDelays {
			total += d
		}
	}
	return max(7*24*time.Hour, 2*total)
}

// withDefaults fills zero values from defaults(), so a Config built in code (tests) works.
func (c Config) withDefaults() Config {
	d := defaults()
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fillInt := func(v *int, def int) {
		if *v < 1 {
			*v = def
		}
	}
	fill(&c.CallbackTimeout, d.CallbackTimeout)
	fill(&c.AckWait, ackWaitFor(c.CallbackTimeout))
	fillInt(&c.Concurrency, d.Concurrency)
	fillInt(&c.MaxAckPending, d.MaxAckPending)
	fillInt(&c.HostConcurrency, d.HostConcurrency)
	fill(&c.HostBusyDelay, d.HostBusyDelay)
	fillInt(&c.BreakerFailures, d.BreakerFailures)
	fill(&c.BreakerCooldown, d.BreakerCooldown)
	fill(&c.MaxRetryAfter, d.MaxRetryAfter)
	fill(&c.AttemptsTTL, attemptsTTLFor(c.Config))
	return c
}

func validCallbackSecret(secret []byte) bool {
	_, err := petstore.NewCallbackSigner(secret)
	return err == nil
}
