package loadgen

import (
	"bufio"
	"context"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
)

// crockford is the ULID alphabet (Crockford base32).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// decodeULIDTime reads the 48-bit millisecond time of a ULID, independently of newULID.
func decodeULIDTime(t *testing.T, s string) time.Time {
	t.Helper()
	var ms uint64
	for _, c := range s[:10] {
		i := strings.IndexRune(crockford, c)
		if i < 0 {
			t.Fatalf("%q: %q is not Crockford base32", s, c)
		}
		ms = ms<<5 | uint64(i)
	}
	return time.UnixMilli(int64(ms))
}

func TestULID(t *testing.T) {
	rnd := mrand.New(mrand.NewPCG(1, 2))
	tests := []struct {
		name string
		give time.Time
	}{
		{"epoch", time.UnixMilli(0)},
		{"contract vector era", time.Date(2025, 1, 1, 0, 0, 0, 123e6, time.UTC)},
		{"now", time.Now().Truncate(time.Millisecond)},
		{"max 48 bits", time.UnixMilli(1<<48 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newULID(tt.give, rnd)
			if len(id) != 26 || id[0] > '7' {
				t.Fatalf("%q: want 26 characters starting 0-7", id)
			}
			if got := decodeULIDTime(t, id); !got.Equal(tt.give) {
				t.Fatalf("%q encodes %s, want %s", id, got, tt.give)
			}
		})
	}
	if a, b := ULID(time.Now()), ULID(time.Now()); a == b {
		t.Fatalf("two ULIDs are equal: %s", a)
	}
}

