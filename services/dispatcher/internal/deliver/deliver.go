// Package deliver sends the orderProcessed callback of one CALLBACKS message (contract section 3):
// it builds the body and both signatures, makes one HTTP attempt, and tells the consume loop what
// to do next (ack, NakWithDelay on the retry schedule, or dead-letter).
//
// Attempts are counted in a JetStream key-value bucket (AttemptStore), keyed by the message's
// stream sequence: JetStream's delivery count also counts redeliveries that made no HTTP attempt
// (a host at its limit, an open breaker, a crash), so it cannot drive the schedule. Nothing waits
// in memory: every retry and deferral is a NakWithDelay.
package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/safedial"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// EventType is the callback's eventType.
const EventType = "order.processed"

// DLQ reasons.
const (
	ReasonExhausted      = "exhausted"
	ReasonGone           = "gone"
	ReasonPermanent      = "permanent"
	ReasonRedirect       = "redirect"
	ReasonForbidden      = "forbidden_destination"
	ReasonInvalidMessage = "invalid_message"
)

// Attempt outcomes (metric label).
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry"
	OutcomeDead      = "dead_letter"
)

// ErrInvalidMessage marks a CALLBACKS message the dispatcher cannot deliver at all.
var ErrInvalidMessage = errors.New("invalid callback message")

// Options configure a Deliverer.
type Options struct {
	Secret   []byte // HOOKLINE_CALLBACK_SECRET
	Schedule Schedule
	// MaxRetryAfter caps a receiver's Retry-After (default 24h).
	MaxRetryAfter time.Duration
	Sender        Sender
	Store         AttemptStore
	Hosts         *Hosts
	Metrics       *Metrics
	Log           *zap.Logger
	Now           func() time.Time
	// Tracing starts a span per delivery and per HTTP attempt (nil: export off; the CALLBACKS
	// message's trace context still reaches the callback's traceparent header).
	Tracing *tracing.Tracing
}

// Deliverer handles CALLBACKS messages for the consume loop.
type Deliverer struct {
	o      Options
	signer *petstore.CallbackSigner

	mu       sync.Mutex
	inflight map[uint64]struct{}
}

// DefaultMaxRetryAfter caps a receiver's Retry-After when Options.MaxRetryAfter is zero.
const DefaultMaxRetryAfter = 24 * time.Hour

// New returns a Deliverer. The secret must be a valid callback secret (petstore.NewCallbackSigner;
// Config.Validate checks it at start).
func New(o Options) (*Deliverer, error) {
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	signer, err := petstore.NewCallbackSigner(o.Secret)
	if err != nil {
		return nil, fmt.Errorf("callback secret: %w", err)
	}
	return &Deliverer{o: o, signer: signer, inflight: map[uint64]struct{}{}}, nil
}

