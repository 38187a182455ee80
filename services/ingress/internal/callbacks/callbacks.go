// Package callbacks is the intake of the Petstore "Callback Example" (contract section 3):
// `POST /v1/orders/{id}` with a bearer JWT, optional X-Tenant-ID and a JSON body naming a
// callbackUrl. The request is checked (token, tenant, body, URL, SSRF) and answered 201 only once
// it is stored in the CALLBACKS stream; the dispatcher delivers the orderProcessed callback.
//
// A client's retry of the same request (same tenant, order id and request timestamp) is answered
// 201 with the same id and stores nothing new; the same order id and timestamp with another
// amount, currency or callbackUrl is answered 409 idempotency_conflict. Both hold as long as the
// first request is retained: the streams.CallbackRequests bucket keeps each request's body hash
// for the retention of CALLBACKS (HOOKLINE_STREAM_MAX_AGE), and its atomic Create decides
// between concurrent requests.
package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/safedial"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/tracing"
	"github.com/hookline/hookline/services/ingress/internal/problem"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Codes this handler answers besides the contract's table.
const (
	CodeInvalidToken         = "invalid_token"
	CodeInvalidCallbackURL   = "invalid_callback_url"
	CodeForbiddenCallbackURL = "forbidden_callback_url"
	CodeInvalidOrderID       = "invalid_order_id"
	// CodeIdempotencyConflict: the order id and timestamp were used with another body (409).
	CodeIdempotencyConflict = "idempotency_conflict"
)

// Route is the path the ingress mounts Handle on (echo syntax).
const Route = "/v1/orders/:id"

// Publisher stores a message in JetStream and returns once it is acknowledged; errors mean the
// message may not be stored (*publish.Publisher fits).
type Publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error)
}

// URLChecker refuses callback URLs that are malformed (safedial.ErrInvalidURL) or reach a
// forbidden address (safedial.ErrForbidden). *safedial.Guard fits.
type URLChecker interface {
	CheckURL(ctx context.Context, raw string) error
}

var _ URLChecker = (*safedial.Guard)(nil)

// Options are the knobs tests and the ingress may set; zero values take defaults.
type Options struct {
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30s).
	Leeway time.Duration
	// RetryAfter is the Retry-After of a 503 (default 1s).
	RetryAfter time.Duration
	// Checker replaces the SSRF guard built from the configuration (tests use a fake resolver).
	Checker URLChecker
	// Now replaces the clock.
	Now func() time.Time
	// Requests remembers accepted requests so that a reuse of an order id and timestamp with
	// another body is answered 409 (NewBucketStore; the ingress always sets it). Nil checks
	// nothing beyond the stream's duplicate window: for tests of other parts only.
	Requests RequestStore
	// Spooling: the publisher spools when JetStream is unavailable (HOOKLINE_SPOOL_DIR). Then a
	// request whose record cannot be reached (NATS down) is published all the same, without the
	// 409 check: its Nats-Msg-Id is the order id and timestamp, so a conflicting repeat answered
	// meanwhile is the same id and the first body wins (JetStream drops the second).
	Spooling bool
	// Tracing starts the request's spans (nil: export off; the trace context still travels to
	// the dispatcher and the callback).
	Tracing *tracing.Tracing
}

// Handler serves POST /v1/orders/{id}.
type Handler struct {
	jwtKey   []byte
	tenants  map[string]*config.Tenant
	maxBody  int64
	pub      Publisher
	checker  URLChecker
	parser   *jwt.Parser
	retry    time.Duration
	now      func() time.Time
	log      *zap.Logger
	requests RequestStore
	spooling bool
	disabled bool
	tr       *tracing.Tracing
}

