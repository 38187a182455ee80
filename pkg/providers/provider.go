// Package providers is the Provider interface and the registry of providers. Each provider is
// one folder below this one (petstore/, bunjang/, standardwebhooks/, shopify/) holding its
// signature scheme, its one envelope parser (used by both the ingress check and the worker
// decode), its lifecycle table, its tenant rule, its configuration knobs and its samples for
// `hookline send` and `hookline bench`. The ingress, the worker, the config loader and the CLI
// only look providers up here; none of them names one. Package all lists the built-in providers
// (one registration line each); a test builds a registry of its own with NewRegistry.
package providers

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"time"

	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

// Provider is one webhook provider.
type Provider interface {
	// Name is the path segment of POST /webhooks/{name}, the subject token and the tenants-file
	// key; lower case letters, digits, - and _.
	Name() string
	// Knobs are the provider's configuration settings.
	Knobs() Knobs
	// Verifier builds the signature check for one tenant's secrets (several: rotation). window
	// is the tenant's Knobs().Window value (a signature tolerance; ignored when the window bounds
	// the body's own timestamp) and now the clock. Verify errors wrap the
	// signature sentinels (signature.go).
	Verifier(secrets [][]byte, window time.Duration, now Clock) (Verifier, error)
	// Meta reads what the request's headers say about its event: the idempotency key and the
	// event type, for providers whose body does not carry them (empty otherwise). The ingress
	// stores them as Hookline-Event-Id and Hookline-Event-Type; the worker hands those back.
	Meta(h http.Header) Meta
	// Parse checks a body and reads what the pipeline needs; the ingress answers 2xx only for a
	// body it accepts, and the worker decodes with it. Errors wrap the envelope sentinels.
	Parse(body []byte, m Meta) (envelope.Envelope, error)
	// Lifecycle is the provider's order lifecycle as data (contract section 6).
	Lifecycle() []Row
	// TenantKey is what the provider's tenant rule matches against the tenants file's
	// Knobs().TenantKeys list when a request carries no X-Tenant-ID (Shopify: the shop domain);
	// empty means the default tenant.
	TenantKey(h http.Header) string
	// SuccessStatus is the answer to an accepted (or duplicate) webhook.
	SuccessStatus() int
	// Sampler builds sample webhooks for `hookline send` and `hookline bench`.
	Sampler
}

// Meta is what headers carry about an event.
type Meta struct {
	EventID   string
	EventType string
}

// Knobs are a provider's configuration settings (contract section 8).
type Knobs struct {
	// SecretsEnv is the environment variable with the default tenant's secrets,
	// comma-separated; empty for the Standard Webhooks sources, configured under sources:.
	SecretsEnv string
	// Window is the provider's time window, if it has one.
	Window Window
	// TenantKeys is the tenants-file key under providers.<name> listing the TenantKey values that
	// pick the tenant (Shopify: "shops"); empty when the provider has no such rule.
	TenantKeys string
	// BenchWeight is the provider's default share of `hookline bench` orders (0: none).
	BenchWeight float64
}

// Window is a time window: a signature timestamp tolerance, or the maximum age of the body's own
// timestamp.
type Window struct {
	// Env is the environment variable with the default; empty: the provider has no window.
	Env string
	// Key is the tenants-file key overriding it per tenant ("tolerance", "maxAge").
	Key     string
	Default time.Duration
	// BodyAge: the window bounds |now - envelope.Timestamp|, checked by the ingress after the
	// envelope; otherwise it is the signature tolerance handed to Verifier.
	BodyAge bool
}

// Row is one status of a provider's lifecycle.
type Row struct {
	// Status is the provider's status string, uppercase words joined by _ (or /).
	Status string
	// Spelling is how the provider writes Status, published as the raw provider status;
	// empty means Status itself.
	Spelling string
	// Canonical is what downstream consumers see.
	Canonical ordersv1.OrderStatus
	// Rank orders the lifecycle: a transition applies only towards a higher rank.
	Rank int
	// Terminal: nothing leaves this status.
	Terminal bool
	// After is the status this one normally follows; the statuses jumped over on the way from the
	// current one are published as `skipped`. Empty for a status reachable from anywhere.
	After string
	// Aliases are other spellings providers use for Status.
	Aliases []string
}

