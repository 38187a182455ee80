package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderReplayedFrom marks a message put back from the DLQ by `hookline dlq replay`.
const HeaderReplayedFrom = "Hookline-Replayed-From-Dlq"

// dlqFilter selects dead letters.
type dlqFilter struct {
	provider, tenant, reason string
	seqs                     map[uint64]bool
}

// deadLetter is one DLQ message with what the filters read from it.
type deadLetter struct {
	msg      *jetstream.RawStreamMsg
	original string // the subject it was dead-lettered from
	provider string
	tenant   string
	reason   string
}

func describe(m *jetstream.RawStreamMsg) deadLetter {
	d := deadLetter{msg: m, reason: m.Header.Get(streams.HeaderDLQReason)}
	d.original = m.Header.Get(streams.HeaderDLQSubject)
	if d.original == "" {
		d.original = strings.TrimPrefix(m.Subject, "dlq.")
	}
	parts := strings.Split(d.original, ".")
	switch {
	case len(parts) == 3 && parts[0] == "webhooks":
		d.provider, d.tenant = parts[1], parts[2]
	case len(parts) == 2 && parts[0] == "callbacks":
		d.provider, d.tenant = "callbacks", parts[1]
	case len(parts) >= 3 && parts[0] == "orders":
		d.provider, d.tenant = parts[2], parts[1]
	}
	if v := m.Header.Get(streams.HeaderProvider); v != "" {
		d.provider = v
	}
	if v := m.Header.Get(streams.HeaderTenant); v != "" {
		d.tenant = v
	}
	return d
}

func (f dlqFilter) match(d deadLetter) bool {
	return (f.provider == "" || f.provider == d.provider) &&
		(f.tenant == "" || f.tenant == d.tenant) &&
		(f.reason == "" || f.reason == d.reason) &&
		(len(f.seqs) == 0 || f.seqs[d.msg.Sequence])
}

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
	var f dlqFilter
	fs.StringVar(&f.provider, "provider", "", "only this provider (petstore, bunjang, a source, or callbacks)")
	fs.StringVar(&f.tenant, "tenant", "", "only this tenant")
	fs.StringVar(&f.reason, "reason", "", "only this Hookline-Dlq-Reason")
	yes := new(bool)
	if verb == "purge" {
		fs.BoolVar(yes, "yes", false, "really delete (without it purge only lists what it would delete)")
	}
	args, err := parseInterleaved(env, fs, env.Args[1:])
	if err != nil {
		return err
	}
	f.seqs = map[uint64]bool{}
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %q is not a DLQ sequence number", ErrUsage, a)
		}
		f.seqs[n] = true
	}
	if verb == "show" && len(f.seqs) == 0 {
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

// eachDeadLetter calls fn for every matching DLQ message, oldest first, reporting progress on
// stderr for long scans.
func eachDeadLetter(ctx context.Context, progress io.Writer, stream jetstream.Stream, f dlqFilter, fn func(deadLetter) error) error {
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("dlq info: %w", err)
	}
	first, last := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	total := last - first + 1
	lastReport := time.Now()
	for seq := first; seq <= last; seq++ {
		if len(f.seqs) > 0 && !f.seqs[seq] {
			continue
		}
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted (replayed or purged)
		}
		if err != nil {
			return fmt.Errorf("dlq get %d: %w", seq, err)
		}
		if d := describe(m); f.match(d) {
			if err := fn(d); err != nil {
				return err
			}
		}
		if progress != nil && time.Since(lastReport) > time.Second {
			fmt.Fprintf(progress, "… %d of %d scanned\n", seq-first+1, total)
			lastReport = time.Now()
		}
	}
	return nil
}

func dlqList(ctx context.Context, out, progress io.Writer, stream jetstream.Stream, f dlqFilter) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tDEAD-LETTERED\tPROVIDER\tTENANT\tREASON\tDELIVERIES\tEVENT")
	n := 0
	err := eachDeadLetter(ctx, progress, stream, f, func(d deadLetter) error {
		n++
		deliveries := d.msg.Header.Get(streams.HeaderDLQDeliveries)
		if a := d.msg.Header.Get(streams.HeaderDLQAttempts); a != "" {
			deliveries = a + " attempts"
		}
		event := d.msg.Header.Get(streams.HeaderEventID)
		if event == "" {
			event = d.msg.Header.Get(streams.HeaderOrderID)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.msg.Sequence, d.msg.Time.UTC().Format(time.RFC3339),
			d.provider, d.tenant, d.reason, deliveries, event)
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

func dlqShow(ctx context.Context, out io.Writer, stream jetstream.Stream, f dlqFilter) error {
	return eachDeadLetter(ctx, nil, stream, f, func(d deadLetter) error {
		fmt.Fprintf(out, "seq %d  subject %s  stored %s\n", d.msg.Sequence, d.msg.Subject, d.msg.Time.UTC().Format(time.RFC3339Nano))
		keys := make([]string, 0, len(d.msg.Header))
		for k := range d.msg.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(out, "  %s: %s\n", k, strings.Join(d.msg.Header[k], ", "))
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, d.msg.Data, "  ", "  ") == nil {
			fmt.Fprintf(out, "  %s\n\n", pretty.String())
		} else {
			fmt.Fprintf(out, "  (%d bytes, not JSON)\n\n", len(d.msg.Data))
		}
		return nil
	})
}

// dlqReplay puts each matching dead letter back on its original subject (original body and
// headers, without the DLQ ones) and deletes it from the DLQ once the republish is acknowledged.
// The workers' dedupe makes a replay of something already applied harmless.
func dlqReplay(ctx context.Context, out, progress io.Writer, js jetstream.JetStream, stream jetstream.Stream, f dlqFilter) error {
	n := 0
	err := eachDeadLetter(ctx, progress, stream, f, func(d deadLetter) error {
		msg := nats.NewMsg(d.original)
		msg.Data = d.msg.Data
		for k, v := range d.msg.Header {
			if strings.HasPrefix(k, "Hookline-Dlq-") || strings.HasPrefix(k, "Nats-") {
				continue
			}
			msg.Header[k] = v
		}
		seq := strconv.FormatUint(d.msg.Sequence, 10)
		msg.Header.Set(HeaderReplayedFrom, seq)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := js.PublishMsg(pctx, msg, jetstream.WithMsgID("dlq-replay:"+seq)); err != nil {
			return fmt.Errorf("replay dlq %s to %s: %w", seq, d.original, err)
		}
		if err := stream.DeleteMsg(pctx, d.msg.Sequence); err != nil {
			return fmt.Errorf("replayed dlq %s but could not delete it (a second replay is deduplicated): %w", seq, err)
		}
		n++
		return nil
	})
	fmt.Fprintf(out, "%d dead letters replayed\n", n)
	return err
}

func dlqPurge(ctx context.Context, out, progress io.Writer, stream jetstream.Stream, f dlqFilter, yes bool) error {
	n := 0
	err := eachDeadLetter(ctx, progress, stream, f, func(d deadLetter) error {
		n++
		if !yes {
			fmt.Fprintf(out, "would delete %d (%s %s %s)\n", d.msg.Sequence, d.provider, d.tenant, d.reason)
			return nil
		}
		if err := stream.DeleteMsg(ctx, d.msg.Sequence); err != nil {
			return fmt.Errorf("delete dlq %d: %w", d.msg.Sequence, err)
		}
		return nil
	})
	if yes {
		fmt.Fprintf(out, "%d dead letters deleted\n", n)
	} else {
		fmt.Fprintf(out, "%d dead letters match; run again with -yes to delete them\n", n)
	}
	return err
}