// The oracle keeps, per order or item, the highest-ranked status acknowledged.
func TestGeneratorOrdersAndOracle(t *testing.T) {
	s := &Scenario{Orders: 10, Mix: petBun(0.5), ShuffleRate: 1, RunID: "t"}
	g := newGenerator(s, 0)
	seen := map[string][]int{}
	for range 40 {
		r := g.next(1)
		if len(r.Headers) == 0 {
			t.Fatalf("%s request unsigned", r.Provider)
		}
		for _, st := range r.Statuses {
			seen[st.key] = append(seen[st.key], st.rank)
		}
		switch r.Provider {
		case "petstore":
			if err := mustVerifier(t, "petstore").Verify(header(r), r.Body); err != nil {
				t.Fatalf("petstore signature: %v", err)
			}
		case "bunjang":
			if err := mustVerifier(t, "bunjang").Verify(header(r), r.Body); err != nil {
				t.Fatalf("bunjang signature: %v", err)
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no orders generated")
	}
	for key, ranks := range seen {
		if len(ranks) != 4 {
			t.Errorf("%s: %d events, want the 4 of its lifecycle", key, len(ranks))
		}
	}
}

// petBun is the mix of the old PetstoreShare: that share of Petstore orders (secret "p"), the
// rest Bunjang (secret "b").
func petBun(share float64) []Share {
	return []Share{
		{Provider: petstore.Provider{}, Weight: share, Secret: []byte("p")},
		{Provider: bunjang.Provider{}, Weight: 1 - share, Secret: []byte("b")},
	}
}

func header(r *Request) http.Header {
	h := http.Header{}
	for _, kv := range r.Headers {
		h.Set(kv[0], kv[1])
	}
	return h
}

func mustVerifier(t *testing.T, provider string) providers.Verifier {
	t.Helper()
	var v providers.Verifier
	var err error
	if provider == "petstore" {
		v, err = petstore.NewVerifier([][]byte{[]byte("p")})
	} else {
		v, err = bunjang.NewVerifier([][]byte{[]byte("b")}, time.Minute, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWriteCorpus(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "c")
	s := Scenario{Mix: petBun(0.5), RunID: "t"}
	if err := WriteCorpus(prefix, 2, 20, "127.0.0.1:1", s); err != nil {
		t.Fatal(err)
	}
	for part := range 2 {
		f, err := os.Open(prefix + "." + strconv.Itoa(part))
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(f)
		n := 0
		for {
			line, err := r.ReadString('\n')
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			size, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("entry %d: length line %q", n, line)
			}
			req, err := http.ReadRequest(bufio.NewReader(io.LimitReader(r, int64(size))))
			if err != nil {
				t.Fatalf("entry %d is not an HTTP request: %v", n, err)
			}
			body, _ := io.ReadAll(req.Body)
			if req.Method != http.MethodPost || int64(len(body)) != req.ContentLength || len(body) == 0 {
				t.Fatalf("entry %d: %s with %d of %d body bytes", n, req.Method, len(body), req.ContentLength)
			}
			n++
		}
		_ = f.Close()
		if n != 10 {
			t.Fatalf("part %d holds %d requests, want 10", part, n)
		}
	}
}

// Run against a real server: statuses are counted, 503s are retried, the oracle only holds
// acknowledged events.
func TestRunCountsAndRetries(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		calls++
		if calls%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{
		Target: srv.URL, Concurrency: 1, Count: 30, Retries: 3, RetryDelay: time.Millisecond,
		Scenario: Scenario{Orders: 5, Mix: petBun(1), RunID: "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 30 || res.Failed != 0 || res.Retried == 0 || res.ByStatus[204] != 30 {
		t.Fatalf("acked %d failed %d retried %d statuses %v; want 30 acknowledged after retries", res.Acked, res.Failed, res.Retried, res.ByStatus)
	}
	if len(res.Expected) == 0 || len(res.Uncertain) != 0 {
		t.Fatalf("oracle %d keys, %d uncertain", len(res.Expected), len(res.Uncertain))
	}
}

// At a fixed rate a run sends at most rate × duration requests: no slot past the end.
func TestFixedRateSendsNoExtraRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{
		Target: srv.URL, Concurrency: 4, Rate: 200, Duration: 300 * time.Millisecond,
		Scenario: Scenario{Orders: 5, Mix: petBun(1), RunID: "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests > 60 || res.Requests == 0 {
		t.Fatalf("%d requests at 200/s for 300ms, want at most 60", res.Requests)
	}
}

// newULID is deterministic for a seeded source, so a bench run can be replayed: pin its output.
func TestULIDPinned(t *testing.T) {
	rnd := mrand.New(mrand.NewPCG(1, 2))
	tests := []struct {
		give time.Time
		want string
	}{
		{time.Date(2025, 1, 1, 0, 0, 0, 123e6, time.UTC), "01JGFJJZ3V23TPSV3X0YPW7KMX"},
		{time.UnixMilli(1<<48 - 1), "7ZZZZZZZZZH209NG9TPVEC1VEB"},
	}
	for _, tt := range tests {
		if got := newULID(tt.give, rnd); got != tt.want {
			t.Errorf("newULID(%s) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

// Several targets: each connection's requests take turns, and a retry goes to the next target,
// so a request refused by one ingress is acknowledged by the other.
func TestRunSpreadsOverTargetsAndRetriesElsewhere(t *testing.T) {
	var down, up atomic.Int64
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		down.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer refuse.Close()
	accept := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		up.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer accept.Close()
	res, err := Run(context.Background(), Options{
		Target: refuse.URL + "," + accept.URL, Concurrency: 2, Count: 40, Retries: 1, RetryDelay: time.Millisecond,
		Scenario: Scenario{Orders: 5, Mix: petBun(1), RunID: "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// One retry is enough only if it goes to the other target.
	if res.Acked != 40 || res.Failed != 0 || up.Load() != 40 {
		t.Fatalf("acked %d failed %d, accepting target got %d; want all 40 acknowledged by it", res.Acked, res.Failed, up.Load())
	}
	if down.Load() == 0 || res.Retried != down.Load() {
		t.Fatalf("refusing target got %d requests, %d retries; want some, each retried once", down.Load(), res.Retried)
	}
}

func TestRunRejectsBadTargets(t *testing.T) {
	for _, give := range []string{"", "http://127.0.0.1:1,", "https://a:1", "http://127.0.0.1:1,ftp://b"} {
		if _, err := Run(context.Background(), Options{Target: give, Count: 1}); !errors.Is(err, ErrNoTarget) {
			t.Errorf("target %q: err %v, want ErrNoTarget", give, err)
		}
	}
}
