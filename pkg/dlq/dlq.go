// Package dlq reads and acts on the DLQ stream: list dead letters by provider, tenant, reason or
// sequence, replay them to their original subject, delete them. `hookline dlq` and the worker's
// web console share it, so both select and replay exactly the same way.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderReplayedFrom marks a message put back from the DLQ by a replay: the DLQ sequence.
const HeaderReplayedFrom = "Hookline-Replayed-From-Dlq"

// replayTimeout bounds one replay's publish and delete.
const replayTimeout = 10 * time.Second

// Filter selects dead letters; zero fields select everything.
type Filter struct {
	Provider, Tenant, Reason string
	// Seqs, when not empty, selects only these DLQ sequences.
	Seqs map[uint64]bool
}

// Letter is one DLQ message with what the filters read from it.
type Letter struct {
	Msg      *jetstream.RawStreamMsg
	Original string // the subject it was dead-lettered from
	Provider string
	Tenant   string
	Reason   string
}

// Describe reads a DLQ message's original subject, provider, tenant and reason.
func Describe(m *jetstream.RawStreamMsg) Letter {
	d := Letter{Msg: m, Reason: m.Header.Get(streams.HeaderDLQReason)}
	d.Original = m.Header.Get(streams.HeaderDLQSubject)
	if d.Original == "" {
		d.Original = strings.TrimPrefix(m.Subject, "dlq.")
	}
	parts := strings.Split(d.Original, ".")
	switch {
	case len(parts) == 3 && parts[0] == "webhooks":
		d.Provider, d.Tenant = parts[1], parts[2]
	case len(parts) == 2 && parts[0] == "callbacks":
		d.Provider, d.Tenant = "callbacks", parts[1]
	case len(parts) >= 3 && parts[0] == "orders":
		d.Provider, d.Tenant = parts[2], parts[1]
	}
	if v := m.Header.Get(streams.HeaderProvider); v != "" {
		d.Provider = v
	}
	if v := m.Header.Get(streams.HeaderTenant); v != "" {
		d.Tenant = v
	}
	return d
}

// Match reports whether f selects d.
func (f Filter) Match(d Letter) bool {
	return (f.Provider == "" || f.Provider == d.Provider) &&
		(f.Tenant == "" || f.Tenant == d.Tenant) &&
		(f.Reason == "" || f.Reason == d.Reason) &&
		(len(f.Seqs) == 0 || f.Seqs[d.Msg.Sequence])
}

// Deliveries is what the list shows as deliveries: the worker's delivery count, or the
// dispatcher's attempts.
func (d Letter) Deliveries() string {
	if a := d.Msg.Header.Get(streams.HeaderDLQAttempts); a != "" {
		return a + " attempts"
	}
	return d.Msg.Header.Get(streams.HeaderDLQDeliveries)
}

// Event is the event id the letter carries, else its order id.
func (d Letter) Event() string {
	if e := d.Msg.Header.Get(streams.HeaderEventID); e != "" {
		return e
	}
	return d.Msg.Header.Get(streams.HeaderOrderID)
}

// Progress is told, about once a second during a long scan, how many sequences were scanned of
// how many.
type Progress func(scanned, total uint64)

// Each calls fn for every dead letter f selects, oldest first. progress may be nil.
func Each(ctx context.Context, stream jetstream.Stream, f Filter, progress Progress, fn func(Letter) error) error {
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
		if len(f.Seqs) > 0 && !f.Seqs[seq] {
			continue
		}
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted (replayed or purged)
		}
		if err != nil {
			return fmt.Errorf("dlq get %d: %w", seq, err)
		}
		if d := Describe(m); f.Match(d) {
			if err := fn(d); err != nil {
				return err
			}
		}
		if progress != nil && time.Since(lastReport) > time.Second {
			progress(seq-first+1, total)
			lastReport = time.Now()
		}
	}
	return nil
}

// Replay puts d back on its original subject (original body and headers, without the DLQ ones,
// plus HeaderReplayedFrom) and deletes it from the DLQ once the republish is acknowledged. The
// publish is deduplicated by DLQ sequence, so replaying twice publishes once; the workers' dedupe
// makes a replay of something already applied harmless.
func Replay(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, d Letter) error {
	msg := nats.NewMsg(d.Original)
	msg.Data = d.Msg.Data
	for k, v := range d.Msg.Header {
		if strings.HasPrefix(k, "Hookline-Dlq-") || strings.HasPrefix(k, "Nats-") {
			continue
		}
		msg.Header[k] = v
	}
	seq := strconv.FormatUint(d.Msg.Sequence, 10)
	msg.Header.Set(HeaderReplayedFrom, seq)
	pctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	if _, err := js.PublishMsg(pctx, msg, jetstream.WithMsgID("dlq-replay:"+seq)); err != nil {
		return fmt.Errorf("replay dlq %s to %s: %w", seq, d.Original, err)
	}
	if err := stream.DeleteMsg(pctx, d.Msg.Sequence); err != nil {
		return fmt.Errorf("replayed dlq %s but could not delete it (a second replay is deduplicated): %w", seq, err)
	}
	return nil
}

// Delete removes d from the DLQ.
func Delete(ctx context.Context, stream jetstream.Stream, d Letter) error {
	if err := stream.DeleteMsg(ctx, d.Msg.Sequence); err != nil {
		return fmt.Errorf("delete dlq %d: %w", d.Msg.Sequence, err)
	}
	return nil
}
