package orders

import (
	"context"
	"errors"
	"fmt"
	"github.com/hookline/hookline/pkg/providers/all"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

const (
	unspecified     = ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED
	placed          = ordersv1.OrderStatus_ORDER_STATUS_PLACED
	approved        = ordersv1.OrderStatus_ORDER_STATUS_APPROVED
	shipped         = ordersv1.OrderStatus_ORDER_STATUS_SHIPPED
	delivered       = ordersv1.OrderStatus_ORDER_STATUS_DELIVERED
	completed       = ordersv1.OrderStatus_ORDER_STATUS_COMPLETED
	cancelled       = ordersv1.OrderStatus_ORDER_STATUS_CANCELLED
	returnRequested = ordersv1.OrderStatus_ORDER_STATUS_RETURN_REQUESTED
	refunded        = ordersv1.OrderStatus_ORDER_STATUS_REFUNDED
)

var base = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// step is one event for the order under test.
type step struct {
	give        string // provider status
	at          int    // occurrence, minutes after base
	want        Kind
	wantVersion int64
	wantSkipped []ordersv1.OrderStatus
}

func ap(status string, at int, version int64, skipped ...ordersv1.OrderStatus) step {
	return step{give: status, at: at, want: Applied, wantVersion: version, wantSkipped: skipped}
}

func stale(status string, at int, version int64) step {
	return step{give: status, at: at, want: Stale, wantVersion: version}
}

func rejected(status string, at int, version int64) step {
	return step{give: status, at: at, want: Rejected, wantVersion: version}
}

type lifecycleCase struct {
	name          string
	steps         []step
	wantStatus    string
	wantCanonical ordersv1.OrderStatus
}

func newStore(t *testing.T) *Store {
	t.Helper()
	r := testkit.StartRedis(t)
	s := NewStore(r.Client(t), time.Hour)
	t.Cleanup(s.Close)
	return s
}

// runLifecycle applies each case's steps to an order (or to item 1 of it) of its own and checks
// every outcome and the final state.
func runLifecycle(t *testing.T, provider string, items bool, cases []lifecycleCase) {
	book, err := NewBook(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	ctx := context.Background()
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orderID := fmt.Sprintf("order-%d", ci)
			for i, s := range tc.steps {
				req := Request{
					Tenant: "default", Provider: provider, OrderID: orderID,
					SourceEventID: fmt.Sprintf("evt-%d", i), Items: items, Seq: uint64(100 + i), AppliedAt: base.Add(time.Hour),
					Units: []Unit{{Status: book.For(provider).Resolve(s.give), OccurredAt: base.Add(time.Duration(s.at) * time.Minute)}},
				}
				if items {
					req.Units[0].ItemID = "1"
				}
				res, err := store.Apply(ctx, req)
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, s.give, err)
				}
				got := res.Outcomes[0]
				if got.Recorded || got.Record.Kind != s.want || got.Record.Version != s.wantVersion ||
					!slices.Equal(got.Record.Skipped, s.wantSkipped) {
					t.Fatalf("step %d (%s at +%dm) = %s v%d skipped %v recorded=%t, want %s v%d skipped %v",
						i, s.give, s.at, got.Record.Kind, got.Record.Version, got.Record.Skipped, got.Recorded,
						s.want, s.wantVersion, s.wantSkipped)
				}
			}
			hist, err := store.History(ctx, "default", provider, orderID)
			if err != nil || len(hist) != len(tc.steps) {
				t.Fatalf("History = %d entries, %v; want %d", len(hist), err, len(tc.steps))
			}
			for i, s := range tc.steps {
				h := hist[i]
				if h.Kind != s.want || h.Version != s.wantVersion || h.Status != book.For(provider).Resolve(s.give).Name ||
					h.SourceEventID != fmt.Sprintf("evt-%d", i) || h.Seq != uint64(100+i) {
					t.Fatalf("history %d = %+v, want %s v%d of step %d (%s)", i, h, s.want, s.wantVersion, i, s.give)
				}
			}
			v, err := store.Read(ctx, "default", provider, orderID)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			st := v.State
			if items {
				st = v.Items["1"]
			}
			last := tc.steps[len(tc.steps)-1].wantVersion
			if st.Status != tc.wantStatus || st.Canonical != tc.wantCanonical || st.Version != last {
				t.Fatalf("state = %s %s v%d, want %s %s v%d", st.Status, st.Canonical, st.Version, tc.wantStatus, tc.wantCanonical, last)
			}
		})
	}
}

