package httpapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

// Envelope checks: each provider's one parser (pkg/providers/…), the same the worker decodes
// with, so everything answered 2xx here is accepted there. The ingress stores the raw body
// untouched; it only adds the Petstore timestamp window, which a replay must not re-check.

var errStaleEnvelope = errors.New("timestamp outside the accepted window")

// event is what the handler needs from any envelope.
type event struct {
	ID   string
	Type string
}

// parsePetstore checks a Modern PetstoreAPI envelope; maxAge bounds |now - timestamp|.
func parsePetstore(body []byte, now time.Time, maxAge time.Duration) (event, error) {
	env, err := petstore.Parse(body)
	if err != nil {
		return event{}, err
	}
	if age := now.Sub(env.Timestamp); age > maxAge || age < -maxAge {
		return event{}, fmt.Errorf("%w: timestamp %s", errStaleEnvelope, env.Timestamp.Format(time.RFC3339))
	}
	return event{ID: env.EventID, Type: env.EventType}, nil
}

// parseBunjang checks a Bunjang Open API order.status.changed envelope.
func parseBunjang(body []byte) (event, error) {
	env, err := bunjang.Parse(body)
	return event{ID: env.EventID, Type: env.EventType}, err
}

// parseStandard checks a Standard Webhooks body; the event id is the webhook-id header.
func parseStandard(body []byte, webhookID string) (event, error) {
	env, err := standardwebhooks.Parse(body, webhookID)
	return event{ID: env.EventID, Type: env.EventType}, err
}