// Sampler builds sample webhooks.
type Sampler interface {
	// Walk is the main line of the lifecycle, in order: the statuses `hookline bench` sends for
	// one order.
	Walk() []string
	// Sample builds one event; its signature comes from Sign, at send time.
	Sample(s SampleSpec) (Sample, error)
	// Sign returns the signature headers of a sample sent at now with secret (as configured).
	Sign(secret []byte, s Sample, now time.Time) ([][2]string, error)
}

// SampleSpec asks for one sample event. Empty fields get the provider's defaults.
type SampleSpec struct {
	// EventID is a hint: a provider whose ids have a form of their own (Bunjang: a ULID of the
	// event time) makes one instead.
	EventID string
	// OrderKey names the order; a provider whose order ids have a form of their own (a number)
	// derives one from it, the same for the same key.
	OrderKey string
	Status   string
	// Type is the event type (Petstore: payment.succeeded); empty: the provider's usual one.
	Type string
	// Alt asks for the provider's alternative shape of Status when it has one (Petstore's
	// payment.succeeded for APPROVED), so bench exercises both.
	Alt bool
	// Items are order item ids, for providers with items (Bunjang); empty: the provider's
	// default. ItemCount asks for that many instead.
	Items     []string
	ItemCount int
	// Shop is the shop (Shopify's X-Shopify-Shop-Domain); empty: none.
	Shop string
	// At is the event time.
	At time.Time
}

// Sample is one sample event.
type Sample struct {
	Body []byte
	// Headers are the event's headers besides the signature (event id, topic, …).
	Headers [][2]string
	EventID string
	OrderID string
	// Items are the order items the event changes, with Status; empty for a whole order.
	Items  []string
	Status string
}

// Errors of NewRegistry.
var (
	ErrInvalidName = errors.New("invalid provider name")
	ErrDuplicate   = errors.New("provider registered twice")
)

// Registry is a fixed set of providers: the built-in ones by name, and the one serving every
// other configured source (Standard Webhooks). It is read-only once built.
type Registry struct {
	byName map[string]Provider
	all    []Provider
	source Provider
}

// NewRegistry builds a registry of the built-in providers ps, with source serving the extra
// sources of the tenants file.
func NewRegistry(source Provider, ps ...Provider) (*Registry, error) {
	if source == nil {
		return nil, fmt.Errorf("%w: no source provider", ErrInvalidName)
	}
	r := &Registry{byName: make(map[string]Provider, len(ps)), source: source}
	for _, p := range ps {
		name := p.Name()
		if !streams.ValidToken(name) {
			return nil, fmt.Errorf("%w: %q", ErrInvalidName, name)
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("%w: %s", ErrDuplicate, name)
		}
		r.byName[name] = p
		r.all = append(r.all, p)
	}
	return r, nil
}

// Lookup returns the built-in provider called name.
func (r *Registry) Lookup(name string) (Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// All returns the built-in providers in registration order (a new slice).
func (r *Registry) All() []Provider { return append([]Provider(nil), r.all...) }

// Source is the provider of every configured source that is not a built-in provider.
func (r *Registry) Source() Provider { return r.source }

// For returns the provider that handles messages of name: the built-in one, else Source (a
// configured source's name).
func (r *Registry) For(name string) Provider {
	if p, ok := r.byName[name]; ok {
		return p
	}
	return r.source
}

// KeyNumber is a stable number for an order key, for samples of providers whose order ids are
// numbers: the FNV-1a hash of key.
func KeyNumber(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key)) // a hash.Hash never fails to write
	return h.Sum64()
}