// New returns the handler for cfg: the JWT key is cfg.JWTSecret, tenants are cfg.Tenants, the body
// limit is cfg.MaxBodyBytes, and the SSRF policy is cfg.CallbackAllowPrivate and
// cfg.CallbackAllowCIDRs. Without a JWT secret every request is answered 401.
func New(cfg *config.Config, pub Publisher, log *zap.Logger, o Options) *Handler {
	if o.Leeway <= 0 {
		o.Leeway = 30 * time.Second
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Checker == nil {
		o.Checker = &safedial.Guard{Policy: safedial.Policy{
			AllowPrivate: cfg.CallbackAllowPrivate,
			AllowCIDRs:   cfg.CallbackAllowCIDRs,
		}}
	}
	h := &Handler{
		jwtKey:   cfg.JWTSecret.Bytes(),
		tenants:  cfg.Tenants,
		maxBody:  cfg.MaxBodyBytes,
		pub:      pub,
		checker:  o.Checker,
		retry:    o.RetryAfter,
		now:      o.Now,
		log:      log,
		requests: o.Requests,
		spooling: o.Spooling,
		tr:       o.Tracing,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(o.Leeway),
			jwt.WithTimeFunc(o.Now),
		),
	}
	if len(h.jwtKey) == 0 {
		h.disabled = true
		log.Warn("HOOKLINE_JWT_SECRET is not set: POST /v1/orders/{id} answers 401 to every request")
	}
	if h.maxBody <= 0 {
		h.maxBody = 1 << 20
	}
	return h
}

// Accepted is the 201 answer.
type Accepted struct {
	// ID is the eventId the orderProcessed callback will carry (its webhook-id).
	ID      string `json:"id"`
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
}

// request is the body of POST /v1/orders/{id}.
type request struct {
	Amount      json.RawMessage `json:"amount"`
	Currency    *string         `json:"currency"`
	Timestamp   json.RawMessage `json:"timestamp"`
	CallbackURL *string         `json:"callbackUrl"`
}

var (
	orderIDRe  = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)
	amountRe   = regexp.MustCompile(`^[0-9]{1,18}(\.[0-9]{1,18})?$`)
	currencyRe = regexp.MustCompile(`^[A-Za-z]{3}$`)
	unixRe     = regexp.MustCompile(`^[0-9]{1,16}$`)
)

// Span names of a callback request.
const (
	SpanRequest = "POST /v1/orders/{id}"
	SpanPublish = "publish " + streams.Callbacks
)

// Handle is the echo handler; errors are *problem.Problem. The request's trace (the inbound
// traceparent's, or a new one) travels on the CALLBACKS message to the dispatcher.
func (h *Handler) Handle(c echo.Context) error {
	ctx, span := h.tr.StartFrom(c.Request().Context(), tracing.HTTPCarrier(c.Request().Header), SpanRequest, trace.SpanKindServer)
	defer span.End()
	var sp spanInfo
	err := h.handle(ctx, c, &sp)
	if span.IsRecording() {
		sp.record(span, c.Response().Status, err)
	}
	return err
}

// spanInfo is what the request's span learns on the way.
type spanInfo struct {
	tenant, orderID, eventID, outcome string
}

func (sp *spanInfo) record(span trace.Span, status int, err error) {
	var p *problem.Problem
	if errors.As(err, &p) {
		status, sp.outcome = p.Status, p.Code
	}
	span.SetAttributes(tracing.AttrHTTPMethod.String(http.MethodPost), tracing.AttrHTTPRoute.String(Route),
		tracing.AttrHTTPStatus.Int(status))
	for _, kv := range []attribute.KeyValue{tracing.AttrTenant.String(sp.tenant), tracing.AttrOrderID.String(sp.orderID),
		tracing.AttrEventID.String(sp.eventID), tracing.AttrOutcome.String(sp.outcome)} {
		if kv.Value.AsString() != "" {
			span.SetAttributes(kv)
		}
	}
	if status >= 500 {
		tracing.Fail(span, err)
	}
}

