// Package httpapi is the ingress's public HTTP API: POST /webhooks/{provider} (verify, check,
// store, answer) and the mapping of every failure to the contract's error table.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/hookline/hookline/services/ingress/internal/problem"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Publisher stores a message and returns once JetStream acknowledged it.
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error)
}

// route is one provider for one tenant.
type route struct {
	provider string // the path segment: a provider's name, or a configured source's
	p        providers.Provider
	tenant   *tenant
	verifier providers.Verifier
	maxAge   time.Duration // the body timestamp window of a provider whose window is BodyAge; 0: none
	success  int
}

// tenantRule maps a provider's TenantKey values (Shopify shop domains) to tenants.
type tenantRule map[string]*tenant

type tenant struct {
	id      string
	limiter *rate.Limiter // nil: no limit
	retry   time.Duration // Retry-After for a 429
	routes  map[string]*route
}

// API serves the public routes.
type API struct {
	log      *zap.Logger
	pub      Publisher
	metrics  *Metrics
	maxBody  int64
	retry503 time.Duration
	now      func() time.Time
	clientIP echo.IPExtractor
	failed   *addrLimiter // failed verifications per client address; nil: no limit
	tr       *tracing.Tracing

	tenants map[string]*tenant
	sources map[string]*route // Standard Webhooks sources: fixed tenant
	reg     *providers.Registry
	byKey   map[string]tenantRule // by provider name
}

// Options for New.
type Options struct {
	// Now is the clock for freshness checks (default time.Now).
	Now func() time.Time
	// RetryAfter503 is the Retry-After of a 503 (default 1s).
	RetryAfter503 time.Duration
	// ClientIP gives the client address failed verifications are counted against (default
	// echo.ExtractIPDirect(): the TCP peer, never a forwarded-for header).
	ClientIP echo.IPExtractor
	// FailedVerifyRPS and FailedVerifyBurst are the token bucket of failed verifications per
	// client address (RPS 0: no limit).
	FailedVerifyRPS   float64
	FailedVerifyBurst int
	// Tracing starts the request's spans (nil: export off; the trace context still travels).
	Tracing *tracing.Tracing
}

// HeaderReserve is the room a stored webhook's headers may take in a NATS message (Nats-Msg-Id,
// the Hookline-* headers, a traceparent and tracestate): the largest body the ingress accepts is
// the server's max_payload less this.
const HeaderReserve = 4096

// New builds the API from the configuration, constructing every verifier once. A secret the
// verifier cannot use is a configuration error naming the provider and tenant.
func New(cfg *config.Config, pub Publisher, m *Metrics, log *zap.Logger, o Options) (*API, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryAfter503 <= 0 {
		o.RetryAfter503 = time.Second
	}
	if o.ClientIP == nil {
		o.ClientIP = echo.ExtractIPDirect()
	}
	failed, err := newAddrLimiter(o.FailedVerifyRPS, o.FailedVerifyBurst, defaultAddrLimiterSize)
	if err != nil {
		return nil, fmt.Errorf("failed-verification limiter: %w", err)
	}
	a := &API{
		log: log, pub: pub, metrics: m, maxBody: cfg.MaxBodyBytes, retry503: o.RetryAfter503, now: o.Now,
		clientIP: o.ClientIP, failed: failed, tr: o.Tracing,
		tenants: map[string]*tenant{}, sources: map[string]*route{},
		reg: cfg.Registry(), byKey: map[string]tenantRule{},
	}
	clock := providers.Clock(o.Now)
	for id, tc := range cfg.Tenants {
		t := &tenant{id: id, routes: map[string]*route{}}
		if tc.RateLimit.RPS > 0 {
			t.limiter = rate.NewLimiter(rate.Limit(tc.RateLimit.RPS), tc.RateLimit.Burst)
			t.retry = retryAfter(tc.RateLimit.RPS)
		}
		for name, pc := range tc.Providers {
			p, ok := a.reg.Lookup(name)
			if !ok {
				return nil, fmt.Errorf("%w: tenant %s provider %s: unknown provider", config.ErrInvalid, id, name)
			}
			r, err := newRoute(p, name, t, pc.Secrets, pc.Tolerance, clock)
			if err != nil {
				return nil, fmt.Errorf("%w: tenant %s provider %s: %w", config.ErrInvalid, id, name, err)
			}
			t.routes[name] = r
			for _, k := range pc.TenantKeys {
				if a.byKey[name] == nil {
					a.byKey[name] = tenantRule{}
				}
				a.byKey[name][k] = t
			}
		}
		a.tenants[id] = t
	}
	for name, s := range cfg.Sources {
		r, err := newRoute(a.reg.Source(), name, a.tenants[s.Tenant], s.Secrets, s.Tolerance, clock)
		if err != nil {
			return nil, fmt.Errorf("%w: source %s: %w", config.ErrInvalid, name, err)
		}
		a.sources[name] = r
	}
	return a, nil
}

