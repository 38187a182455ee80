package streams

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// CallbackRequest is the JSON body of a CALLBACKS message (contract section 4): an accepted
// `POST /v1/orders/{id}` request, written by the ingress and read by the dispatcher.
type CallbackRequest struct {
	OrderID     string `json:"orderId"`
	TenantID    string `json:"tenantId"`
	Amount      string `json:"amount"`
	Currency    string `json:"currency"`
	Timestamp   string `json:"timestamp"`
	CallbackURL string `json:"callbackUrl"`
	ReceivedAt  string `json:"receivedAt"` // ReceivedAtLayout
}

// CallbackMsgID is the Nats-Msg-Id of a callback request: a client that retries the same request
// (same tenant, order id and request timestamp) within the duplicate window stores nothing new.
// The ingress only accepts order ids without ':', so the parts cannot run into each other.
func CallbackMsgID(tenant, orderID, timestamp string) string {
	return "callback:" + tenant + ":" + orderID + ":" + timestamp
}

// callbackNamespace is the UUIDv5 namespace of callback event ids (a fixed random UUID).
var callbackNamespace = uuid.UUID{
	0x6b, 0x1e, 0x3c, 0x52, 0x0d, 0x8f, 0x4a, 0x61, 0x9c, 0x27, 0x5e, 0x90, 0xb4, 0x13, 0x7a, 0xd8,
}

// CallbackEventID is the eventId (and Standard Webhooks webhook-id) of the orderProcessed
// callback for a request: a UUIDv5 of its CallbackMsgID, so the ingress can return it at intake
// and every delivery attempt, across retries and restarts, carries the same id.
func CallbackEventID(tenant, orderID, timestamp string) string {
	return uuid.NewSHA1(callbackNamespace, []byte(CallbackMsgID(tenant, orderID, timestamp))).String()
}

// CallbackRequests is the key-value bucket that remembers each accepted callback request (its
// body hash and id) for as long as CALLBACKS retains it, so a reuse of the same order id and
// timestamp with another body is answered 409 (contract section 3).
const CallbackRequests = "callback-requests"

// CallbackRequestsConfig is the bucket's definition: one value a key, kept for o.MaxAge (the
// retention of CALLBACKS; 0 keeps all), file storage, o.Replicas.
func CallbackRequestsConfig(o Options) jetstream.KeyValueConfig {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	return jetstream.KeyValueConfig{
		Bucket:      CallbackRequests,
		Description: "Hookline accepted callback requests: body hash and id by tenant, order id and timestamp",
		History:     1,
		TTL:         o.MaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	}
}

// CallbackRequestKey is the bucket key of a request: the tenant, then a SHA-256 of its
// CallbackMsgID (order ids and timestamps hold characters a key cannot).
func CallbackRequestKey(tenant, orderID, timestamp string) string {
	sum := sha256.Sum256([]byte(CallbackMsgID(tenant, orderID, timestamp)))
	return tenant + "." + hex.EncodeToString(sum[:])
}
