package decode

import (
	"github.com/hookline/hookline/pkg/providers/all"
	"testing"
	"time"
)

// BenchmarkDecodePetstore decodes the contract's Petstore vector body.
func BenchmarkDecodePetstore(b *testing.B) {
	body := []byte(`{"eventId":"9f4a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c","eventType":"order.statusChanged","timestamp":"2024-12-16T10:30:00Z","data":{"order":{"id":"019b4139-1234-7abc-8def-123456789abc","petId":"019b4132-70aa-764f-b315-e2803d882a24","userId":"019b4138-e0af-70b9-8f0c-6ea97d495dfa","status":"APPROVED","totalAmount":"125.50","currency":"USD","createdAt":"2024-12-16T09:00:00Z","updatedAt":"2024-12-16T10:30:00Z"},"previousStatus":"PLACED","newStatus":"APPROVED","changedAt":"2024-12-16T10:30:00Z","changedBy":"system"}}`)
	in := Input{Provider: "petstore", Tenant: "default", Body: body, Fallback: time.Now()}
	p := all.Registry().For(in.Provider)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(p, in); err != nil {
			b.Fatal(err)
		}
	}
}
