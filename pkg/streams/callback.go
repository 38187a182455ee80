package streams

import "github.com/google/uuid"

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
