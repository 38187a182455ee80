package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelp is returned once a command printed the help it was asked for; Run answers nil.
var errHelp = errors.New("help printed")

// isHelp reports whether arg asks for help instead of naming a verb.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// newFlags returns a flag set whose usage starts with "usage: hookline <synopsis>" and a short
// description, then lists the flags.
func newFlags(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: hookline %s\n\n%s\n", synopsis, about)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args: -h prints the usage on stdout and returns errHelp; a bad flag prints
// the error and the usage on stderr and returns ErrUsage.
func parseFlags(env Env, fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(env.Stdout)
		fs.Usage()
		return errHelp
	case err != nil:
		fs.SetOutput(env.Stderr)
		fmt.Fprintln(env.Stderr, err)
		fs.Usage()
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return nil
}

// parseInterleaved parses flags that may come before or after positional arguments.
func parseInterleaved(env Env, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(env, fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// verb is one sub-command of a command with verbs (dlq, orders, bench).
type verb struct {
	name, summary string
}

// verbUsage writes the usage of a command with verbs.
func verbUsage(w io.Writer, cmd, about string, verbs []verb) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: hookline %s <verb> [flags]\n\n%s\n\nverbs:\n", cmd, about)
	for _, v := range verbs {
		fmt.Fprintf(&b, "  %-13s %s\n", v.name, v.summary)
	}
	fmt.Fprintf(&b, "\nRun 'hookline %s <verb> -h' for a verb's flags.\n", cmd)
	_, _ = io.WriteString(w, b.String()) // usage text to a terminal
}

// pickVerb reads the verb of a command with verbs before anything connects: no verb or an
// unknown one prints the usage on stderr (ErrUsage), -h prints it on stdout (errHelp).
func pickVerb(env Env, cmd, about string, verbs []verb) (string, error) {
	if len(env.Args) > 0 && isHelp(env.Args[0]) {
		verbUsage(env.Stdout, cmd, about, verbs)
		return "", errHelp
	}
	if len(env.Args) > 0 {
		for _, v := range verbs {
			if v.name == env.Args[0] {
				return v.name, nil
			}
		}
	}
	verbUsage(env.Stderr, cmd, about, verbs)
	if len(env.Args) == 0 {
		return "", fmt.Errorf("%w: hookline %s needs a verb", ErrUsage, cmd)
	}
	return "", fmt.Errorf("%w: unknown %s verb %q", ErrUsage, cmd, env.Args[0])
}
