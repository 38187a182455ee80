// Package streams holds the JetStream contract shared by every service: stream names, subject
// builders, header names, and the stream definitions created at start.
package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream names (contract section 4).
const (
	Webhooks  = "WEBHOOKS"
	Callbacks = "CALLBACKS"
	Orders    = "ORDERS"
	DLQ       = consume.DLQStream
)

// Header names carried on messages (contract section 4).
const (
	HeaderMsgID       = jetstream.MsgIDHeader // "Nats-Msg-Id"
	HeaderProvider    = "Hookline-Provider"
	HeaderTenant      = "Hookline-Tenant"
	HeaderEventID     = "Hookline-Event-Id"
	HeaderEventType   = "Hookline-Event-Type"
	HeaderReceivedAt  = "Hookline-Received-At"
	HeaderOrderID     = "Hookline-Order-Id"
	HeaderContentType = "Content-Type"

	HeaderDLQReason     = consume.HeaderDLQReason
	HeaderDLQStreamSeq  = consume.HeaderDLQStreamSeq
	HeaderDLQDeliveries = consume.HeaderDLQDeliveries
	HeaderDLQLastStatus = "Hookline-Dlq-Last-Status"
	HeaderDLQAttempts   = "Hookline-Dlq-Attempts"
	HeaderDLQError      = consume.HeaderDLQError
	HeaderDLQSubject    = consume.HeaderDLQSubject
	HeaderDLQStream     = consume.HeaderDLQStream
	HeaderDLQAt         = consume.HeaderDLQAt

	// ContentTypeProtobuf marks canonical events.
	ContentTypeProtobuf = "application/protobuf"
)

// Durable consumer names used by the services.
const (
	ConsumerWorker     = "worker"
	ConsumerDispatcher = "dispatcher"
)

// ReceivedAtLayout is the layout of HeaderReceivedAt.
const ReceivedAtLayout = time.RFC3339Nano

// ErrInvalidToken is returned when a provider, tenant or source name cannot be a subject token.
var ErrInvalidToken = errors.New("invalid subject token")

// WebhookSubject is where the ingress stores an inbound webhook.
func WebhookSubject(provider, tenant string) string {
	return "webhooks." + provider + "." + tenant
}

// CallbackSubject is where the ingress stores an accepted callback request.
func CallbackSubject(tenant string) string {
	return "callbacks." + tenant
}

// OrderSubject is where the worker publishes canonical OrderStatusChanged events.
func OrderSubject(tenant, provider string) string {
	return "orders." + tenant + "." + provider + ".status_changed"
}

// DLQSubject is where a message from original is dead-lettered.
func DLQSubject(original string) string {
	return consume.DLQSubject(original)
}

// WebhookMsgID is the Nats-Msg-Id of an inbound webhook.
func WebhookMsgID(provider, tenant, eventID string) string {
	return provider + ":" + tenant + ":" + eventID
}

// ParseWebhookSubject splits `webhooks.<provider>.<tenant>`.
func ParseWebhookSubject(subject string) (provider, tenant string, err error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 3 || parts[0] != "webhooks" || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("webhook subject %q: %w", subject, ErrInvalidToken)
	}
	return parts[1], parts[2], nil
}

// ValidToken reports whether s can stand as one subject token: non-empty, no dots, wildcards or
// white space.
func ValidToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Options tune the stream definitions (contract section 4, configuration section 8).
type Options struct {
	Replicas        int           // HOOKLINE_STREAM_REPLICAS, default 1
	DuplicateWindow time.Duration // HOOKLINE_DUPLICATE_WINDOW, default 2m
	MaxAge          time.Duration // retention of WEBHOOKS, CALLBACKS and ORDERS; 0 keeps all
}

// Configs returns the four stream definitions.
func Configs(o Options) []jetstream.StreamConfig {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 2 * time.Minute
	}
	base := func(name, subject, desc string, maxAge time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{subject},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			Duplicates:  o.DuplicateWindow,
			MaxAge:      maxAge,
			Discard:     jetstream.DiscardOld,
		}
	}
	return []jetstream.StreamConfig{
		base(Webhooks, "webhooks.>", "Hookline inbound webhooks, raw bodies as received", o.MaxAge),
		base(Callbacks, "callbacks.>", "Hookline accepted callback requests", o.MaxAge),
		base(Orders, "orders.>", "Hookline canonical OrderStatusChanged events (protobuf)", o.MaxAge),
		base(DLQ, "dlq.>", "Hookline dead letters: poison messages and exhausted deliveries", 0),
	}
}

// EnsureAttemptTimeout bounds one create-or-update request of Ensure. When several clients
// create the same clustered stream at the same moment (services starting together), NATS 2.9
// forwards the losers' requests to a stream leader not elected yet, and nobody answers them;
// their next attempt finds the stream and is answered at once, instead of the whole start
// waiting out its context.
const EnsureAttemptTimeout = time.Second

// jsErrSubjectsOverlap is the JetStream API error code for "subjects overlap with an existing
// stream": what NATS 2.9 also answers a creator that lost the race to a stream of the same name.
const jsErrSubjectsOverlap jetstream.ErrorCode = 10065

// overlapRetries is how often Ensure tries again after a subjects-overlap answer before it takes
// it for a real conflict (another stream holding these subjects).
const overlapRetries = 3

// Ensure creates the streams, or updates them to the wanted definition, so every service can call
// it at start in any order. A request unanswered within EnsureAttemptTimeout is sent again until
// ctx ends; a subjects overlap is retried a few times (the other creator's stream then updates).
func Ensure(ctx context.Context, js jetstream.JetStream, o Options) error {
	for _, cfg := range Configs(o) {
		if err := ensureOne(ctx, js, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

func ensureOne(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	overlaps := 0
	for {
		actx, cancel := context.WithTimeout(ctx, EnsureAttemptTimeout)
		_, err := js.CreateOrUpdateStream(actx, cfg)
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil || ctx.Err() != nil:
			return err
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			// Unanswered: ask again.
		case errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrSubjectsOverlap && overlaps < overlapRetries:
			overlaps++
			select {
			case <-ctx.Done():
				return err
			case <-time.After(100 * time.Millisecond):
			}
		default:
			return err
		}
	}
}
