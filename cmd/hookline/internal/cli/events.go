package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	workerapp "github.com/hookline/hookline/services/worker/app"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const eventsAbout = "Follow the canonical order events on the ORDERS stream."

// tailLine is one line `hookline events tail` prints: where the event sits in ORDERS, and the
// event in the protobuf JSON mapping (camelCase field names, enum names, int64 as strings,
// RFC 3339 timestamps, every field present).
type tailLine struct {
	StreamSequence uint64          `json:"streamSequence"`
	Subject        string          `json:"subject"`
	StoredAt       string          `json:"storedAt"`
	Event          json.RawMessage `json:"event"` // re-compacted by encoding/json: one line
}

// tailOptions is what `events tail` was asked for.
type tailOptions struct {
	subject string // ORDERS filter subject
	orderID string // client-side filter; "" = all
	limit   int    // stop after this many printed events; 0 = never
	cfg     jetstream.OrderedConsumerConfig
}

func runEvents(ctx context.Context, env Env) error {
	if _, err := pickVerb(env, "events", eventsAbout, []verb{
		{"tail", "print each canonical event as one JSON line, as it arrives"},
	}); err != nil {
		return err
	}
	fs := newFlags("events tail", "events tail [-tenant T] [-provider P] [-order ID] [-from <seq|time|duration|all>] [-n N] [-nats URL]",
		eventsAbout+" Prints one JSON line per event:\n"+
			`{"streamSequence":N,"subject":"orders.<tenant>.<provider>.status_changed","storedAt":"<RFC 3339>","event":{…}}`+"\n"+
			"with the event in the protobuf JSON mapping (camelCase names, enum names, int64 as strings).\n"+
			"Uses an ordered (ephemeral) consumer: nothing is acknowledged and no durable is left behind.")
	natsURL := fs.String("nats", envOr(env, "NATS_URL", defaultNATS), "NATS URL (default: NATS_URL, else a running hookline dev)")
	tenant := fs.String("tenant", "", "only this tenant (subject filter)")
	provider := fs.String("provider", "", "only this provider (subject filter)")
	order := fs.String("order", "", "only this order id (filtered here, after decoding)")
	from := fs.String("from", "", "where to start: an ORDERS sequence number, an RFC 3339 time, a duration ago (e.g. 10m), or 'all' (default: new events only)")
	limit := fs.Int("n", 0, "stop after printing N events (0: follow until interrupted)")
	if err := parseFlags(env, fs, env.Args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: events tail takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if *limit < 0 {
		return fmt.Errorf("%w: -n %d: want 0 or more", ErrUsage, *limit)
	}
	o := tailOptions{orderID: *order, limit: *limit}
	var err error
	if o.subject, err = tailSubject(*tenant, *provider); err != nil {
		return err
	}
	if o.cfg, err = tailStart(*from, time.Now()); err != nil {
		return err
	}
	o.cfg.FilterSubjects = []string{o.subject}
	o.cfg.InactiveThreshold = 30 * time.Second // a killed tail leaves its consumer for 30s at most

	nc, js, err := connectJS(*natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := tailEvents(ctx, env, js, o); err != nil {
		return fmt.Errorf("events tail on %s: %w", *natsURL, err)
	}
	return nil
}

// tailSubject is the ORDERS filter subject for a tenant and provider ("" or "*": any).
func tailSubject(tenant, provider string) (string, error) {
	tok := func(flag, v string) (string, error) {
		if v == "" || v == "*" {
			return "*", nil
		}
		if !streams.ValidToken(v) {
			return "", fmt.Errorf("%w: -%s %q: want a name of letters, digits, '-' and '_'", ErrUsage, flag, v)
		}
		return v, nil
	}
	t, err := tok("tenant", tenant)
	if err != nil {
		return "", err
	}
	p, err := tok("provider", provider)
	if err != nil {
		return "", err
	}
	return streams.OrderSubject(t, p), nil
}

// tailStart reads -from: empty is new events only; otherwise the replay command's forms.
func tailStart(from string, now time.Time) (jetstream.OrderedConsumerConfig, error) {
	if from == "" {
		return jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}, nil
	}
	var o workerapp.ReplayOptions
	if err := parseFrom(from, now, &o); err != nil {
		return jetstream.OrderedConsumerConfig{}, err
	}
	switch {
	case o.StartSeq > 0:
		return jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: o.StartSeq}, nil
	case !o.StartTime.IsZero():
		t := o.StartTime
		return jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &t}, nil
	}
	return jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}, nil
}

// tailEvents follows ORDERS until ctx ends or o.limit events were printed. Once the consumer
// exists it says so on stderr, so a caller knows new events from then on will be seen.
func tailEvents(ctx context.Context, env Env, js jetstream.JetStream, o tailOptions) error {
	c, err := js.OrderedConsumer(ctx, streams.Orders, o.cfg)
	if err != nil {
		return fmt.Errorf("consumer on %s: %w", streams.Orders, err)
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", streams.Orders, err)
	}
	defer func() {
		it.Stop()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		// Ordered consumers expire on their own; deleting it now leaves nothing behind.
		if info := c.CachedInfo(); info != nil {
			_ = js.DeleteConsumer(dctx, streams.Orders, info.Name) // best effort: it expires anyway
		}
	}()
	fmt.Fprintf(env.Stderr, "following %s (%s)\n", streams.Orders, o.subject)
	printed := 0
	for o.limit == 0 || printed < o.limit {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted: a normal end
			}
			return fmt.Errorf("next event: %w", err)
		}
		ok, err := printEvent(env.Stdout, env.Stderr, m, o.orderID)
		if err != nil {
			return err
		}
		if ok {
			printed++
		}
	}
	return nil
}

// printEvent writes m as a tail line when it is a canonical event of the wanted order; a message
// that is not one is reported on stderr and skipped.
func printEvent(out, warn io.Writer, m jetstream.Msg, orderID string) (bool, error) {
	meta, err := m.Metadata()
	if err != nil {
		return false, fmt.Errorf("message metadata: %w", err)
	}
	var ev ordersv1.OrderStatusChanged
	if err := proto.Unmarshal(m.Data(), &ev); err != nil || ev.GetEventId() == "" {
		fmt.Fprintf(warn, "seq %d on %s: not a canonical event (%d bytes), skipped\n", meta.Sequence.Stream, m.Subject(), len(m.Data()))
		return false, nil //nolint:nilerr // not a canonical event: warned about and skipped, the tail goes on
	}
	if orderID != "" && ev.GetOrderId() != orderID {
		return false, nil
	}
	// The JSON mapping of the event: proto JSON names, every field present.
	body, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(&ev)
	if err != nil {
		return false, fmt.Errorf("event %s as JSON: %w", ev.GetEventId(), err)
	}
	line, err := json.Marshal(tailLine{StreamSequence: meta.Sequence.Stream, Subject: m.Subject(),
		StoredAt: meta.Timestamp.UTC().Format(time.RFC3339Nano), Event: body})
	if err != nil {
		return false, fmt.Errorf("event %s as JSON: %w", ev.GetEventId(), err)
	}
	if _, err := fmt.Fprintf(out, "%s\n", line); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	return true, nil
}
