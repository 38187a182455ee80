// Package cli implements the hookline operator commands.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hookline/hookline/pkg/config"
)

// Where the CLI looks when neither a variable, a flag nor a running `hookline dev` says.
const (
	defaultNATS    = config.DefaultNATSURL
	defaultIngress = "http://127.0.0.1:8080"
	defaultWorker  = "http://127.0.0.1:9091"
)

// ErrUsage is returned for a command line that cannot be run; the message says why.
var ErrUsage = errors.New("usage")

// Env is what a command sees of the process.
type Env struct {
	Args   []string
	Stdout io.Writer
	Stderr io.Writer
	Lookup func(string) (string, bool)
	// Dir is the working directory, where the CLI looks for a running `hookline dev`'s state
	// file (.hookline/dev.json here or in a parent); empty: nowhere.
	Dir string
	// Program is how the user ran this CLI (bin/hookline), for the commands the dev banner
	// prints; empty: hookline.
	Program string
}

type command struct {
	summary string
	run     func(ctx context.Context, env Env) error
}

func commands() map[string]command {
	return map[string]command{
		"bench":        {"send signed webhooks at a fixed rate or concurrency and report latency", runBench},
		"bench-target": {"serve a baseline to compare against: bare echo handler or minimal reference handler", runBenchTarget},
		"dev":          {"run the whole pipeline in one process (embedded NATS unless NATS_URL is set)", runDev},
		"replay":       {"re-apply stored webhooks through the worker path (rebuild state): replay -from <seq|time|all>", runReplay},
		"verify":       {"compare a bench run's oracle with the query API and ORDERS: lost, duplicated, wrong state", runVerify},
		"send":         {"sign and send a sample or given webhook: send petstore|bunjang|standard", runSend},
		"orders":       {"read order state from the worker's query API: orders get <provider> <orderId>", runOrders},
		"events":       {"follow the canonical order events on ORDERS as JSON lines: events tail", runEvents},
		"dlq":          {"inspect and act on dead letters: dlq list|show|replay|purge", runDLQ},
	}
}

// Run dispatches env.Args[0].
func Run(ctx context.Context, env Env) error {
	cmds := commands()
	if len(env.Args) == 0 || env.Args[0] == "help" || env.Args[0] == "-h" || env.Args[0] == "--help" {
		usage(env.Stdout, cmds)
		return nil
	}
	c, ok := cmds[env.Args[0]]
	if !ok {
		usage(env.Stderr, cmds)
		return fmt.Errorf("%w: unknown command %q", ErrUsage, env.Args[0])
	}
	sub := env
	sub.Args = env.Args[1:]
	if env.Args[0] != "dev" { // dev writes the state file; everything else may read it
		sub.Lookup = withDevState(env)
	}
	if err := c.run(ctx, sub); !errors.Is(err, errHelp) {
		return err
	}
	return nil
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: hookline <command> [flags]\n\nOperate the Hookline webhook pipeline.\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-13s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'hookline <command> -h' for a command's flags.\n")
	_, _ = io.WriteString(w, b.String()) // usage text to a terminal
}