// newRoute builds provider p's route called name for tenant t: its verifier, and its body
// timestamp window when the provider's window bounds the body.
func newRoute(p providers.Provider, name string, t *tenant, secrets []config.Secret, window time.Duration, clock providers.Clock) (*route, error) {
	v, err := p.Verifier(secretBytes(secrets), window, clock)
	if err != nil {
		return nil, err
	}
	r := &route{provider: name, p: p, tenant: t, verifier: v, success: p.SuccessStatus()}
	if p.Knobs().Window.BodyAge {
		r.maxAge = window
	}
	return r, nil
}

func secretBytes(ss []config.Secret) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = s.Bytes()
	}
	return out
}

// LimitBody lowers the body limit to n bytes (the ingress calls it once it knows the server's
// max_payload, before Register).
func (a *API) LimitBody(n int64) { a.maxBody = min(a.maxBody, n) }

// MaxBody is the largest body accepted.
func (a *API) MaxBody() int64 { return a.maxBody }

// Register mounts the routes on e.
func (a *API) Register(e *echo.Echo) {
	e.POST("/webhooks/:provider", a.webhook)
}

// resolve finds the route for a provider name and the request's tenant: X-Tenant-ID, else the
// provider's tenant rule (providers.Provider.TenantKey), else the default tenant.
func (a *API) resolve(provider string, h http.Header) (*route, *problem.Problem) {
	tenantHeader := h.Get("X-Tenant-ID")
	tenantID := config.DefaultTenant
	if tenantHeader != "" {
		id, ok := config.NormalizeTenantID(tenantHeader)
		if !ok {
			return nil, problem.New(http.StatusNotFound, problem.CodeUnknownTenant, "unknown tenant")
		}
		tenantID = id
	}
	if r, ok := a.sources[provider]; ok {
		if tenantHeader != "" && tenantID != r.tenant.id {
			return nil, problem.New(http.StatusNotFound, problem.CodeUnknownTenant, "unknown tenant for this source")
		}
		return r, nil
	}
	p, builtin := a.reg.Lookup(provider)
	if !builtin {
		return nil, problem.New(http.StatusNotFound, problem.CodeUnknownProvider, "unknown provider")
	}
	if tenantHeader == "" {
		if rule := a.byKey[provider]; rule != nil {
			if t := rule[p.TenantKey(h)]; t != nil {
				tenantID = t.id
			}
		}
	}
	t, ok := a.tenants[tenantID]
	if !ok {
		return nil, problem.New(http.StatusNotFound, problem.CodeUnknownTenant, "unknown tenant")
	}
	r, ok := t.routes[provider]
	if !ok {
		return nil, problem.New(http.StatusNotFound, problem.CodeUnknownProvider, "provider not configured for this tenant")
	}
	return r, nil
}

// Span names of a webhook request (contract section 9).
const (
	SpanWebhook = "POST /webhooks/{provider}"
	SpanVerify  = "verify"
	SpanPublish = "publish " + streams.Webhooks
)

func (a *API) webhook(c echo.Context) error {
	start := time.Now()
	req := c.Request()
	// The request's trace: the inbound traceparent's, or a new one; it travels on the message.
	ctx, span := a.tr.StartFrom(req.Context(), tracing.HTTPCarrier(req.Header), SpanWebhook, trace.SpanKindServer)
	defer span.End()
	provider := c.Param("provider")
	r, perr := a.resolve(provider, req.Header)
	if perr != nil {
		a.metrics.observe("unknown", "unknown", perr.Status, time.Since(start))
		endSpan(span, nil, event{}, perr.Status, perr.Code, perr)
		return perr
	}
	status, ev, outcome, err := a.accept(ctx, c, r)
	if err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			status, outcome = p.Status, p.Code
		} else {
			status, outcome = http.StatusInternalServerError, problem.CodeInternal
		}
		a.logRejected(r, ev, status, err)
	}
	a.metrics.observe(r.provider, r.tenant.id, status, time.Since(start))
	endSpan(span, r, ev, status, outcome, err)
	if err != nil {
		return err
	}
	return c.NoContent(status)
}

// endSpan records the request's outcome on its span (when it records): the provider, tenant and
// event id when known, the status, and the outcome (stored, duplicate, spooled, or the error
// code). Only a 5xx marks the span failed: a refused webhook is the server doing its job.
func endSpan(span trace.Span, r *route, ev event, status int, outcome string, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(tracing.AttrHTTPMethod.String(http.MethodPost), tracing.AttrHTTPRoute.String("/webhooks/:provider"),
		tracing.AttrHTTPStatus.Int(status), tracing.AttrOutcome.String(outcome))
	if r != nil {
		span.SetAttributes(tracing.AttrProvider.String(r.provider), tracing.AttrTenant.String(r.tenant.id))
	}
	if ev.ID != "" {
		span.SetAttributes(tracing.AttrEventID.String(ev.ID))
	}
	if ev.OrderID != "" {
		span.SetAttributes(tracing.AttrOrderID.String(ev.OrderID))
	}
	if status >= 500 {
		tracing.Fail(span, err)
	}
}

