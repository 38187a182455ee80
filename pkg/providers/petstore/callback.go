package petstore

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

// CallbackSigner signs the orderProcessed callbacks the dispatcher sends (contract section 3,
// the Modern PetstoreAPI "Callback Example"): X-Webhook-Signature, this package's scheme over the
// body with the callback secret, and the Standard Webhooks trio (webhook-id = eventId) with the
// key standardwebhooks.Key derives from the same secret. Receivers may check either.
type CallbackSigner struct {
	secret []byte
	key    []byte
}

// NewCallbackSigner returns the signer for the callback secret (HOOKLINE_CALLBACK_SECRET). A
// secret that is empty, or a whsec_ secret whose base64 is bad, is an error wrapping
// providers.ErrInvalidSecret.
func NewCallbackSigner(secret []byte) (*CallbackSigner, error) {
	key, err := standardwebhooks.Key(secret)
	if err != nil {
		return nil, err
	}
	return &CallbackSigner{secret: append([]byte(nil), secret...), key: key}, nil
}

// Sign sets the signature headers of the callback eventID with body, sent at now, on h.
func (s *CallbackSigner) Sign(h http.Header, eventID string, body []byte, now time.Time) {
	h.Set(HeaderSignature, Sign(s.secret, body))
	h.Set(standardwebhooks.HeaderID, eventID)
	h.Set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderSignature, standardwebhooks.Sign(s.key, eventID, now, body))
}
