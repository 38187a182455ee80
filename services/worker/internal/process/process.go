// Package process handles one WEBHOOKS message: decode the provider event, apply its transitions
// atomically in Redis, publish one canonical event per applied transition, and tell the consume
// loop what to do with the message through the returned error.
package process

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/hookline/hookline/services/worker/internal/decode"
	"github.com/hookline/hookline/services/worker/internal/events"
	"github.com/hookline/hookline/services/worker/internal/metrics"
	"github.com/hookline/hookline/services/worker/internal/orders"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ReasonMalformed is the DLQ reason of a payload that cannot be decoded.
const ReasonMalformed = "malformed_payload"

// Applier applies an event's transitions atomically and remembers what was published.
type Applier interface {
	Apply(ctx context.Context, req orders.Request) (orders.Result, error)
	MarkPublished(ctx context.Context, tenant, provider, orderID, sourceEventID string, seq uint64) error
}

var _ Applier = (*orders.Store)(nil)

// Publisher stores canonical events in the ORDERS stream.
type Publisher interface {
	Publish(ctx context.Context, msgs []*nats.Msg) error
}

var _ Publisher = (*events.Publisher)(nil)

// Options configure a Handler.
type Options struct {
	// Providers decode the messages (nil: the built-in providers); Book holds their lifecycles.
	Providers *providers.Registry
	Book      *orders.Book
	Store     Applier
	Publisher Publisher
	Metrics   *metrics.Metrics
	Log       *zap.Logger
	// Backoff gives the redelivery delay while Redis or NATS is down, by delivery number; the
	// last entry repeats. Empty means 1s.
	Backoff []time.Duration
	// OutageDLQ makes deliveries during a Redis or NATS outage count towards MaxDeliver, so a
	// message whose deliveries run out during a long outage is dead-lettered (and can be replayed
	// with `hookline dlq replay`). Without it such messages wait out any outage.
	OutageDLQ bool
	// Now is the clock for applied_at (default time.Now).
	Now func() time.Time
	// AfterApply and AfterPublish, when set, run between the steps; an error they return ends the
	// handling at once, as if the process had died there (tests simulate crashes this way).
	AfterApply   func() error
	AfterPublish func() error
	// Tracing starts the message's spans (nil: export off; the trace context still travels from
	// the WEBHOOKS message to the canonical events).
	Tracing *tracing.Tracing
}

// Handler handles WEBHOOKS messages.
type Handler struct {
	o Options
}

// New returns a handler.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Providers == nil {
		o.Providers = all.Registry()
	}
	if len(o.Backoff) == 0 {
		o.Backoff = []time.Duration{time.Second}
	}
	return &Handler{o: o}
}

// outage is the answer to a Redis or NATS failure: retry after the backoff, counted towards
// MaxDeliver or not (Options.OutageDLQ).
func (h *Handler) outage(delivered uint64, err error) error {
	if h.o.OutageDLQ {
		return consume.Retry(h.delay(delivered), err)
	}
	return consume.Unavailable(h.delay(delivered), err)
}

func (h *Handler) delay(delivered uint64) time.Duration {
	return consume.Backoff(h.o.Backoff, delivered)
}

// ReceivedAt reads Hookline-Received-At, else returns fallback (the stream's own timestamp).
func ReceivedAt(hdr nats.Header, fallback time.Time) time.Time {
	if v := hdr.Get(streams.HeaderReceivedAt); v != "" {
		if t, err := time.Parse(streams.ReceivedAtLayout, v); err == nil {
			return t
		}
	}
	return fallback
}

// Span names of one message's handling (contract section 9).
const (
	SpanProcess = "process " + streams.Webhooks
	SpanDecode  = "decode"
	SpanApply   = "apply"
	SpanPublish = "publish " + streams.Orders
)

// Outcomes of a message's span besides the record kinds (applied, stale, rejected, duplicate).
const (
	OutcomeUnknown    = "unknown" // event type not handled
	OutcomeMixed      = "mixed"   // items with different kinds
	OutcomeRetry      = "retry"
	OutcomeDeadLetter = "dead_letter"
	OutcomeError      = "error"
)

// Handle handles one message. nil means ack; see package consume for the errors. Its span
// continues the message's traceparent (the ingress's publish span); each canonical event it
// publishes carries a traceparent of the same trace.
func (h *Handler) Handle(ctx context.Context, msg jetstream.Msg) error {
	ctx, span := h.o.Tracing.StartFrom(ctx, tracing.NATSCarrier(msg.Headers()), SpanProcess, trace.SpanKindConsumer)
	defer span.End()
	var info spanInfo
	err := h.handle(ctx, msg, &info)
	if span.IsRecording() {
		info.record(span, err)
	}
	return err
}

