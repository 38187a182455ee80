package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"
)

// SignPetstore returns the X-Webhook-Signature value for body: "sha256=<hex>".
func SignPetstore(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignBunjang returns the X-Bun-Webhook-Signature value for body sent at t: "t=<unix>,v0=<hex>".
func SignBunjang(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v0=" + hex.EncodeToString(m.Sum(nil))
}

// SignStandard returns one webhook-signature entry, "v1,<base64>", for message id sent at ts
// (the webhook-timestamp header must carry ts.Unix()). key is already decoded (see StandardKey).
func SignStandard(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