func TestIntegrationApplyPetstoreLifecycle(t *testing.T) {
	runLifecycle(t, ProviderPetstore, false, []lifecycleCase{
		{"every forward step", []step{ap("PLACED", 1, 1), ap("APPROVED", 2, 2), ap("SHIPPED", 3, 3), ap("DELIVERED", 4, 4)}, "DELIVERED", delivered},
		{"placed to cancelled", []step{ap("PLACED", 1, 1), ap("CANCELLED", 2, 2)}, "CANCELLED", cancelled},
		{"approved to cancelled", []step{ap("PLACED", 1, 1), ap("APPROVED", 2, 2), ap("CANCELLED", 3, 3)}, "CANCELLED", cancelled},
		{"shipped to cancelled", []step{ap("SHIPPED", 1, 1, placed, approved), ap("CANCELLED", 3, 2)}, "CANCELLED", cancelled},
		{"payment succeeded means approved", []step{ap("PLACED", 1, 1), ap(StatusOfPayment, 2, 2), ap("SHIPPED", 3, 3)}, "SHIPPED", shipped},
		{"jump placed to shipped", []step{ap("PLACED", 1, 1), ap("SHIPPED", 3, 2, approved)}, "SHIPPED", shipped},
		{"jump placed to delivered", []step{ap("PLACED", 1, 1), ap("DELIVERED", 4, 2, approved, shipped)}, "DELIVERED", delivered},
		{"first seen delivered", []step{ap("DELIVERED", 4, 1, placed, approved, shipped)}, "DELIVERED", delivered},
		{"first seen cancelled", []step{ap("CANCELLED", 4, 1)}, "CANCELLED", cancelled},
		{"same status is stale", []step{ap("APPROVED", 2, 1, placed), stale("APPROVED", 3, 1)}, "APPROVED", approved},
		{"older is stale", []step{ap("SHIPPED", 3, 1, placed, approved), stale("APPROVED", 2, 1), stale("PLACED", 1, 1)}, "SHIPPED", shipped},
		{"older forward is stale", []step{ap("APPROVED", 5, 1, placed), stale("SHIPPED", 4, 1)}, "APPROVED", approved},
		{"newer backwards is stale", []step{ap("SHIPPED", 3, 1, placed, approved), stale("APPROVED", 4, 1)}, "SHIPPED", shipped},
		{"same time forward applies", []step{ap("PLACED", 1, 1), ap("APPROVED", 1, 2)}, "APPROVED", approved},
		{"out of delivered is rejected", []step{ap("DELIVERED", 4, 1, placed, approved, shipped), rejected("CANCELLED", 5, 1), rejected("SHIPPED", 6, 1)}, "DELIVERED", delivered},
		{"out of cancelled is rejected", []step{ap("CANCELLED", 2, 1), rejected("SHIPPED", 3, 1), rejected("ON_HOLD", 4, 1)}, "CANCELLED", cancelled},
		{"older than terminal is stale", []step{ap("DELIVERED", 4, 1, placed, approved, shipped), stale("SHIPPED", 3, 1)}, "DELIVERED", delivered},
		{"unknown status flows", []step{ap("PLACED", 1, 1), ap("ON_HOLD", 2, 2), ap("SHIPPED", 3, 3, approved)}, "SHIPPED", shipped},
		{"unknown status can be left at its rank", []step{ap("APPROVED", 1, 1, placed), ap("ON_HOLD", 2, 2), ap("APPROVED", 3, 3)}, "APPROVED", approved},
		{"unknown status first", []step{ap("MYSTERY", 1, 1), ap("PLACED", 2, 2)}, "PLACED", placed},
		{"unknown same raw status is stale", []step{ap("ON_HOLD", 1, 1), stale("ON_HOLD", 2, 1)}, "ON_HOLD", unspecified},
		{"unknown stays last", []step{ap("SHIPPED", 1, 1, placed, approved), ap("LOST", 2, 2)}, "LOST", unspecified},
		{"lowercase statuses", []step{ap("placed", 1, 1), ap("approved", 2, 2), stale("Approved", 3, 2)}, "APPROVED", approved},
	})
}

// StatusOfPayment is what the decoder makes of payment.succeeded.
const StatusOfPayment = "APPROVED"

