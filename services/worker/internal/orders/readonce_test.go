package orders

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/redis/go-redis/v9"
)

// TestApplyRefusesRepeatedItem: the script reads every unit's record before writing, so one item
// twice in one request is refused before anything runs (the Bunjang parser refuses it first).
func TestApplyRefusesRepeatedItem(t *testing.T) {
	book, err := NewBook(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: the request must be refused without a call.
	store := NewStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), time.Hour)
	t.Cleanup(store.Close)
	lc := book.For(ProviderBunjang)
	_, err = store.Apply(context.Background(), Request{
		Tenant: "default", Provider: ProviderBunjang, OrderID: "100", SourceEventID: "E", Items: true, Seq: 1, AppliedAt: base,
		Units: []Unit{
			{ItemID: "1001", Status: lc.Resolve("PAYMENT_RECEIVED"), OccurredAt: base},
			{ItemID: "1001", Status: lc.Resolve("SHIPPED"), OccurredAt: base},
		},
	})
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("Apply = %v, want ErrBadRequest", err)
	}
}

// TestIntegrationApplyRecordsPerUnit: the one read of the event record gives each unit its own
// field: a later message with the same event id and one more item finds the first two recorded
// (their records unchanged) and applies the third.
func TestIntegrationApplyRecordsPerUnit(t *testing.T) {
	book, err := NewBook(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	ctx := context.Background()
	lc := book.For(ProviderBunjang)
	req := Request{
		Tenant: "default", Provider: ProviderBunjang, OrderID: "100", SourceEventID: "01K0AZRPB4N36H9NMDJRMYXM7A",
		Items: true, Seq: 3, AppliedAt: base,
		Units: []Unit{
			{ItemID: "1001", Status: lc.Resolve("PAYMENT_RECEIVED"), OccurredAt: base},
			{ItemID: "1002", Status: lc.Resolve("SHIPPED"), OccurredAt: base},
		},
	}
	first, err := store.Apply(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Seq, req.AppliedAt = 4, base.Add(time.Minute)
	req.Units = []Unit{
		{ItemID: "1002", Status: lc.Resolve("DELIVERED"), OccurredAt: base},
		{ItemID: "1003", Status: lc.Resolve("SHIPPED"), OccurredAt: base},
		{ItemID: "1001", Status: lc.Resolve("SHIPPED"), OccurredAt: base},
	}
	second, err := store.Apply(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		item     string
		recorded bool
		status   string
		seq      uint64
	}{
		{"1002", true, "SHIPPED", 3},
		{"1003", false, "SHIPPED", 4},
		{"1001", true, "PAYMENT_RECEIVED", 3},
	}
	for i, w := range want {
		o := second.Outcomes[i]
		if o.ItemID != w.item || o.Recorded != w.recorded || o.Record.Kind != Applied || o.Record.Status != w.status || o.Record.Seq != w.seq {
			t.Fatalf("outcome %d = %+v, want item %s recorded=%t %s from seq %d", i, o, w.item, w.recorded, w.status, w.seq)
		}
	}
	if got, old := second.Outcomes[0].Record, first.Outcomes[1].Record; got.Version != old.Version || !got.AppliedAt.Equal(old.AppliedAt) {
		t.Fatalf("recorded item 1002 = %+v, want the first record %+v", got, old)
	}
	v, err := store.Read(ctx, "default", ProviderBunjang, "100")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Items) != 3 || v.Items["1002"].Status != "SHIPPED" || v.Items["1001"].Status != "PAYMENT_RECEIVED" || v.Items["1003"].Version != 1 {
		t.Fatalf("view = %+v, want the recorded items unchanged and 1003 applied", v)
	}
}
