package consumer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consumer"
	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestFilterSubject(t *testing.T) {
	tests := []struct {
		name             string
		tenant, provider string
		want             string
		wantErr          error
	}{
		{name: "everything", want: "orders.*.*.status_changed"},
		{name: "explicit wildcards", tenant: "*", provider: "*", want: "orders.*.*.status_changed"},
		{name: "tenant", tenant: "default", want: "orders.default.*.status_changed"},
		{name: "provider", provider: "bunjang", want: "orders.*.bunjang.status_changed"},
		{name: "both", tenant: "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab", provider: "petstore", want: "orders.6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab.petstore.status_changed"},
		{name: "tenant with dot", tenant: "a.b", wantErr: consumer.ErrInvalidFilter},
		{name: "full wildcard tenant", tenant: ">", wantErr: consumer.ErrInvalidFilter},
		{name: "provider with space", provider: "pet store", wantErr: consumer.ErrInvalidFilter},
		{name: "partial wildcard", provider: "pet*", wantErr: consumer.ErrInvalidFilter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := consumer.FilterSubject(tt.tenant, tt.provider)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FilterSubject(%q, %q) error %v, want %v", tt.tenant, tt.provider, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("FilterSubject(%q, %q) = %q, want %q", tt.tenant, tt.provider, got, tt.want)
			}
		})
	}
}