func TestIntegrationApplyBunjangLifecycle(t *testing.T) {
	runLifecycle(t, ProviderBunjang, true, []lifecycleCase{
		{"every forward step", []step{ap("PAYMENT_RECEIVED", 1, 1), ap("SHIPPED", 2, 2), ap("DELIVERED", 3, 3), ap("PURCHASE_CONFIRMED", 4, 4)}, "PURCHASE_CONFIRMED", completed},
		{"cancellation", []step{ap("PAYMENT_RECEIVED", 1, 1), ap("CANCEL_REQUESTED", 2, 2), ap("CANCELLED", 3, 3)}, "CANCELLED", cancelled},
		{"return", []step{ap("DELIVERED", 1, 1, approved, shipped), ap("RETURN_REQUESTED", 2, 2), ap("REFUNDED", 3, 3)}, "REFUNDED", refunded},
		{"jump to delivered", []step{ap("PAYMENT_RECEIVED", 1, 1), ap("DELIVERED", 3, 2, shipped)}, "DELIVERED", delivered},
		{"jump to refunded", []step{ap("SHIPPED", 1, 1, approved), ap("REFUNDED", 3, 2, delivered, returnRequested)}, "REFUNDED", refunded},
		{"first seen cancelled", []step{ap("CANCELLED", 1, 1, approved)}, "CANCELLED", cancelled},
		{"shipped to cancelled", []step{ap("SHIPPED", 1, 1, approved), ap("CANCELLED", 2, 2)}, "CANCELLED", cancelled},
		{"same status is stale", []step{ap("SHIPPED", 1, 1, approved), stale("SHIPPED", 2, 1)}, "SHIPPED", shipped},
		{"older is stale", []step{ap("DELIVERED", 5, 1, approved, shipped), stale("SHIPPED", 4, 1)}, "DELIVERED", delivered},
		{"backwards is stale", []step{ap("DELIVERED", 5, 1, approved, shipped), stale("PAYMENT_RECEIVED", 6, 1)}, "DELIVERED", delivered},
		{"sibling branch is stale", []step{ap("CANCEL_REQUESTED", 1, 1, approved), stale("RETURN_REQUESTED", 2, 1)}, "CANCEL_REQUESTED", unspecified},
		{"out of purchase confirmed is rejected", []step{ap("PURCHASE_CONFIRMED", 1, 1, approved, shipped, delivered), rejected("RETURN_REQUESTED", 2, 1)}, "PURCHASE_CONFIRMED", completed},
		{"out of refunded is rejected", []step{ap("REFUNDED", 1, 1, approved, shipped, delivered, returnRequested), rejected("CANCELLED", 2, 1)}, "REFUNDED", refunded},
		{"unknown status flows", []step{ap("PAYMENT_RECEIVED", 1, 1), ap("PACKING", 2, 2), ap("SHIPPED", 3, 3)}, "SHIPPED", shipped},
	})
}

