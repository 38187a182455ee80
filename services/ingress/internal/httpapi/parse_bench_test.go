package httpapi

import (
	"testing"
	"time"
)

func BenchmarkParseEnvelope(b *testing.B) {
	now := time.Now().UTC()
	ts := now.Format(time.RFC3339)
	pet := []byte(`{"eventId":"9f4a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c","eventType":"order.statusChanged","timestamp":"` + ts + `","data":{"order":{"id":"019b4139-1234-7abc-8def-123456789abc","petId":"019b4132-70aa-764f-b315-e2803d882a24","userId":"019b4138-e0af-70b9-8f0c-6ea97d495dfa","status":"APPROVED","totalAmount":"125.50","currency":"USD","createdAt":"2024-12-16T09:00:00Z","updatedAt":"2024-12-16T10:30:00Z"},"previousStatus":"PLACED","newStatus":"APPROVED","changedAt":"2024-12-16T10:30:00Z","changedBy":"system"}}`)
	bun := []byte(`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":503344,"orderStatus":"PAYMENT_RECEIVED"}]}}`)
	std := []byte(`{"type":"order.status.changed","timestamp":"2025-01-01T00:00:00Z","data":{"orderId":"A-1","status":"SHIPPED","changedAt":"2025-01-01T00:00:00Z"}}`)
	b.Run("petstore/scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = parsePetstore(pet, now, time.Hour)
		}
	})
	b.Run("petstore/reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = refParsePetstore(pet)
		}
	})
	b.Run("bunjang/scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = parseBunjang(bun)
		}
	})
	b.Run("bunjang/reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = refParseBunjang(bun)
		}
	})
	b.Run("standard/scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = parseStandard(std, "msg_1")
		}
	})
	b.Run("standard/reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = refParseStandard(std, "msg_1")
		}
	})
}