func (a *API) logRejected(r *route, ev event, status int, err error) {
	fields := []zap.Field{zap.String("provider", r.provider), zap.String("tenant", r.tenant.id),
		zap.Int("status", status), zap.Error(err)}
	if ev.ID != "" {
		fields = append(fields, zap.String("event_id", ev.ID))
	}
	if status >= 500 {
		a.log.Warn("webhook not stored", fields...)
		return
	}
	a.log.Info("webhook rejected", fields...)
}

// accept runs the checks in order (size, the client address's failed-verification budget,
// signature, the tenant's rate limit, envelope), then stores the raw body and returns the success
// status once JetStream has acknowledged it. Only verified requests count towards the tenant's
// limit; failed verifications count towards their address's, and an address that used it up is
// answered 429 without verifying. The outcome is stored, duplicate or spooled. ctx carries the
// request's trace, which the stored message's traceparent continues.
func (a *API) accept(ctx context.Context, c echo.Context, r *route) (int, event, string, error) {
	req := c.Request()
	body, err := readBody(req, a.maxBody, a.retry503)
	if err != nil {
		return 0, event{}, "", err
	}
	ip := a.clientIP(req)
	if a.failed.exhausted(ip) {
		return 0, event{}, "", &problem.Problem{Status: http.StatusTooManyRequests, Code: problem.CodeRateLimited,
			Message: "too many failed verifications from this address", RetryAfter: a.failed.retry}
	}
	_, vspan := a.tr.Start(ctx, SpanVerify, trace.SpanKindInternal)
	err = r.verifier.Verify(req.Header, body)
	tracing.Fail(vspan, err)
	vspan.End()
	if err != nil {
		a.failed.failed(ip)
		return 0, event{}, "", signatureProblem(err)
	}
	if lim := r.tenant.limiter; lim != nil && !lim.Allow() {
		return 0, event{}, "", &problem.Problem{Status: http.StatusTooManyRequests, Code: problem.CodeRateLimited,
			Message: "rate limit exceeded for this tenant", RetryAfter: r.tenant.retry}
	}
	ev, err := a.parse(r, req.Header, body)
	if err != nil {
		if errors.Is(err, errStaleEnvelope) {
			return 0, ev, "", problem.Wrap(http.StatusUnauthorized, problem.CodeStaleTimestamp,
				"timestamp outside the accepted window", err)
		}
		return 0, ev, "", problem.Wrap(http.StatusBadRequest, problem.CodeMalformedPayload, malformedMessage(err), err)
	}

	msg := nats.NewMsg(streams.WebhookSubject(r.provider, r.tenant.id))
	msg.Data = body
	msg.Header[streams.HeaderProvider] = []string{r.provider}
	msg.Header[streams.HeaderTenant] = []string{r.tenant.id}
	msg.Header[streams.HeaderEventID] = []string{ev.ID}
	msg.Header[streams.HeaderEventType] = []string{ev.Type}
	msg.Header[streams.HeaderReceivedAt] = []string{time.Now().UTC().Format(streams.ReceivedAtLayout)}
	pctx, pspan := a.tr.Start(ctx, SpanPublish, trace.SpanKindProducer)
	tracing.Inject(pctx, msg.Header) // traceparent (and tracestate), kept by the spool too
	pubStart := time.Now()
	// Once sent, the publish's outcome is awaited whatever the client does: a client that hangs
	// up now must not turn a stored message into a "not stored" log line and a counted 503.
	ack, err := a.pub.Publish(context.WithoutCancel(pctx), msg, streams.WebhookMsgID(r.provider, r.tenant.id, ev.ID))
	a.metrics.ObservePublish(streams.Webhooks, err == nil, time.Since(pubStart))
	outcome := publish.Outcome(ack)
	publish.EndSpan(pspan, msg.Subject, ack, outcome, err)
	if errors.Is(err, publish.ErrTooLarge) {
		// The body fits the limit but not with these headers (an event id or type of kilobytes):
		// it can never be stored, so a 503 would be retried for ever.
		return 0, ev, "", problem.Wrap(http.StatusRequestEntityTooLarge, problem.CodePayloadTooLarge,
			"body and its event headers are over what the message store accepts", err)
	}
	if err != nil {
		return 0, ev, "", problem.Unavailable(a.retry503, err)
	}
	if ce := a.log.Check(zap.DebugLevel, "webhook stored"); ce != nil {
		ce.Write(zap.String("provider", r.provider), zap.String("tenant", r.tenant.id), zap.String("event_id", ev.ID))
	}
	return r.success, ev, outcome, nil
}