// spanInfo is what a message's span learns on the way.
type spanInfo struct {
	provider, tenant, eventID, orderID string
	seq, deliveries                    uint64
	outcome                            string
	canonical                          []string
}

func (in *spanInfo) record(span trace.Span, err error) {
	var retry *consume.RetryError
	var dead *consume.DeadLetterError
	switch {
	case errors.As(err, &dead):
		in.outcome = OutcomeDeadLetter
	case errors.As(err, &retry):
		in.outcome = OutcomeRetry
	case err != nil:
		in.outcome = OutcomeError
	}
	span.SetAttributes(tracing.AttrMessagingSystem.String("nats"), tracing.AttrMessagingDest.String(streams.Webhooks))
	for _, kv := range []attribute.KeyValue{tracing.AttrProvider.String(in.provider), tracing.AttrTenant.String(in.tenant),
		tracing.AttrEventID.String(in.eventID), tracing.AttrOrderID.String(in.orderID), tracing.AttrOutcome.String(in.outcome)} {
		if kv.Value.AsString() != "" {
			span.SetAttributes(kv)
		}
	}
	if in.seq > 0 {
		span.SetAttributes(tracing.AttrStreamSequence.Int64(int64(in.seq)), tracing.AttrDeliveries.Int64(int64(in.deliveries))) //nolint:gosec // they fit
	}
	if len(in.canonical) > 0 {
		span.SetAttributes(tracing.AttrCanonicalEventID.StringSlice(in.canonical))
	}
	tracing.Fail(span, err)
}