func TestIntegrationApplyDuplicateReturnsRecord(t *testing.T) {
	book, _ := NewBook(all.Registry())
	store := newStore(t)
	ctx := context.Background()
	req := Request{
		Tenant: "default", Provider: ProviderPetstore, OrderID: "o-1", SourceEventID: "e-1", Seq: 7, AppliedAt: base,
		Units: []Unit{{Status: book.For(ProviderPetstore).Resolve("SHIPPED"), OccurredAt: base}},
	}
	first, err := store.Apply(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The same event id again, from another stream message, applied later: nothing changes.
	req.Seq, req.AppliedAt = 9, base.Add(time.Minute)
	second, err := store.Apply(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Outcomes[0].Recorded || !second.Outcomes[0].Recorded {
		t.Fatalf("recorded = %t then %t, want false then true", first.Outcomes[0].Recorded, second.Outcomes[0].Recorded)
	}
	a, b := first.Outcomes[0].Record, second.Outcomes[0].Record
	if a.Kind != Applied || b.Kind != Applied || a.Version != 1 || b.Version != 1 || b.Seq != 7 ||
		!a.AppliedAt.Equal(b.AppliedAt) || !slices.Equal(a.Skipped, b.Skipped) || b.Status != "SHIPPED" {
		t.Fatalf("records differ: %+v vs %+v", a, b)
	}
	v, err := store.Read(ctx, "default", ProviderPetstore, "o-1")
	if err != nil || v.Version != 1 {
		t.Fatalf("Read = v%d, %v; want version 1", v.Version, err)
	}
	if second.PublishedSeq != 0 {
		t.Fatalf("published marker %d before MarkPublished", second.PublishedSeq)
	}
	if err := store.MarkPublished(ctx, "default", ProviderPetstore, "o-1", "e-1", 7); err != nil {
		t.Fatal(err)
	}
	// The marker is written asynchronously, in a later pipeline.
	deadline := time.Now().Add(5 * time.Second)
	for {
		third, err := store.Apply(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if third.PublishedSeq == 7 {
			break
		}
		if third.PublishedSeq != 0 || time.Now().After(deadline) {
			t.Fatalf("published marker = %d, want 7", third.PublishedSeq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIntegrationApplyItemsAtomicallyAndTTL(t *testing.T) {
	book, _ := NewBook(all.Registry())
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	store := NewStore(rdb, 90*time.Minute)
	t.Cleanup(store.Close)
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
	res, err := store.Apply(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range res.Outcomes {
		if o.Recorded || o.Record.Kind != Applied || o.Record.Version != 1 {
			t.Fatalf("outcome %d = %+v, want applied v1", i, o)
		}
	}
	v, err := store.Read(ctx, "default", ProviderBunjang, "100")
	if err != nil {
		t.Fatal(err)
	}
	// The top level is the most recently changed item: the last one in the event.
	if v.Status != "SHIPPED" || v.Canonical != shipped || v.Version != 1 || len(v.Items) != 2 ||
		v.Items["1001"].Status != "PAYMENT_RECEIVED" || v.Items["1002"].Canonical != shipped {
		t.Fatalf("view = %+v", v)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 6 {
		t.Fatalf("keys = %v, want order, items, 2 item states, the event record and the history", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "hl:{default:bunjang:100}:") {
			t.Errorf("key %q outside the order's hash tag", k)
		}
	}
	for _, k := range []string{EventKey("default", ProviderBunjang, "100", req.SourceEventID), HistoryKey("default", ProviderBunjang, "100")} {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil || ttl <= 89*time.Minute || ttl > 90*time.Minute {
			t.Fatalf("%s TTL = %s, %v; want about 90m", k, ttl, err)
		}
	}
	for _, k := range []string{OrderKey("default", ProviderBunjang, "100"), ItemKey("default", ProviderBunjang, "100", "1001")} {
		if ttl, _ := rdb.PTTL(ctx, k).Result(); ttl != -1 {
			t.Errorf("%s TTL = %s, want none", k, ttl)
		}
	}
}

func TestIntegrationReadUnknownOrder(t *testing.T) {
	store := newStore(t)
	if _, err := store.Read(context.Background(), "default", ProviderPetstore, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read = %v, want ErrNotFound", err)
	}
}

func TestIntegrationRedisDownIsUnavailable(t *testing.T) {
	book, _ := NewBook(all.Registry())
	r := testkit.StartRedis(t)
	store := NewStore(r.Client(t), time.Hour)
	t.Cleanup(store.Close)
	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := store.Apply(ctx, Request{
		Tenant: "default", Provider: ProviderPetstore, OrderID: "o", SourceEventID: "e", Seq: 1, AppliedAt: base,
		Units: []Unit{{Status: book.For(ProviderPetstore).Resolve("PLACED"), OccurredAt: base}},
	})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Apply with Redis down = %v, want ErrUnavailable", err)
	}
	if err := store.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping = %v, want ErrUnavailable", err)
	}
}

func TestIntegrationRecordKeepsAnyStatusBytes(t *testing.T) {
	book, _ := NewBook(all.Registry())
	store := newStore(t)
	ctx := context.Background()
	odd := "ON\x1fHOLD|\"é\""
	lc := book.For(ProviderPetstore)
	for i, st := range []string{odd, "SHIPPED"} {
		res, err := store.Apply(ctx, Request{
			Tenant: "default", Provider: ProviderPetstore, OrderID: "o", SourceEventID: fmt.Sprintf("e-%d", i), Seq: uint64(i + 1),
			AppliedAt: base, Units: []Unit{{Status: lc.Resolve(st), OccurredAt: base.Add(time.Duration(i) * time.Minute)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := res.Outcomes[0].Record
		if i == 0 && (rec.Status != odd || rec.PreviousStatus != "") {
			t.Fatalf("record = %+v, want status %q", rec, odd)
		}
		if i == 1 && (rec.Status != "SHIPPED" || rec.PreviousStatus != odd || rec.PreviousCanonical != unspecified || rec.Version != 2) {
			t.Fatalf("record = %+v, want previous status %q", rec, odd)
		}
	}
}

func TestParseRecordRejects(t *testing.T) {
	for _, give := range []string{
		"",
		"applied\x1f1\x1f0\x1f1\x1f\x1f5\x1f7\x1f0",           // 8 fields
		"bogus\x1f1\x1f0\x1f1\x1f\x1f5\x1f7\x1f0\x1fPLACED",   // kind
		"applied\x1fx\x1f0\x1f1\x1f\x1f5\x1f7\x1f0\x1fPLACED", // version
		"applied\x1f1\x1f0\x1f1\x1fa,b\x1f5\x1f7\x1f0\x1fPLACED",
		"applied\x1f1\x1f0\x1f1\x1f\x1f5\x1f7\x1f9\x1fPLACED", // length beyond the rest
	} {
		if _, err := parseRecord(give); !errors.Is(err, ErrBadReply) {
			t.Errorf("parseRecord(%q) = %v, want ErrBadReply", give, err)
		}
	}
	r, err := parseRecord("stale\x1f3\x1f2\x1f3\x1f1,2\x1f5\x1f7\x1f6\x1fPLACEDSHIPPED")
	if err != nil || r.Kind != Stale || r.Version != 3 || r.PreviousStatus != "PLACED" || r.Status != "SHIPPED" ||
		!slices.Equal(r.Skipped, []ordersv1.OrderStatus{placed, approved}) || r.Seq != 7 {
		t.Fatalf("parseRecord = %+v, %v", r, err)
	}
}

func TestKeysCannotCollide(t *testing.T) {
	// Order "x" with event "foo}:e:bar" against order "x}:e:foo" with event "bar".
	a := EventKey("default", "petstore", "x", "foo}:e:bar")
	b := EventKey("default", "petstore", "x}:e:foo", "bar")
	if a == b {
		t.Fatalf("keys collide: %s", a)
	}
	for _, k := range []string{a, b, ItemKey("default", "bunjang", "{1}", "2:3"), OrderKey("default", "acme", "%7B")} {
		if strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 {
			t.Errorf("key %q: want exactly one hash tag", k)
		}
	}
	if OrderKey("default", "acme", "%7B") == OrderKey("default", "acme", "{") {
		t.Errorf("escaped and literal ids share a key")
	}
}

// A server that lost its script cache answers NOSCRIPT; the batcher loads the script and runs the
// calls again, so the caller never sees it.
func TestIntegrationApplyAfterScriptFlush(t *testing.T) {
	book, _ := NewBook(all.Registry())
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	store := NewStore(rdb, time.Hour)
	t.Cleanup(store.Close)
	ctx := context.Background()
	req := func(event, status string) Request {
		return Request{
			Tenant: "default", Provider: ProviderPetstore, OrderID: "o-flush", SourceEventID: event, Seq: 1, AppliedAt: base,
			Units: []Unit{{Status: book.For(ProviderPetstore).Resolve(status), OccurredAt: base}},
		}
	}
	if _, err := store.Apply(ctx, req("e-1", "PLACED")); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := store.Apply(ctx, req("e-2", "SHIPPED"))
	if err != nil {
		t.Fatalf("Apply after SCRIPT FLUSH: %v", err)
	}
	if got := res.Outcomes[0].Record; got.Kind != Applied || got.Version != 2 {
		t.Fatalf("after SCRIPT FLUSH: %+v, want applied version 2", got)
	}
}

// classify reads the server's error by its prefix through go-redis, not by matching text.
func TestIntegrationClassify(t *testing.T) {
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	ctx := context.Background()
	if err := rdb.Set(ctx, "str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	wrongType := rdb.HGet(ctx, "str", "f").Err()
	noScript := rdb.EvalSha(ctx, strings.Repeat("0", 40), nil).Err()
	// reply makes the server answer with exactly this error line, so go-redis parses it into
	// its typed error as it would a real TRYAGAIN or MOVED.
	reply := func(line string) error {
		return rdb.Eval(ctx, "return redis.error_reply(ARGV[1])", nil, line).Err()
	}
	tests := []struct {
		name string
		give error
		want bool // ErrUnavailable
	}{
		{"wrong type stays", wrongType, false},
		{"noscript stays", noScript, false},
		{"script error stays", reply("ERR user_script:1: bad"), false},
		{"client failure is an outage", fmt.Errorf("dial: %w", errors.New("connection refused")), true},
		{"loading", reply("LOADING Redis is loading the dataset in memory"), true},
		{"tryagain", reply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"clusterdown", reply("CLUSTERDOWN The cluster is down"), true},
		{"moved (redirections ran out)", reply("MOVED 3999 127.0.0.1:6381"), true},
		{"ask", reply("ASK 3999 127.0.0.1:6381"), true},
		{"readonly replica", reply("READONLY You can't write against a read only replica."), true},
		{"masterdown", reply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true},
		{"noreplicas", reply("NOREPLICAS Not enough good replicas to write."), true},
		{"busy script", reply("BUSY Redis is busy running a script."), true},
		{"not replicated", fmt.Errorf("%w: %w", ErrUnavailable, ErrNotReplicated), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.give == nil {
				t.Fatal("no error to classify")
			}
			if got := errors.Is(classify(tt.give), ErrUnavailable); got != tt.want {
				t.Fatalf("classify(%v) unavailable = %t, want %t", tt.give, got, tt.want)
			}
		})
	}
}
