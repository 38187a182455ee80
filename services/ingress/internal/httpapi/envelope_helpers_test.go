package httpapi

import (
	"fmt"
	"time"

	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

// The envelope checks of each provider as the tests call them: its one parser, plus the
// Petstore timestamp window the handler adds (API.parse).

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
