package sign

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
)

// vectors is the part of the shared signature-vectors.json this package implements.
type vectors struct {
	Petstore struct {
		Secret  string            `json:"secret"`
		Body    string            `json:"body"`
		Headers map[string]string `json:"headers"`
	} `json:"petstore"`
	Standard struct {
		Secret  string            `json:"secret"`
		Body    string            `json:"body"`
		Headers map[string]string `json:"headers"`
	} `json:"standardwebhooks"`
}

// The contract's vectors, copied here so the test does not depend on files outside the repo.
const vectorsJSON = `{
  "petstore": {
    "secret": "petstore-test-secret",
    "body": "{\"eventId\":\"9f4a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c\",\"eventType\":\"order.statusChanged\",\"timestamp\":\"2024-12-16T10:30:00Z\",\"data\":{\"order\":{\"id\":\"019b4139-1234-7abc-8def-123456789abc\",\"petId\":\"019b4132-70aa-764f-b315-e2803d882a24\",\"userId\":\"019b4138-e0af-70b9-8f0c-6ea97d495dfa\",\"status\":\"APPROVED\",\"totalAmount\":\"125.50\",\"currency\":\"USD\",\"createdAt\":\"2024-12-16T09:00:00Z\",\"updatedAt\":\"2024-12-16T10:30:00Z\"},\"previousStatus\":\"PLACED\",\"newStatus\":\"APPROVED\",\"changedAt\":\"2024-12-16T10:30:00Z\",\"changedBy\":\"system\"}}",
    "headers": {"X-Webhook-Signature": "sha256=e622bb27eec372f79c833e67f47ecd9aedbc84a038b8d7caae2856ec8cb55d95"}
  },
  "standardwebhooks": {
    "secret": "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ==",
    "body": "{\"type\":\"order.status.changed\",\"data\":{\"orderId\":\"A-1\",\"status\":\"SHIPPED\"}}",
    "headers": {
      "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
      "webhook-timestamp": "1735648123",
      "webhook-signature": "v1,w1WrBQP8U6wwD8TQWvjkr1wzz5nH1gIzex90klJ3yZY="
    }
  }
}`

func loadVectors(t *testing.T) vectors {
	t.Helper()
	raw := []byte(vectorsJSON)
	// Prefer the shared file when it is beside the checkout, so a changed vector is noticed.
	if b, err := os.ReadFile("../../../../../shared/contract/signature-vectors.json"); err == nil {
		raw = b
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPetstoreVector(t *testing.T) {
	v := loadVectors(t)
	got := Petstore([]byte(v.Petstore.Secret), []byte(v.Petstore.Body))
	if want := v.Petstore.Headers["X-Webhook-Signature"]; got != want {
		t.Fatalf("Petstore = %s, want %s", got, want)
	}
}

func TestStandardVector(t *testing.T) {
	v := loadVectors(t)
	ts, err := strconv.ParseInt(v.Standard.Headers["webhook-timestamp"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	got := Standard(StandardKey([]byte(v.Standard.Secret)), v.Standard.Headers["webhook-id"], ts, []byte(v.Standard.Body))
	if want := v.Standard.Headers["webhook-signature"]; got != want {
		t.Fatalf("Standard = %s, want %s", got, want)
	}
}

func TestStandardKey(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"whsec_c2VjcmV0LWtleQ==", "secret-key"},
		{"whsec_c2VjcmV0LWtleQ", "secret-key"},
		{"plain-secret", "plain-secret"},
		{"whsec_!!not-base64!!", "whsec_!!not-base64!!"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if got := string(StandardKey([]byte(tt.give))); got != tt.want {
				t.Fatalf("StandardKey(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}
