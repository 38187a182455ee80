// Command dispatcher delivers the orderProcessed callbacks accepted by the ingress (contract
// section 3). Configuration comes from the environment; see app.Config for the dispatcher's own
// settings.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hookline/hookline/pkg/logging"
	"github.com/hookline/hookline/services/dispatcher/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dispatcher:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := app.LoadConfig(os.LookupEnv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogLevel, "dispatcher")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr sync fails on some terminals; nothing to do about it
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, cfg, log)
}