func (h *Handler) handle(ctx context.Context, msg jetstream.Msg, info *spanInfo) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("message metadata: %w", err)
	}
	info.seq, info.deliveries = meta.Sequence.Stream, meta.NumDelivered
	provider, tenant, err := streams.ParseWebhookSubject(msg.Subject())
	if err != nil {
		return consume.DeadLetter(ReasonMalformed, err, nil)
	}
	info.provider, info.tenant = provider, tenant
	hdr := msg.Headers()
	receivedAt := ReceivedAt(hdr, meta.Timestamp)
	info.eventID = hdr.Get(streams.HeaderEventID)
	_, dspan := h.o.Tracing.Start(ctx, SpanDecode, trace.SpanKindInternal)
	ev, err := decode.Decode(h.o.Providers.For(provider), decode.Input{
		Provider: provider, Tenant: tenant, EventID: info.eventID,
		EventType: hdr.Get(streams.HeaderEventType), Body: msg.Data(), Fallback: receivedAt,
	})
	if !errors.Is(err, decode.ErrUnhandled) {
		tracing.Fail(dspan, err)
	}
	dspan.End()
	switch {
	case errors.Is(err, decode.ErrUnhandled):
		info.outcome = OutcomeUnknown
		h.o.Metrics.Outcomes.WithLabelValues(provider, metrics.KindUnknown).Inc()
		h.o.Log.Debug("event type not handled, acked", zap.String("provider", provider), zap.String("tenant", tenant),
			zap.String("event_id", hdr.Get(streams.HeaderEventID)), zap.Uint64("seq", meta.Sequence.Stream), zap.Error(err))
		return nil
	case err != nil:
		return consume.DeadLetter(ReasonMalformed, err, nil)
	}

	info.orderID = ev.OrderID
	if ev.SourceEventID != "" {
		info.eventID = ev.SourceEventID
	}
	lc := h.o.Book.For(provider)
	req := orders.Request{
		Tenant: tenant, Provider: provider, OrderID: ev.OrderID, SourceEventID: ev.SourceEventID,
		Items: ev.Changes[0].ItemID != "", Seq: meta.Sequence.Stream, ReceivedAt: receivedAt, AppliedAt: h.o.Now(),
		Units: make([]orders.Unit, len(ev.Changes)),
	}
	for i, c := range ev.Changes {
		req.Units[i] = orders.Unit{ItemID: c.ItemID, Status: lc.Resolve(c.Status), OccurredAt: ev.OccurredAt}
		// Belt and braces behind the envelope parser: nothing that cannot become a canonical event
		// reaches the apply step, or the order would change without its event.
		if err := events.Check(events.Source{
			Tenant: tenant, Provider: provider, OrderID: ev.OrderID, SourceEventID: ev.SourceEventID,
			ItemID: c.ItemID, OccurredAt: ev.OccurredAt, ReceivedAt: receivedAt,
		}, req.Units[i].Status.Name); err != nil {
			return consume.DeadLetter(ReasonMalformed, err, nil)
		}
	}
	actx, aspan := h.o.Tracing.Start(ctx, SpanApply, trace.SpanKindInternal)
	res, err := h.o.Store.Apply(actx, req)
	tracing.Fail(aspan, err)
	if aspan.IsRecording() && err == nil {
		for _, out := range res.Outcomes {
			kind := string(out.Record.Kind)
			if out.Recorded {
				kind = metrics.KindDuplicate
			}
			aspan.AddEvent("unit", trace.WithAttributes(tracing.AttrItemID.String(out.ItemID), tracing.AttrOutcome.String(kind),
				tracing.AttrVersion.Int64(out.Record.Version)))
		}
	}
	aspan.End()
	if err != nil {
		if errors.Is(err, orders.ErrUnavailable) {
			return h.outage(meta.NumDelivered, err)
		}
		return err
	}
	if h.o.AfterApply != nil {
		if err := h.o.AfterApply(); err != nil {
			return err
		}
	}

	var msgs []*nats.Msg
	for i, out := range res.Outcomes {
		rec := out.Record
		switch {
		case out.Recorded:
			h.o.Metrics.Outcomes.WithLabelValues(provider, metrics.KindDuplicate).Inc()
			info.addOutcome(metrics.KindDuplicate)
		default:
			h.o.Metrics.Outcomes.WithLabelValues(provider, string(rec.Kind)).Inc()
			info.addOutcome(string(rec.Kind))
			if st := req.Units[i].Status; !st.Known {
				h.o.Metrics.UnknownStatus.WithLabelValues(provider).Inc()
				h.o.Log.Info("status outside the lifecycle, kept as UNSPECIFIED", zap.String("provider", provider),
					zap.String("tenant", tenant), zap.String("event_id", ev.SourceEventID), zap.String("order_id", ev.OrderID),
					zap.String("item_id", out.ItemID), zap.String("status", st.Name), zap.String("outcome", string(rec.Kind)))
			}
		}
		// Publish what this message applied: now, or again after a crash before the ack (the same
		// Nats-Msg-Id makes JetStream drop a copy). A duplicate from another message publishes
		// nothing.
		if rec.Kind != orders.Applied || rec.Seq != req.Seq || (out.Recorded && res.PublishedSeq == req.Seq) {
			continue
		}
		m, err := events.Msg(events.Build(events.Source{
			Tenant: tenant, Provider: provider, OrderID: ev.OrderID, SourceEventID: ev.SourceEventID,
			ItemID: out.ItemID, OccurredAt: ev.OccurredAt, ReceivedAt: receivedAt,
		}, events.Applied{
			PreviousStatus: rec.PreviousStatus, PreviousCanonical: rec.PreviousCanonical,
			Status: rec.Status, Canonical: rec.Canonical, Version: rec.Version, Skipped: rec.Skipped,
			AppliedAt: rec.AppliedAt, Seq: rec.Seq,
		}))
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		pctx, pspan := h.o.Tracing.Start(ctx, SpanPublish, trace.SpanKindProducer)
		for _, m := range msgs {
			tracing.Inject(pctx, m.Header) // each canonical event continues the webhook's trace
			if pspan.IsRecording() {
				info.canonical = append(info.canonical, m.Header.Get(streams.HeaderMsgID))
			}
		}
		err := h.o.Publisher.Publish(pctx, msgs)
		if pspan.IsRecording() {
			pspan.SetAttributes(tracing.AttrMessagingSystem.String("nats"), tracing.AttrMessagingDest.String(streams.Orders),
				tracing.AttrCanonicalEventID.StringSlice(info.canonical))
			tracing.Fail(pspan, err)
		}
		pspan.End()
		if err != nil {
			return h.outage(meta.NumDelivered, err)
		}
		if h.o.AfterPublish != nil {
			if err := h.o.AfterPublish(); err != nil {
				return err
			}
		}
		// Best effort: without the marker a redelivery publishes again, and JetStream's duplicate
		// window drops the copy.
		if err := h.o.Store.MarkPublished(ctx, tenant, provider, ev.OrderID, ev.SourceEventID, req.Seq); err != nil {
			h.o.Log.Warn("mark published", zap.String("provider", provider), zap.String("tenant", tenant),
				zap.String("event_id", ev.SourceEventID), zap.Error(err))
		}
	}
	if ce := h.o.Log.Check(zapcore.DebugLevel, "event handled"); ce != nil {
		ce.Write(zap.String("provider", provider), zap.String("tenant", tenant), zap.String("event_id", ev.SourceEventID),
			zap.String("order_id", ev.OrderID), zap.Uint64("seq", req.Seq), zap.Int("published", len(msgs)))
	}
	return nil
}

// addOutcome folds one unit's kind into the message's outcome: the kind when every unit has the
// same, else mixed.
func (in *spanInfo) addOutcome(kind string) {
	switch in.outcome {
	case "", kind:
		in.outcome = kind
	default:
		in.outcome = OutcomeMixed
	}
}
