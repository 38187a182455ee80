package callbacks

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/hookline/hookline/services/ingress/internal/publish"
	"go.uber.org/zap"
)

func callbackBody(amount, currency, url string) string {
	return `{"amount": ` + amount + `, "currency": "` + currency + `", "timestamp": "1758613403", "callbackUrl": "` + url + `"}`
}

func answerCode(t *testing.T, body []byte) string {
	t.Helper()
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return got["code"]
}

func TestIntakeIdempotencyConflict(t *testing.T) {
	// A duplicate window shorter than the test, so "delivered once" cannot rest on it.
	v := setupStreams(t, streams.Options{DuplicateWindow: 100 * time.Millisecond}, nil)
	auth := "Bearer " + validToken(t)
	const url = "https://93.184.216.34/cb"
	first := v.post(t, "ord-9", auth, "", callbackBody(`"738.05"`, "USD", url))
	if first.Code != http.StatusCreated {
		t.Fatalf("first: status %d, body %s", first.Code, first.Body)
	}
	var a Accepted
	if err := json.Unmarshal(first.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the stream's duplicate window

	tests := []struct {
		name     string
		body     string
		tenant   string
		order    string
		want     int
		wantCode string
	}{
		{name: "same body", body: callbackBody(`"738.05"`, "USD", url), want: 201},
		{name: "same amount as a number", body: callbackBody(`738.05`, "USD", url), want: 201},
		{name: "same amount in exponent form", body: callbackBody(`7.3805e2`, "USD", url), want: 201},
		{name: "another amount", body: callbackBody(`"738.06"`, "USD", url), want: 409, wantCode: CodeIdempotencyConflict},
		{name: "another currency", body: callbackBody(`"738.05"`, "EUR", url), want: 409, wantCode: CodeIdempotencyConflict},
		{name: "another callbackUrl", body: callbackBody(`"738.05"`, "USD", url+"2"), want: 409, wantCode: CodeIdempotencyConflict},
		{name: "same body again after conflicts", body: callbackBody(`"738.05"`, "USD", url), want: 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := v.post(t, "ord-9", auth, "", tt.body)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tt.want, rec.Body)
			}
			if tt.want == http.StatusCreated {
				var got Accepted
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.ID != a.ID {
					t.Fatalf("answered %s, want id %s", rec.Body, a.ID)
				}
				return
			}
			if code := answerCode(t, rec.Body.Bytes()); code != tt.wantCode {
				t.Fatalf("code %q, want %q", code, tt.wantCode)
			}
		})
	}
	if got := v.stored(t); got != 1 {
		t.Fatalf("CALLBACKS holds %d messages, want 1", got)
	}
	// Another order, or the same order with another timestamp, is another request.
	if rec := v.post(t, "ord-10", auth, "", callbackBody(`"1"`, "USD", url)); rec.Code != http.StatusCreated {
		t.Fatalf("another order: status %d", rec.Code)
	}
	other := `{"amount": "1", "currency": "USD", "timestamp": "1758613404", "callbackUrl": "` + url + `"}`
	if rec := v.post(t, "ord-9", auth, "", other); rec.Code != http.StatusCreated {
		t.Fatalf("another timestamp: status %d", rec.Code)
	}
	if got := v.stored(t); got != 3 {
		t.Fatalf("CALLBACKS holds %d messages, want 3", got)
	}
}

func TestIntakeIdempotencyConcurrent(t *testing.T) {
	v := setup(t, nil)
	auth := "Bearer " + validToken(t)
	const n = 16
	run := func(order string, body func(i int) string) []int {
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { codes[i] = v.post(t, order, auth, "", body(i)).Code })
		}
		wg.Wait()
		return codes
	}
	same := run("same", func(int) string { return validBody })
	for i, c := range same {
		if c != http.StatusCreated {
			t.Errorf("identical request %d: status %d, want 201", i, c)
		}
	}
	mixed := run("mixed", func(i int) string {
		return callbackBody(strconv.Itoa(i+1), "USD", "https://93.184.216.34/cb")
	})
	var created, conflicts int
	for _, c := range mixed {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Errorf("different bodies: %d created, %d conflicts, want 1 and %d (codes %v)", created, conflicts, n-1, mixed)
	}
	if got := v.stored(t); got != 2 {
		t.Fatalf("CALLBACKS holds %d messages, want 2 (one a key)", got)
	}
}

func TestIntakeFailedPublishFreesTheKey(t *testing.T) {
	n := testkit.StartNATS(t)
	nc, js := n.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Options{}); err != nil {
		t.Fatal(err)
	}
	pub, err := publish.New(nc, publish.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := NewBucketStore(js, streams.Options{})
	down := &env{e: newEcho(New(testConfig(t), failingPublisher{}, zap.NewNop(), Options{Requests: store})), js: js}
	up := &env{e: newEcho(New(testConfig(t), pub, zap.NewNop(), Options{Requests: store})), js: js}
	auth := "Bearer " + validToken(t)
	const url = "https://93.184.216.34/cb"
	if rec := down.post(t, "ord-1", auth, "", callbackBody(`"1"`, "USD", url)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("publish failing: status %d, want 503", rec.Code)
	}
	if rec := up.post(t, "ord-1", auth, "", callbackBody(`"2"`, "USD", url)); rec.Code != http.StatusCreated {
		t.Fatalf("after a 503 another body: status %d, want 201 (nothing was retained)", rec.Code)
	}
	if rec := up.post(t, "ord-1", auth, "", callbackBody(`"1"`, "USD", url)); rec.Code != http.StatusConflict {
		t.Fatalf("then the first body: status %d, want 409", rec.Code)
	}
	if got := up.stored(t); got != 1 {
		t.Fatalf("CALLBACKS holds %d messages, want 1", got)
	}
}

func TestIntakeCompletesAPendingRecord(t *testing.T) {
	v := setup(t, nil)
	ctx := context.Background()
	store := NewBucketStore(v.js, streams.Options{})
	// An attempt that reserved the key and died before publishing.
	key := streams.CallbackRequestKey("default", "ord-5", "1758613403")
	id := streams.CallbackEventID("default", "ord-5", "1758613403")
	pending, err := json.Marshal(record{ID: id, Hash: requestHash("738.05", "USD", "https://93.184.216.34/hooks/order")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, key, pending); err != nil {
		t.Fatal(err)
	}
	if rec := v.post(t, "ord-5", "Bearer "+validToken(t), "", validBody); rec.Code != http.StatusCreated {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if got := v.stored(t); got != 1 {
		t.Fatalf("CALLBACKS holds %d messages, want 1", got)
	}
	e, err := store.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil || !r.Stored || r.ID != id {
		t.Fatalf("record %s, want stored with id %s", e.Value(), id)
	}
}

func TestCallbackRequestsBucketTTL(t *testing.T) {
	v := setupStreams(t, streams.Options{MaxAge: 36 * time.Hour}, nil)
	if rec := v.post(t, "ord-ttl", "Bearer "+validToken(t), "", validBody); rec.Code != http.StatusCreated {
		t.Fatalf("status %d", rec.Code)
	}
	kv, err := v.js.KeyValue(context.Background(), streams.CallbackRequests)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != 36*time.Hour {
		t.Fatalf("bucket TTL %s, want the stream max age 36h", st.TTL())
	}
}
