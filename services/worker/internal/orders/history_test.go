package orders

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/testkit"
)

// A redelivery (same message) and a re-send (another message, same event id) each add a
// duplicate entry carrying the unit's version then, with the applied entry listed once.
func TestIntegrationHistoryDuplicatePerArrival(t *testing.T) {
	book, _ := NewBook(all.Registry())
	store := newStore(t)
	ctx := context.Background()
	lc := book.For(ProviderPetstore)
	recv := base.Add(-time.Second)
	apply := func(event string, seq uint64, status string, at time.Time) {
		t.Helper()
		_, err := store.Apply(ctx, Request{
			Tenant: "default", Provider: ProviderPetstore, OrderID: "o-1", SourceEventID: event, Seq: seq,
			ReceivedAt: recv, AppliedAt: base.Add(time.Duration(seq) * time.Second),
			Units: []Unit{{Status: lc.Resolve(status), OccurredAt: at}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	apply("e-1", 1, "PLACED", base)
	apply("e-1", 1, "PLACED", base) // redelivered
	apply("e-2", 2, "SHIPPED", base.Add(time.Minute))
	apply("e-1", 3, "PLACED", base) // re-sent
	hist, err := store.History(ctx, "default", ProviderPetstore, "o-1")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		event string
		kind  Kind
		ver   int64
		seq   uint64
		st    string
	}{
		{"e-1", Applied, 1, 1, "PLACED"},
		{"e-1", Duplicate, 1, 1, "PLACED"},
		{"e-2", Applied, 2, 2, "SHIPPED"},
		{"e-1", Duplicate, 2, 3, "PLACED"},
	}
	if len(hist) != len(want) {
		t.Fatalf("history = %+v, want %d entries", hist, len(want))
	}
	for i, w := range want {
		h := hist[i]
		if h.SourceEventID != w.event || h.Kind != w.kind || h.Version != w.ver || h.Seq != w.seq || h.Status != w.st ||
			h.Canonical != lc.Resolve(w.st).Canonical || h.ItemID != "" || !h.ReceivedAt.Equal(recv) ||
			!h.AppliedAt.Equal(base.Add(time.Duration(w.seq)*time.Second)) {
			t.Errorf("entry %d = %+v, want %+v", i, h, w)
		}
	}
	if !hist[2].OccurredAt.Equal(base.Add(time.Minute)) {
		t.Errorf("occurred = %s, want %s", hist[2].OccurredAt, base.Add(time.Minute))
	}
}

// Bunjang: one entry per item, in the event's order; odd bytes in ids and statuses survive.
func TestIntegrationHistoryItems(t *testing.T) {
	book, _ := NewBook(all.Registry())
	store := newStore(t)
	ctx := context.Background()
	lc := book.For(ProviderBunjang)
	odd := "PACK\x1fING:{x}"
	for i, units := range [][]Unit{
		{{ItemID: "1001", Status: lc.Resolve("PAYMENT_RECEIVED"), OccurredAt: base}, {ItemID: "10\x1f02", Status: lc.Resolve("SHIPPED"), OccurredAt: base}},
		{{ItemID: "1001", Status: lc.Resolve(odd), OccurredAt: base.Add(time.Minute)}, {ItemID: "10\x1f02", Status: lc.Resolve("PAYMENT_RECEIVED"), OccurredAt: base.Add(time.Minute)}},
	} {
		if _, err := store.Apply(ctx, Request{
			Tenant: "default", Provider: ProviderBunjang, OrderID: "100", SourceEventID: fmt.Sprintf("E\x1f%d", i), Items: true,
			Seq: uint64(i + 1), AppliedAt: base, Units: units,
		}); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := store.History(ctx, "default", ProviderBunjang, "100")
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{SourceEventID: "E\x1f0", ItemID: "1001", Kind: Applied, Status: "PAYMENT_RECEIVED", Version: 1, Seq: 1},
		{SourceEventID: "E\x1f0", ItemID: "10\x1f02", Kind: Applied, Status: "SHIPPED", Version: 1, Seq: 1},
		{SourceEventID: "E\x1f1", ItemID: "1001", Kind: Applied, Status: odd, Version: 2, Seq: 2},
		{SourceEventID: "E\x1f1", ItemID: "10\x1f02", Kind: Stale, Status: "PAYMENT_RECEIVED", Version: 1, Seq: 2},
	}
	if len(hist) != len(want) {
		t.Fatalf("history = %+v, want %d entries", hist, len(want))
	}
	for i, w := range want {
		h := hist[i]
		if h.SourceEventID != w.SourceEventID || h.ItemID != w.ItemID || h.Kind != w.Kind || h.Status != w.Status ||
			h.Version != w.Version || h.Seq != w.Seq || !h.ReceivedAt.IsZero() {
			t.Errorf("entry %d = %+v, want %+v", i, h, w)
		}
	}
}

// The history keeps the last HistoryLimit entries: 1 005 events through the script leave the
// last 1 000, oldest first, with the record TTL.
func TestIntegrationHistoryCap(t *testing.T) {
	book, _ := NewBook(all.Registry())
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	store := NewStore(rdb, 90*time.Minute)
	t.Cleanup(store.Close)
	ctx := context.Background()
	st := book.For(ProviderPetstore).Resolve("PLACED")
	const total = HistoryLimit + 5
	for i := range total {
		if _, err := store.Apply(ctx, Request{
			Tenant: "default", Provider: ProviderPetstore, OrderID: "o-1", SourceEventID: fmt.Sprintf("e-%d", i),
			Seq: uint64(i + 1), AppliedAt: base, Units: []Unit{{Status: st, OccurredAt: base}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := store.History(ctx, "default", ProviderPetstore, "o-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != HistoryLimit || hist[0].SourceEventID != "e-5" || hist[len(hist)-1].SourceEventID != fmt.Sprintf("e-%d", total-1) {
		t.Fatalf("history holds %d entries from %s to %s, want %d from e-5 to e-%d",
			len(hist), hist[0].SourceEventID, hist[len(hist)-1].SourceEventID, HistoryLimit, total-1)
	}
	if hist[0].Kind != Stale || hist[0].Version != 1 {
		t.Fatalf("entry e-5 = %+v, want stale v1 (PLACED again)", hist[0])
	}
	ttl, err := rdb.PTTL(ctx, HistoryKey("default", ProviderPetstore, "o-1")).Result()
	if err != nil || ttl <= 89*time.Minute || ttl > 90*time.Minute {
		t.Fatalf("history TTL = %s, %v; want about 90m", ttl, err)
	}
}

func TestIntegrationHistoryUnknownOrder(t *testing.T) {
	store := newStore(t)
	if _, err := store.History(context.Background(), "default", ProviderPetstore, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("History = %v, want ErrNotFound", err)
	}
}

func TestParseEntryRejects(t *testing.T) {
	ok := "a\x1f1\x1f1\x1f7\x1f5\x1f6\x1f8\x1f3\x1f0\x1fe-1PLACED"
	if e, err := parseEntry(ok); err != nil || e.SourceEventID != "e-1" || e.Status != "PLACED" || e.Seq != 7 {
		t.Fatalf("parseEntry(valid) = %+v, %v", e, err)
	}
	for _, give := range []string{
		"",
		"a\x1f1\x1f1\x1f7\x1f5\x1f6\x1f8\x1f3\x1fe-1PLACED",        // 9 fields
		"x\x1f1\x1f1\x1f7\x1f5\x1f6\x1f8\x1f3\x1f0\x1fe-1PLACED",   // kind
		"a\x1fv\x1f1\x1f7\x1f5\x1f6\x1f8\x1f3\x1f0\x1fe-1PLACED",   // version
		"a\x1f1\x1f1\x1f-7\x1f5\x1f6\x1f8\x1f3\x1f0\x1fe-1PLACED",  // sequence
		"a\x1f1\x1f1\x1f7\x1f5\x1fnow\x1f8\x1f3\x1f0\x1fe-1PLACED", // received
		"a\x1f1\x1f1\x1f7\x1f5\x1f6\x1f8\x1f30\x1f0\x1fe-1PLACED",  // lengths beyond the rest
	} {
		if _, err := parseEntry(give); !errors.Is(err, ErrBadReply) {
			t.Errorf("parseEntry(%q) = %v, want ErrBadReply", give, err)
		}
	}
}