// parse checks the envelope with the provider's one parser (the same the worker decodes with,
// so everything answered 2xx here is accepted there), then the body timestamp window of a
// provider that has one. The raw body is stored untouched; a replay does not re-check the window.
func (a *API) parse(r *route, h http.Header, body []byte) (event, error) {
	env, err := r.p.Parse(body, r.p.Meta(h))
	if err != nil {
		return event{}, err
	}
	ev := event{ID: env.EventID, Type: env.EventType, OrderID: env.OrderID}
	if r.maxAge > 0 {
		if age := a.now().Sub(env.Timestamp); age > r.maxAge || age < -r.maxAge {
			return ev, fmt.Errorf("%w: timestamp %s", errStaleEnvelope, env.Timestamp.Format(time.RFC3339))
		}
	}
	return ev, nil
}

var errStaleEnvelope = errors.New("timestamp outside the accepted window")

// event is what the handler needs from any envelope.
type event struct {
	ID      string
	Type    string
	OrderID string // for the request's span
}

func malformedMessage(err error) string {
	switch {
	case errors.Is(err, envelope.ErrNotJSON):
		return "body is not a JSON object"
	case errors.Is(err, envelope.ErrMissingField), errors.Is(err, envelope.ErrInvalidField), errors.Is(err, envelope.ErrDuplicateKey):
		return err.Error() // names the field only; never echoes body content
	default:
		return "malformed payload"
	}
}

func signatureProblem(err error) *problem.Problem {
	if errors.Is(err, providers.ErrStaleTimestamp) {
		return problem.Wrap(http.StatusUnauthorized, problem.CodeStaleTimestamp, "timestamp outside the tolerance", err)
	}
	msg := "signature does not match"
	switch {
	case errors.Is(err, providers.ErrMissingSignature):
		msg = "signature missing"
	case errors.Is(err, providers.ErrMalformedSignature):
		msg = "signature header malformed"
	}
	return problem.Wrap(http.StatusUnauthorized, problem.CodeInvalidSignature, msg, err)
}

var errBodyTooLarge = errors.New("body over the limit")

// readBody reads the whole body, refusing more than limit bytes. A read that times out is a 503
// (retryAfter), not a bad request.
func readBody(req *http.Request, limit int64, retryAfter time.Duration) ([]byte, error) {
	tooLarge := &problem.Problem{Status: http.StatusRequestEntityTooLarge, Code: problem.CodePayloadTooLarge,
		Message: "body over the limit of " + strconv.FormatInt(limit, 10) + " bytes", Err: errBodyTooLarge}
	if req.ContentLength > limit {
		return nil, tooLarge
	}
	var body []byte
	var err error
	if req.ContentLength >= 0 {
		body = make([]byte, req.ContentLength)
		_, err = io.ReadFull(req.Body, body)
		if err == nil {
			var one [1]byte
			if n, _ := req.Body.Read(one[:]); n > 0 {
				return nil, tooLarge // more bytes than Content-Length announced
			}
		}
	} else {
		body, err = io.ReadAll(io.LimitReader(req.Body, limit+1))
		if err == nil && int64(len(body)) > limit {
			return nil, tooLarge
		}
	}
	if err != nil {
		return nil, problem.ReadFailed(retryAfter, err)
	}
	return body, nil
}

// ErrorHandler renders every error as the contract's JSON error body.
func ErrorHandler(log *zap.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var p *problem.Problem
		var he *echo.HTTPError
		switch {
		case errors.As(err, &p):
		case errors.As(err, &he):
			code := problem.CodeNotFound
			switch he.Code {
			case http.StatusNotFound:
			case http.StatusMethodNotAllowed:
				code = "method_not_allowed"
			case http.StatusRequestEntityTooLarge:
				code = problem.CodePayloadTooLarge
			default:
				code = "http_" + strconv.Itoa(he.Code)
			}
			p = problem.New(he.Code, code, http.StatusText(he.Code))
		default:
			log.Error("unhandled error", zap.String("path", c.Path()), zap.Error(err))
			p = problem.New(http.StatusInternalServerError, problem.CodeInternal, "internal error")
		}
		if p.Close {
			c.Response().Header().Set(echo.HeaderConnection, "close")
		}
		if p.RetryAfter > 0 {
			secs := int64(math.Ceil(p.RetryAfter.Seconds()))
			c.Response().Header().Set("Retry-After", strconv.FormatInt(max(1, secs), 10))
		}
		if werr := c.JSON(p.Status, map[string]string{"code": p.Code, "message": p.Message}); werr != nil {
			log.Debug("write error answer", zap.Error(werr))
		}
	}
}
