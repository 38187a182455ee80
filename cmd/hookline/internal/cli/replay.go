package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hookline/hookline/pkg/config"
	workerapp "github.com/hookline/hookline/services/worker/app"
)

// runReplay re-applies stored WEBHOOKS messages through the worker's normal path, e.g. to rebuild
// order state after Redis lost its data. Dedupe makes it safe to run more than once.
func runReplay(ctx context.Context, env Env) error {
	fs := newFlags("replay", "replay -from <seq|time|duration|all> [-publish] [-c N]",
		"Re-apply stored WEBHOOKS messages through the worker's normal path (rebuild order state after Redis\n"+
			"lost its data). Reads NATS_URL and REDIS_URL, else a running hookline dev.")
	from := fs.String("from", "", "where to start: a WEBHOOKS sequence number, an RFC 3339 time, a duration ago (e.g. 2h), or 'all'")
	publish := fs.Bool("publish", false, "also re-publish canonical events for the transitions it applies (downstream sees them again, same event ids)")
	conc := fs.Int("c", 1, "messages handled at once (1 keeps stream order)")
	if err := parseFlags(env, fs, env.Args); err != nil {
		return err
	}
	if *from == "" {
		return fmt.Errorf("%w: hookline replay -from <seq|time|duration|all> [-publish] [-c N]", ErrUsage)
	}
	o := workerapp.ReplayOptions{Publish: *publish, Concurrency: *conc}
	if err := parseFrom(*from, time.Now(), &o); err != nil {
		return err
	}
	cfg, err := workerapp.LoadConfig(func(name string) (string, bool) {
		if name == "HOOKLINE_ADMIN_ADDR" {
			return "", false // replay serves nothing
		}
		return env.Lookup(name)
	})
	if err != nil {
		return err
	}
	log, err := devLogger("warn")
	if err != nil {
		return err
	}
	start := time.Now()
	o.Progress = func(p workerapp.ReplayProgress) {
		fmt.Fprintf(env.Stderr, "replayed %d of %d (%s)\n", p.Handled, p.Total, time.Since(start).Round(time.Second))
	}
	p, err := workerapp.Replay(ctx, cfg, log.Named("replay"), o)
	if err != nil {
		return fmt.Errorf("replay (NATS %s, Redis %s): %w", cfg.Base.NATSURL, redactedURL(cfg.Base.RedisURL), err)
	}
	fmt.Fprintf(env.Stdout, "replay done: %d messages handled in %s\n", p.Handled, time.Since(start).Round(time.Millisecond))
	return nil
}

// parseFrom reads -from into o.
func parseFrom(v string, now time.Time, o *workerapp.ReplayOptions) error {
	if v == "all" {
		return nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		o.StartSeq = max(n, 1)
		return nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		o.StartTime = t
		return nil
	}
	if d, err := config.ParseDuration(v); err == nil && d > 0 {
		o.StartTime = now.Add(-d)
		return nil
	}
	return fmt.Errorf("%w: -from %q: want a sequence number, an RFC 3339 time, a duration such as 2h, or all", ErrUsage, v)
}
