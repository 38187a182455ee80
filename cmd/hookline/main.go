// Command hookline is the Hookline operator CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hookline/hookline/cmd/hookline/internal/cli"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hookline:", err)
		if errors.Is(err, cli.ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, _ := os.Getwd() // without it the CLI only misses a dev state file
	return cli.Run(ctx, cli.Env{Args: os.Args[1:], Stdout: os.Stdout, Stderr: os.Stderr, Lookup: os.LookupEnv,
		Dir: dir, Program: program(os.Args[0])})
}

// program is how to run this binary again, as the dev banner prints it: the path it was started
// by (bin/hookline), `hookline` when found on PATH, or `go run ./cmd/hookline` under go run.
func program(arg0 string) string {
	switch {
	case strings.Contains(arg0, "go-build"):
		return "go run ./cmd/hookline"
	case !strings.ContainsRune(arg0, filepath.Separator):
		return "hookline"
	}
	return arg0
}