func (h *Handler) handle(ctx context.Context, c echo.Context, sp *spanInfo) error {
	req := c.Request()
	if err := h.authorize(req.Header.Get(echo.HeaderAuthorization)); err != nil {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
		return err
	}
	tenant, err := h.tenant(req.Header.Get("X-Tenant-ID"))
	if err != nil {
		return err
	}
	sp.tenant = tenant
	orderID, err := url.PathUnescape(orderParam(c))
	if err != nil || !orderIDRe.MatchString(orderID) {
		return problem.New(http.StatusBadRequest, CodeInvalidOrderID,
			"order id must be 1 to 128 letters, digits, '.', '_', '~' or '-'")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, h.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return problem.New(http.StatusRequestEntityTooLarge, problem.CodePayloadTooLarge,
				fmt.Sprintf("body is over %d bytes", h.maxBody))
		}
		return problem.ReadFailed(h.retry, err)
	}
	cb, err := parseBody(body)
	if err != nil {
		return err
	}
	sp.orderID = orderID
	if err := h.checker.CheckURL(ctx, cb.CallbackURL); err != nil {
		return urlProblem(err)
	}
	cb.OrderID = orderID
	cb.TenantID = tenant
	cb.ReceivedAt = h.now().UTC().Format(streams.ReceivedAtLayout)
	eventID := streams.CallbackEventID(tenant, orderID, cb.Timestamp)
	sp.eventID = eventID

	data, err := json.Marshal(cb)
	if err != nil {
		return problem.Wrap(http.StatusInternalServerError, problem.CodeInternal, "could not encode the request", err)
	}
	msg := nats.NewMsg(streams.CallbackSubject(tenant))
	msg.Data = data
	msg.Header.Set(streams.HeaderOrderID, orderID)
	msg.Header.Set(streams.HeaderTenant, tenant)
	msg.Header.Set(streams.HeaderEventID, eventID)
	msg.Header.Set(streams.HeaderReceivedAt, cb.ReceivedAt)
	msg.Header.Set(streams.HeaderContentType, echo.MIMEApplicationJSON)
	accepted := Accepted{ID: eventID, OrderID: orderID, Status: "accepted"}
	key := streams.CallbackRequestKey(tenant, orderID, cb.Timestamp)
	hash := requestHash(cb.Amount, cb.Currency, cb.CallbackURL)
	var res reservation
	recorded := h.requests != nil // the request has a record to settle after the publish
	if h.requests != nil {
		res, err = reserve(ctx, h.requests, key, eventID, hash)
		switch {
		case errors.Is(err, errConflict):
			return problem.New(http.StatusConflict, CodeIdempotencyConflict,
				"this order id and timestamp were already used with another amount, currency or callbackUrl")
		case err != nil && h.spooling:
			recorded = false
			h.log.Debug("callback request record unreachable; publishing to the spool path", zap.Error(err))
		case err != nil:
			return problem.Unavailable(h.retry, err)
		case res.stored:
			h.log.Debug("callback request is a duplicate", zap.String("tenant", tenant), zap.String("order_id", orderID))
			sp.outcome = publish.OutcomeDuplicate
			return c.JSON(http.StatusCreated, accepted)
		}
	}
	pctx, pspan := h.tr.Start(ctx, SpanPublish, trace.SpanKindProducer)
	tracing.Inject(pctx, msg.Header) // traceparent (and tracestate), kept by the spool too
	ack, err := h.pub.Publish(pctx, msg, streams.CallbackMsgID(tenant, orderID, cb.Timestamp))
	sp.outcome = publish.Outcome(ack)
	publish.EndSpan(pspan, msg.Subject, ack, sp.outcome, err)
	// The record is settled whatever the client does meanwhile, within a bound.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err != nil {
		if recorded && res.created {
			// Not stored: free the key (unless an identical attempt took it over) so the client
			// may retry with any body.
			_ = h.requests.Delete(sctx, key, jetstream.LastRevision(res.rev))
		}
		return problem.Unavailable(h.retry, err)
	}
	if ack != nil && ack.Duplicate {
		h.log.Debug("callback request is a duplicate", zap.String("tenant", tenant), zap.String("order_id", orderID))
	}
	if recorded {
		if err := markStored(sctx, h.requests, key, eventID, hash, res.rev); err != nil {
			// Stored all the same: a retry finds the record pending and publishes again under the
			// same Nats-Msg-Id, which JetStream drops within its duplicate window.
			h.log.Warn("callback request stored, record not updated", zap.String("tenant", tenant),
				zap.String("order_id", orderID), zap.Error(err))
		}
	}
	return c.JSON(http.StatusCreated, accepted)
}

// storeTimeout bounds the request-record updates made after the publish.
const storeTimeout = 5 * time.Second

// orderParam is the {id} path parameter: named "id" (Route), or the route's only parameter.
func orderParam(c echo.Context) string {
	if id := c.Param("id"); id != "" {
		return id
	}
	if vals := c.ParamValues(); len(c.ParamNames()) == 1 && len(vals) > 0 {
		return vals[0]
	}
	return ""
}

