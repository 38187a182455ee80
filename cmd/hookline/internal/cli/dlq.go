package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookline/hookline/pkg/dlq"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go/jetstream"
)

func dlqVerbs() []verb {
	return []verb{
		{"list", "list dead letters: sequence, time, provider, tenant, reason, deliveries, event"},
		{"show", "print dead letters in full (headers and body): show <seq> …"},
		{"replay", "put dead letters back on their original subject, then delete them from the DLQ"},
		{"purge", "delete dead letters (lists them unless -yes)"},
	}
}

const dlqAbout = "Inspect and act on the DLQ stream. Filters: -provider, -tenant, -reason, sequence numbers."

func runDLQ(ctx context.Context, env Env) error {
	verb, err := pickVerb(env, "dlq", dlqAbout, dlqVerbs())
	if err != nil {
		return err
	}
	synopsis := "dlq " + verb + " [-provider P] [-tenant T] [-reason R] [-nats URL] [seq …]"
	if verb == "purge" {
		synopsis = "dlq purge [-provider P] [-tenant T] [-reason R] [-nats URL] [-yes] [seq …]"
	}
	fs := newFlags("dlq "+verb, synopsis, dlqAbout)
	natsURL := fs.String("nats", envOr(env, "NATS_URL", defaultNATS), "NATS URL (default: NATS_URL, else a running hookline dev)")
	var f dlq.Filter
	fs.StringVar(&f.Provider, "provider", "", "only this provider (petstore, bunjang, a source, or callbacks)")
	fs.StringVar(&f.Tenant, "tenant", "", "only this tenant")
	fs.StringVar(&f.Reason, "reason", "", "only this Hookline-Dlq-Reason")
	yes := new(bool)
	if verb == "purge" {
		fs.BoolVar(yes, "yes", false, "really delete (without it purge only lists what it would delete)")
	}
	args, err := parseInterleaved(env, fs, env.Args[1:])
	if err != nil {
		return err
	}
	f.Seqs = map[uint64]bool{}
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %q is not a DLQ sequence number", ErrUsage, a)
		}
		f.Seqs[n] = true
	}
	if verb == "show" && len(f.Seqs) == 0 {
		return fmt.Errorf("%w: hookline dlq show <seq> …", ErrUsage)
	}
	nc, js, err := connectJS(*natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	stream, err := js.Stream(ctx, streams.DLQ)
	if err != nil {
		return fmt.Errorf("stream %s on %s: %w", streams.DLQ, *natsURL, err)
	}
	switch verb {
	case "list":
		err = dlqList(ctx, env.Stdout, env.Stderr, stream, f)
	case "show":
		err = dlqShow(ctx, env.Stdout, stream, f)
	case "replay":
		err = dlqReplay(ctx, env.Stdout, env.Stderr, js, stream, f)
	case "purge":
		err = dlqPurge(ctx, env.Stdout, env.Stderr, stream, f, *yes)
	}
	if err != nil {
		return fmt.Errorf("on %s: %w", *natsURL, err)
	}
	return nil
}

// scanProgress reports a long scan's progress on w.
func scanProgress(w io.Writer) dlq.Progress {
	return func(scanned, total uint64) { fmt.Fprintf(w, "… %d of %d scanned\n", scanned, total) }
}

func dlqList(ctx context.Context, out, progress io.Writer, stream jetstream.Stream, f dlq.Filter) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tDEAD-LETTERED\tPROVIDER\tTENANT\tREASON\tDELIVERIES\tEVENT")
	n := 0
	err := dlq.Each(ctx, stream, f, scanProgress(progress), func(d dlq.Letter) error {
		n++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Msg.Sequence, d.Msg.Time.UTC().Format(time.RFC3339),
			d.Provider, d.Tenant, d.Reason, d.Deliveries(), d.Event())
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	fmt.Fprintf(out, "%d dead letters\n", n)
	return nil
}

func dlqShow(ctx context.Context, out io.Writer, stream jetstream.Stream, f dlq.Filter) error {
	return dlq.Each(ctx, stream, f, nil, func(d dlq.Letter) error {
		fmt.Fprintf(out, "seq %d  subject %s  stored %s\n", d.Msg.Sequence, d.Msg.Subject, d.Msg.Time.UTC().Format(time.RFC3339Nano))
		keys := make([]string, 0, len(d.Msg.Header))
		for k := range d.Msg.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(out, "  %s: %s\n", k, strings.Join(d.Msg.Header[k], ", "))
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, d.Msg.Data, "  ", "  ") == nil {
			fmt.Fprintf(out, "  %s\n\n", pretty.String())
		} else {
			fmt.Fprintf(out, "  (%d bytes, not JSON)\n\n", len(d.Msg.Data))
		}
		return nil
	})
}

// dlqReplay puts each matching dead letter back on its original subject (see dlq.Replay).
func dlqReplay(ctx context.Context, out, progress io.Writer, js jetstream.JetStream, stream jetstream.Stream, f dlq.Filter) error {
	n := 0
	err := dlq.Each(ctx, stream, f, scanProgress(progress), func(d dlq.Letter) error {
		if err := dlq.Replay(ctx, js, stream, d); err != nil {
			return err
		}
		n++
		return nil
	})
	fmt.Fprintf(out, "%d dead letters replayed\n", n)
	return err
}

func dlqPurge(ctx context.Context, out, progress io.Writer, stream jetstream.Stream, f dlq.Filter, yes bool) error {
	n := 0
	err := dlq.Each(ctx, stream, f, scanProgress(progress), func(d dlq.Letter) error {
		n++
		if !yes {
			fmt.Fprintf(out, "would delete %d (%s %s %s)\n", d.Msg.Sequence, d.Provider, d.Tenant, d.Reason)
			return nil
		}
		return dlq.Delete(ctx, stream, d)
	})
	if yes {
		fmt.Fprintf(out, "%d dead letters deleted\n", n)
	} else {
		fmt.Fprintf(out, "%d dead letters match; run again with -yes to delete them\n", n)
	}
	return err
}
