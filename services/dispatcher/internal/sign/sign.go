// Package sign computes the signatures the dispatcher puts on an orderProcessed callback
// (contract section 3): the Petstore `X-Webhook-Signature` and the Standard Webhooks
// `webhook-signature`.
//
// These mirror pkg/webhook's SignPetstore, SignStandard and StandardKey; once that package is on
// main the dispatcher should call it and this package should go.
package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// StandardPrefix marks a Standard Webhooks secret whose key is base64-encoded after it.
const StandardPrefix = "whsec_"

// Petstore returns the X-Webhook-Signature value: "sha256=" + hex HMAC-SHA256(secret, body).
func Petstore(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// StandardKey returns the HMAC key of a Standard Webhooks secret: the base64-decoded part after
// "whsec_", or the secret's raw bytes when it has no such prefix (or the rest is not base64).
func StandardKey(secret []byte) []byte {
	s := string(secret)
	if rest, ok := strings.CutPrefix(s, StandardPrefix); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
		if key, err := base64.RawStdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return secret
}

// Standard returns the webhook-signature value "v1," + base64 HMAC-SHA256(key, "<id>.<ts>.<body>").
func Standard(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