// TestNewRejects covers what New refuses before it talks to the server.
func TestNewRejects(t *testing.T) {
	tests := []struct {
		name     string
		giveName string
		giveOpts []consumer.Option
		want     error
	}{
		{name: "empty name", giveName: "", want: consumer.ErrInvalidName},
		{name: "name with dot", giveName: "billing.sync", want: consumer.ErrInvalidName},
		{name: "name with wildcard", giveName: "billing*", want: consumer.ErrInvalidName},
		{name: "bad tenant", giveName: "ok", giveOpts: []consumer.Option{consumer.WithTenant("a b")}, want: consumer.ErrInvalidFilter},
		{name: "bad provider", giveName: "ok", giveOpts: []consumer.Option{consumer.WithProvider("x.y")}, want: consumer.ErrInvalidFilter},
		{name: "zero concurrency", giveName: "ok", giveOpts: []consumer.Option{consumer.WithConcurrency(0)}, want: consumer.ErrInvalidOption},
		{name: "negative max ack pending", giveName: "ok", giveOpts: []consumer.Option{consumer.WithMaxAckPending(-1)}, want: consumer.ErrInvalidOption},
		{name: "tiny ack wait", giveName: "ok", giveOpts: []consumer.Option{consumer.WithAckWait(10 * time.Millisecond)}, want: consumer.ErrInvalidOption},
		{name: "negative max deliver", giveName: "ok", giveOpts: []consumer.Option{consumer.WithMaxDeliver(-1)}, want: consumer.ErrInvalidOption},
		{name: "empty backoff", giveName: "ok", giveOpts: []consumer.Option{consumer.WithBackoff()}, want: consumer.ErrInvalidOption},
		{name: "negative backoff", giveName: "ok", giveOpts: []consumer.Option{consumer.WithBackoff(time.Second, -time.Second)}, want: consumer.ErrInvalidOption},
		{name: "zero drain timeout", giveName: "ok", giveOpts: []consumer.Option{consumer.WithDrainTimeout(0)}, want: consumer.ErrInvalidOption},
		{name: "two start positions", giveName: "ok", giveOpts: []consumer.Option{consumer.WithDeliverNew(), consumer.WithStartTime(time.Now())}, want: consumer.ErrInvalidOption},
		{name: "valid options, no jetstream", giveName: "billing-sync_2", giveOpts: []consumer.Option{
			consumer.WithTenant("default"), consumer.WithProvider("*"), consumer.WithConcurrency(4),
			consumer.WithMaxDeliver(5), consumer.WithBackoff(time.Second), consumer.WithLogger(nil),
		}, want: consumer.ErrNilJetStream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := consumer.New(context.Background(), nil, tt.giveName, tt.giveOpts...)
			if !errors.Is(err, tt.want) || c != nil {
				t.Fatalf("New = %v, %v; want error %v", c, err, tt.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	valid := sampleEvent("default", "petstore", "o-1", "e-1", 1)
	good, err := proto.Marshal(valid)
	if err != nil {
		t.Fatal(err)
	}
	mustMarshal := func(ev *ordersv1.OrderStatusChanged) []byte {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	noID := proto.Clone(valid).(*ordersv1.OrderStatusChanged)
	noID.EventId = ""
	noOrder := proto.Clone(valid).(*ordersv1.OrderStatusChanged)
	noOrder.OrderId = ""
	// A newer schema's field 99 (varint 7) must not make the event poison.
	withUnknown := append(append([]byte(nil), good...), 0x98, 0x06, 0x07)

	tests := []struct {
		name        string
		giveCT      string
		giveData    []byte
		wantErr     error
		wantEventID string
	}{
		{name: "canonical", giveCT: "application/protobuf", giveData: good, wantEventID: valid.EventId},
		{name: "content type with parameter", giveCT: "application/protobuf; proto=hookline.orders.v1.OrderStatusChanged", giveData: good, wantEventID: valid.EventId},
		{name: "unknown field", giveCT: "application/protobuf", giveData: withUnknown, wantEventID: valid.EventId},
		{name: "no content type", giveData: good, wantErr: consumer.ErrContentType},
		{name: "json", giveCT: "application/json", giveData: []byte(`{"eventId":"e-1"}`), wantErr: consumer.ErrContentType},
		{name: "garbage", giveCT: "application/protobuf", giveData: []byte("\xff\xff\xff not protobuf"), wantErr: consumer.ErrDecode},
		{name: "empty body", giveCT: "application/protobuf", giveData: nil, wantErr: consumer.ErrInvalidEvent},
		{name: "no event id", giveCT: "application/protobuf", giveData: mustMarshal(noID), wantErr: consumer.ErrInvalidEvent},
		{name: "no order id", giveCT: "application/protobuf", giveData: mustMarshal(noOrder), wantErr: consumer.ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := nats.Header{}
			if tt.giveCT != "" {
				h.Set(streams.HeaderContentType, tt.giveCT)
			}
			ev, err := consumer.Decode(h, tt.giveData)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, consumer.ErrPoison) || ev != nil {
					t.Fatalf("Decode = %v, %v; want %v and ErrPoison", ev, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if ev.GetEventId() != tt.wantEventID || ev.GetStatus() != valid.GetStatus() || ev.GetVersion() != valid.GetVersion() {
				t.Fatalf("Decode = %v, want the fields of %v", ev, valid)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	cause := errors.New("unknown SKU")
	tests := []struct {
		name      string
		give      error
		wantCause bool
	}{
		{name: "wraps", give: cause, wantCause: true},
		{name: "nil", give: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := consumer.Permanent(tt.give)
			if !errors.Is(err, consumer.ErrPermanent) {
				t.Fatalf("Permanent(%v) = %v, not ErrPermanent", tt.give, err)
			}
			if got := errors.Is(err, cause); got != tt.wantCause {
				t.Fatalf("errors.Is(Permanent(%v), cause) = %v, want %v", tt.give, got, tt.wantCause)
			}
		})
	}
}

func TestMetaOutsideHandler(t *testing.T) {
	if m, ok := consumer.Meta(context.Background()); ok {
		t.Fatalf("Meta outside a handler = %+v, true", m)
	}
}

// sampleEvent builds a canonical event the way the worker does.
func sampleEvent(tenant, provider, orderID, sourceID string, version int64) *ordersv1.OrderStatusChanged {
	at := time.Date(2026, 3, 1, 12, 0, int(version), 0, time.UTC)
	status := ordersv1.OrderStatus(min(version+1, int64(ordersv1.OrderStatus_ORDER_STATUS_DELIVERED)))
	return &ordersv1.OrderStatusChanged{
		EventId:                provider + ":" + tenant + ":" + sourceID,
		TenantId:               tenant,
		Provider:               provider,
		SourceEventId:          sourceID,
		OrderId:                orderID,
		PreviousStatus:         status - 1,
		Status:                 status,
		ProviderPreviousStatus: (status - 1).String(),
		ProviderStatus:         status.String(),
		Version:                version,
		Skipped:                []ordersv1.OrderStatus{ordersv1.OrderStatus_ORDER_STATUS_PLACED},
		OccurredAt:             timestamppb.New(at),
		ReceivedAt:             timestamppb.New(at.Add(time.Second)),
		AppliedAt:              timestamppb.New(at.Add(2 * time.Second)),
		SourceStreamSequence:   uint64(version) * 10,
	}
}
