// Command worker consumes inbound webhooks from the WEBHOOKS stream, applies order status
// transitions in Redis exactly once, publishes canonical OrderStatusChanged events to ORDERS and
// serves the order query API on its admin port.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hookline/hookline/pkg/logging"
	"github.com/hookline/hookline/services/worker/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := app.LoadConfig(os.LookupEnv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.Base.LogLevel, "worker")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr cannot always sync; nothing to do about it
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, cfg, log)
}