// Event is the orderProcessed callback body.
type Event struct {
	EventID   string    `json:"eventId"`
	EventType string    `json:"eventType"`
	Timestamp string    `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData is the callback's data object.
type EventData struct {
	OrderID          string `json:"orderId"`
	Amount           string `json:"amount"`
	Currency         string `json:"currency"`
	RequestTimestamp string `json:"requestTimestamp"`
}

// BuildEvent returns the callback for req. Everything in it derives from req, so every attempt,
// across retries and restarts, sends the same bytes; streamTime stands in for a missing receivedAt.
func BuildEvent(req streams.CallbackRequest, streamTime time.Time) Event {
	at, err := time.Parse(streams.ReceivedAtLayout, req.ReceivedAt)
	if err != nil {
		at = streamTime
	}
	return Event{
		EventID:   streams.CallbackEventID(req.TenantID, req.OrderID, req.Timestamp),
		EventType: EventType,
		Timestamp: at.UTC().Format(time.RFC3339),
		Data: EventData{
			OrderID:          req.OrderID,
			Amount:           req.Amount,
			Currency:         req.Currency,
			RequestTimestamp: req.Timestamp,
		},
	}
}

// Headers returns the signed headers for body sent at now (petstore.CallbackSigner: the Petstore
// signature and the Standard Webhooks trio).
func (d *Deliverer) Headers(eventID string, body []byte, now time.Time) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	d.signer.Sign(h, eventID, body, now)
	return h
}

// Span names (contract section 9): one span per delivery of a CALLBACKS message, and a client
// span per HTTP attempt, whose context is the callback's traceparent.
const (
	SpanDeliver = "deliver " + streams.Callbacks
	SpanAttempt = http.MethodPost
)

// OutcomeDeferred is a delivery's outcome when no attempt was made (host busy, breaker open, an
// attempt already in flight, the attempt store unreachable).
const OutcomeDeferred = "deferred"

// Handle is the consume.Handler for CALLBACKS. Its span continues the message's traceparent
// (the ingress's publish span).
func (d *Deliverer) Handle(ctx context.Context, msg jetstream.Msg) error {
	ctx, span := d.o.Tracing.StartFrom(ctx, tracing.NATSCarrier(msg.Headers()), SpanDeliver, trace.SpanKindConsumer)
	defer span.End()
	var info spanInfo
	err := d.handle(ctx, msg, &info)
	if span.IsRecording() {
		info.record(span, err)
	}
	return err
}

// spanInfo is what a delivery's span learns on the way.
type spanInfo struct {
	tenant, orderID, eventID, outcome string
	seq                               uint64
	attempt                           int
}

func (in *spanInfo) record(span trace.Span, err error) {
	var dead *consume.DeadLetterError
	switch {
	case in.outcome != "": // deferred
	case err == nil:
		in.outcome = OutcomeDelivered
	case errors.As(err, &dead):
		in.outcome = OutcomeDead
	default:
		in.outcome = OutcomeRetry
	}
	span.SetAttributes(tracing.AttrMessagingSystem.String("nats"), tracing.AttrMessagingDest.String(streams.Callbacks),
		tracing.AttrOutcome.String(in.outcome))
	for _, kv := range []attribute.KeyValue{tracing.AttrTenant.String(in.tenant), tracing.AttrOrderID.String(in.orderID),
		tracing.AttrEventID.String(in.eventID)} {
		if kv.Value.AsString() != "" {
			span.SetAttributes(kv)
		}
	}
	if in.seq > 0 {
		span.SetAttributes(tracing.AttrStreamSequence.Int64(int64(in.seq))) //nolint:gosec // a stream sequence fits
	}
	if in.attempt > 0 {
		span.SetAttributes(tracing.AttrAttempt.Int(in.attempt))
	}
	if in.outcome == OutcomeDead {
		tracing.Fail(span, err)
	}
}

func (d *Deliverer) handle(ctx context.Context, msg jetstream.Msg, info *spanInfo) error {
	meta, err := msg.Metadata()
	if err != nil {
		return consume.Retry(time.Second, fmt.Errorf("message metadata: %w", err))
	}
	seq := meta.Sequence.Stream
	info.seq = seq
	req, target, err := parse(msg.Data())
	if err != nil {
		d.o.Metrics.DeadLetters.WithLabelValues(ReasonInvalidMessage).Inc()
		return consume.DeadLetter(ReasonInvalidMessage, err, map[string]string{
			streams.HeaderDLQAttempts: "0", streams.HeaderDLQLastStatus: "0",
		})
	}
	log := d.o.Log.With(zap.Uint64("seq", seq), zap.String("tenant", req.TenantID), zap.String("order_id", req.OrderID))
	info.tenant, info.orderID = req.TenantID, req.OrderID
	info.eventID = streams.CallbackEventID(req.TenantID, req.OrderID, req.Timestamp)

	// One attempt at a time per message, even if the server redelivers while one runs.
	if !d.claim(seq) {
		info.outcome = OutcomeDeferred
		d.o.Metrics.Deferrals.WithLabelValues("in_flight").Inc()
		return consume.Retry(d.o.Hosts.o.BusyDelay, ErrInFlight)
	}
	defer d.release(seq)

	host := strings.ToLower(target.Host)
	if wait, err := d.o.Hosts.Acquire(host, d.o.Now()); err != nil {
		reason := "host_busy"
		if errors.Is(err, ErrBreakerOpen) {
			reason = "breaker_open"
		}
		info.outcome = OutcomeDeferred
		d.o.Metrics.Deferrals.WithLabelValues(reason).Inc()
		return consume.Retry(wait, err)
	}
	var rec Record
	if meta.NumDelivered > 1 {
		if rec, err = d.o.Store.Load(ctx, seq); err != nil {
			d.o.Hosts.Cancel(host)
			info.outcome = OutcomeDeferred
			d.o.Metrics.Deferrals.WithLabelValues("store").Inc()
			return consume.Retry(d.o.Hosts.o.BusyDelay, err)
		}
	}

	ev := BuildEvent(req, meta.Timestamp)
	body, err := json.Marshal(ev)
	if err != nil {
		d.o.Hosts.Cancel(host)
		return consume.DeadLetter(ReasonInvalidMessage, fmt.Errorf("encode event: %w", err), nil)
	}
	rec.Attempts++
	info.attempt = rec.Attempts
	start := d.o.Now()
	actx, aspan := d.o.Tracing.Start(ctx, SpanAttempt, trace.SpanKindClient)
	hdr := d.Headers(ev.EventID, body, start)
	tracing.InjectHTTP(actx, hdr) // the receiver's traceparent: this attempt, in the callback's trace
	resp := d.o.Sender.Send(actx, req.CallbackURL, body, hdr)
	endAttemptSpan(aspan, target.Hostname(), rec.Attempts, resp)
	took := d.o.Now().Sub(start)
	d.o.Hosts.Release(host, unhealthy(resp), d.o.Now())
	d.o.Metrics.AttemptSeconds.Observe(took.Seconds())
	rec.LastStatus, rec.LastError = resp.Status, ""
	if resp.Err != nil {
		rec.LastError = resp.Err.Error()
	}
	return d.settle(ctx, log, seq, req, ev, rec, resp)
}

// endAttemptSpan records an HTTP attempt on its client span and ends it. The URL is left out: a
// callback URL may carry a token in its query.
func endAttemptSpan(span trace.Span, host string, attempt int, resp Response) {
	if span.IsRecording() {
		span.SetAttributes(tracing.AttrHTTPMethod.String(http.MethodPost), tracing.AttrServerAddress.String(host),
			tracing.AttrAttempt.Int(attempt))
		if resp.Status > 0 {
			span.SetAttributes(tracing.AttrHTTPStatus.Int(resp.Status))
		}
		switch {
		case resp.Err != nil:
			tracing.Fail(span, resp.Err)
		case resp.Status >= 400:
			tracing.Fail(span, fmt.Errorf("status %d", resp.Status))
		}
	}
	span.End()
}

// settle decides what happens after attempt rec.Attempts got resp.
func (d *Deliverer) settle(ctx context.Context, log *zap.Logger, seq uint64, req streams.CallbackRequest, ev Event, rec Record, resp Response) error {
	class := statusClass(resp)
	fields := []zap.Field{zap.String("event_id", ev.EventID), zap.Int("attempt", rec.Attempts),
		zap.Int("status", resp.Status), zap.String("status_class", class)}
	if rec.LastError != "" {
		fields = append(fields, zap.String("error", rec.LastError))
	}

	var reason string
	switch {
	case resp.Status >= 200 && resp.Status < 300:
		d.o.Metrics.Attempts.WithLabelValues(OutcomeDelivered, class).Inc()
		if at, err := time.Parse(streams.ReceivedAtLayout, req.ReceivedAt); err == nil {
			d.o.Metrics.DeliverySeconds.Observe(d.o.Now().Sub(at).Seconds())
		}
		d.forget(ctx, log, seq, rec)
		log.Info("callback delivered", fields...)
		return nil
	case resp.Forbidden:
		reason = ReasonForbidden
	case resp.Status == http.StatusGone:
		reason = ReasonGone
	case resp.Status == http.StatusTooManyRequests, resp.Status >= 500, resp.Status == 0:
		return d.retry(ctx, log, seq, rec, resp, class, fields)
	case resp.Status >= 300 && resp.Status < 400:
		reason = ReasonRedirect
	default: // other 4xx, and anything else unexpected
		reason = ReasonPermanent
	}
	return d.deadLetter(log, rec, reason, class, fields)
}

func (d *Deliverer) retry(ctx context.Context, log *zap.Logger, seq uint64, rec Record, resp Response, class string, fields []zap.Field) error {
	delay, ok := d.o.Schedule.After(rec.Attempts)
	if !ok {
		return d.deadLetter(log, rec, ReasonExhausted, class, fields)
	}
	honour := resp.Status == http.StatusTooManyRequests || resp.Status == http.StatusServiceUnavailable
	if honour && resp.HasRetryAfter {
		delay = max(delay, min(resp.RetryAfter, d.o.MaxRetryAfter))
	}
	d.o.Metrics.Attempts.WithLabelValues(OutcomeRetry, class).Inc()
	if err := d.o.Store.Save(ctx, seq, rec); err != nil {
		// The retry still happens; the attempt may be counted once less.
		log.Warn("attempt not recorded", zap.Error(err))
	}
	// The consume engine logs the retry, with this error and the delay.
	return consume.Retry(delay, attemptError(rec, resp))
}

func (d *Deliverer) deadLetter(log *zap.Logger, rec Record, reason, class string, fields []zap.Field) error {
	d.o.Metrics.Attempts.WithLabelValues(OutcomeDead, class).Inc()
	d.o.Metrics.DeadLetters.WithLabelValues(reason).Inc()
	// The record stays (until the bucket's TTL): if the DLQ publish fails, the loop naks and the
	// redelivery must not start the schedule over.
	// The consume engine logs the dead letter, with this error and the reason.
	err := attemptError(rec, Response{Status: rec.LastStatus, Err: errorOf(rec)})
	return consume.DeadLetter(reason, err, map[string]string{
		streams.HeaderDLQLastStatus: strconv.Itoa(rec.LastStatus),
		streams.HeaderDLQAttempts:   strconv.Itoa(rec.Attempts),
		streams.HeaderDLQError:      err.Error(),
	})
}

// forget drops the attempt record once the callback is delivered; a record left behind expires
// with the bucket's TTL.
func (d *Deliverer) forget(ctx context.Context, log *zap.Logger, seq uint64, rec Record) {
	if rec.Attempts <= 1 {
		return // the first attempt writes no record
	}
	if err := d.o.Store.Delete(ctx, seq); err != nil {
		log.Warn("attempt record not deleted", zap.Error(err))
	}
}

func (d *Deliverer) claim(seq uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, busy := d.inflight[seq]; busy {
		return false
	}
	d.inflight[seq] = struct{}{}
	return true
}

func (d *Deliverer) release(seq uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.inflight, seq)
}

// parse decodes a CALLBACKS message and checks it can be delivered.
func parse(data []byte) (streams.CallbackRequest, *url.URL, error) {
	var req streams.CallbackRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return req, nil, fmt.Errorf("%w: not JSON", ErrInvalidMessage)
	}
	if req.OrderID == "" || req.TenantID == "" || req.Timestamp == "" {
		return req, nil, fmt.Errorf("%w: orderId, tenantId and timestamp are required", ErrInvalidMessage)
	}
	u, err := safedial.ParseURL(req.CallbackURL)
	if err != nil {
		return req, nil, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	return req, u, nil
}

// unhealthy reports whether resp counts against the host's breaker.
func unhealthy(r Response) bool {
	if r.Forbidden {
		return false
	}
	return r.Status == 0 || r.Status >= 500
}

func errorOf(rec Record) error {
	if rec.LastError == "" {
		return nil
	}
	return errors.New(rec.LastError)
}

func attemptError(rec Record, resp Response) error {
	if resp.Err != nil {
		return fmt.Errorf("attempt %d: %w", rec.Attempts, resp.Err)
	}
	return fmt.Errorf("attempt %d: status %d", rec.Attempts, resp.Status)
}