// authorize verifies the bearer token: HS256 with the configured key, exp required.
func (h *Handler) authorize(header string) error {
	if h.disabled {
		return problem.New(http.StatusUnauthorized, CodeInvalidToken, "callback intake is not configured")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return problem.New(http.StatusUnauthorized, CodeInvalidToken, "missing bearer token")
	}
	_, err := h.parser.Parse(strings.TrimSpace(token), func(*jwt.Token) (any, error) { return h.jwtKey, nil })
	if err != nil {
		msg := "invalid bearer token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			msg = "bearer token has expired"
		}
		return problem.Wrap(http.StatusUnauthorized, CodeInvalidToken, msg, err)
	}
	return nil
}

func (h *Handler) tenant(header string) (string, error) {
	if strings.TrimSpace(header) == "" {
		header = config.DefaultTenant
	}
	id, ok := config.NormalizeTenantID(header)
	if _, known := h.tenants[id]; !ok || !known {
		return "", problem.New(http.StatusNotFound, problem.CodeUnknownTenant, "no such tenant")
	}
	return id, nil
}

// parseBody checks the request body and returns the fields it carries.
func parseBody(body []byte) (streams.CallbackRequest, error) {
	var cb streams.CallbackRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	var r request
	if err := dec.Decode(&r); err != nil {
		return cb, problem.Wrap(http.StatusBadRequest, problem.CodeMalformedPayload, "body is not a JSON object", err)
	}
	if dec.More() {
		return cb, problem.Malformed("body has trailing data after the JSON object")
	}
	var err error
	if cb.Amount, err = scalar(r.Amount, "amount"); err != nil {
		return cb, err
	}
	if n := bytes.TrimSpace(r.Amount); len(n) > 0 && n[0] != '"' {
		dec, ok := decimalFromNumber(cb.Amount)
		if !ok {
			return cb, problem.Malformed(`amount must be a non-negative decimal such as "738.05"`)
		}
		cb.Amount = dec
	}
	if !amountRe.MatchString(cb.Amount) {
		return cb, problem.Malformed(`amount must be a non-negative decimal such as "738.05"`)
	}
	if r.Currency == nil || *r.Currency == "" {
		return cb, problem.Malformed("currency is required")
	}
	if !currencyRe.MatchString(*r.Currency) {
		return cb, problem.Malformed("currency must be a three-letter ISO 4217 code")
	}
	cb.Currency = *r.Currency
	if cb.Timestamp, err = scalar(r.Timestamp, "timestamp"); err != nil {
		return cb, err
	}
	if !validTimestamp(cb.Timestamp) {
		return cb, problem.Malformed("timestamp must be unix seconds or RFC 3339")
	}
	if r.CallbackURL == nil || *r.CallbackURL == "" {
		return cb, problem.Malformed("callbackUrl is required")
	}
	if len(*r.CallbackURL) > 2048 {
		return cb, problem.New(http.StatusBadRequest, CodeInvalidCallbackURL, "callbackUrl is longer than 2048 bytes")
	}
	cb.CallbackURL = *r.CallbackURL
	return cb, nil
}

// scalar reads a required field given as a JSON string or number, as its text.
func scalar(raw json.RawMessage, field string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", problem.Malformed(field + " is required")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", problem.Malformed(field + " is not a valid string")
		}
		if s = strings.TrimSpace(s); s == "" {
			return "", problem.Malformed(field + " is required")
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil
	}
	return "", problem.Malformed(field + " must be a string or a number")
}

func validTimestamp(s string) bool {
	if unixRe.MatchString(s) {
		return true
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

func urlProblem(err error) error {
	switch {
	case errors.Is(err, safedial.ErrForbidden):
		return problem.Wrap(http.StatusBadRequest, CodeForbiddenCallbackURL,
			"callbackUrl must not point at a loopback, private, link-local or metadata address", err)
	case errors.Is(err, safedial.ErrInvalidURL):
		return problem.Wrap(http.StatusBadRequest, CodeInvalidCallbackURL,
			"callbackUrl must be an absolute http or https URL", err)
	}
	return problem.Wrap(http.StatusBadRequest, CodeInvalidCallbackURL, "callbackUrl was refused", err)
}
