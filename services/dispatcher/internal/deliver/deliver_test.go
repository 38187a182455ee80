package deliver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

const testSecret = "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ=="

// fakeMsg is a CALLBACKS message; only Metadata, Data and Headers are used by the handler.
type fakeMsg struct {
	jetstream.Msg
	meta   jetstream.MsgMetadata
	data   []byte
	header nats.Header
}

func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) { return &m.meta, nil }
func (m *fakeMsg) Data() []byte                              { return m.data }
func (m *fakeMsg) Headers() nats.Header                      { return m.header }

type sent struct {
	url    string
	body   []byte
	header http.Header
}

// fakeSender answers with a queue of responses (the last repeats) and records requests.
type fakeSender struct {
	mu    sync.Mutex
	resps []Response
	got   []sent
}

func (f *fakeSender) Send(_ context.Context, url string, body []byte, header http.Header) Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, sent{url, body, header})
	r := f.resps[0]
	if len(f.resps) > 1 {
		f.resps = f.resps[1:]
	}
	return r
}

type memStore struct {
	mu   sync.Mutex
	recs map[uint64]Record
}

func (s *memStore) Load(_ context.Context, seq uint64) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[seq], nil
}

func (s *memStore) Save(_ context.Context, seq uint64, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[seq] = r
	return nil
}

func (s *memStore) Delete(_ context.Context, seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, seq)
	return nil
}

var _ AttemptStore = (*memStore)(nil)

func newTestDeliverer(t *testing.T, s Sender, store AttemptStore, hosts *Hosts) *Deliverer {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if hosts == nil {
		hosts = NewHosts(HostOptions{})
	}
	d, err := New(Options{
		Secret:   []byte(testSecret),
		Schedule: Schedule{Delays: []time.Duration{time.Minute, 5 * time.Minute}, Jitter: 0.2},
		Sender:   s, Store: store, Hosts: hosts, Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var testReq = streams.CallbackRequest{
	OrderID: "ord-42", TenantID: "default", Amount: "738.05", Currency: "USD",
	Timestamp: "1758613403", CallbackURL: "https://receiver.example/hooks?k=1",
	ReceivedAt: "2025-09-23T07:43:24.123456789Z",
}

func msgFor(t *testing.T, seq, delivered uint64) *fakeMsg {
	t.Helper()
	data, err := json.Marshal(testReq)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeMsg{meta: jetstream.MsgMetadata{
		Sequence: jetstream.SequencePair{Stream: seq}, NumDelivered: delivered, Timestamp: time.Now(),
	}, data: data}
}

func TestDeliverBodyAndSignatures(t *testing.T) {
	s := &fakeSender{resps: []Response{{Status: 204}}}
	d := newTestDeliverer(t, s, &memStore{recs: map[uint64]Record{}}, nil)
	if err := d.Handle(context.Background(), msgFor(t, 7, 1)); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(s.got) != 1 {
		t.Fatalf("%d requests, want 1", len(s.got))
	}
	req := s.got[0]
	if req.url != testReq.CallbackURL {
		t.Errorf("url %q", req.url)
	}
	var ev map[string]any
	if err := json.Unmarshal(req.body, &ev); err != nil {
		t.Fatal(err)
	}
	eventID := streams.CallbackEventID("default", "ord-42", "1758613403")
	want := map[string]any{
		"eventId": eventID, "eventType": "order.processed", "timestamp": "2025-09-23T07:43:24Z",
		"data": map[string]any{"orderId": "ord-42", "amount": "738.05", "currency": "USD", "requestTimestamp": "1758613403"},
	}
	gotJSON, _ := json.Marshal(ev)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("body %s, want %s", gotJSON, wantJSON)
	}

	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(req.body)
	if got, want := req.header.Get("X-Webhook-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("X-Webhook-Signature %q, want %q", got, want)
	}
	if got := req.header.Get("webhook-id"); got != eventID {
		t.Errorf("webhook-id %q, want eventId %q", got, eventID)
	}
	ts := req.header.Get("webhook-timestamp")
	if n, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(n, 0)).Abs() > time.Minute {
		t.Errorf("webhook-timestamp %q is not now", ts)
	}
	key, _ := base64.StdEncoding.DecodeString(testSecret[len("whsec_"):])
	mac = hmac.New(sha256.New, key)
	mac.Write([]byte(eventID + "." + ts + "." + string(req.body)))
	if got, want := req.header.Get("webhook-signature"), "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("webhook-signature %q, want %q", got, want)
	}
	if req.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", req.header.Get("Content-Type"))
	}
}

func TestDeliverSameBodyOnEveryAttempt(t *testing.T) {
	s := &fakeSender{resps: []Response{{Status: 500}, {Status: 200}}}
	d := newTestDeliverer(t, s, &memStore{recs: map[uint64]Record{}}, nil)
	_ = d.Handle(context.Background(), msgFor(t, 3, 1))
	if err := d.Handle(context.Background(), msgFor(t, 3, 2)); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if len(s.got) != 2 || string(s.got[0].body) != string(s.got[1].body) {
		t.Fatalf("bodies differ across attempts")
	}
}

func TestDeliverOutcomes(t *testing.T) {
	tests := []struct {
		name          string
		resp          Response
		prior         int // attempts already recorded
		wantRetry     bool
		wantMinDelay  time.Duration
		wantMaxDelay  time.Duration
		wantDLQReason string
		wantAttempts  string
		wantStatus    string
		wantRecorded  int // attempts in the store afterwards (0: none); a dead letter leaves it as it was
	}{
		{name: "503 retries on schedule", resp: Response{Status: 503}, wantRetry: true,
			wantMinDelay: 48 * time.Second, wantMaxDelay: 72 * time.Second, wantRecorded: 1},
		{name: "503 honours a longer Retry-After", resp: Response{Status: 503, RetryAfter: 10 * time.Minute, HasRetryAfter: true},
			wantRetry: true, wantMinDelay: 10 * time.Minute, wantMaxDelay: 10 * time.Minute, wantRecorded: 1},
		{name: "429 honours Retry-After", resp: Response{Status: 429, RetryAfter: 2 * time.Hour, HasRetryAfter: true},
			wantRetry: true, wantMinDelay: 2 * time.Hour, wantMaxDelay: 2 * time.Hour, wantRecorded: 1},
		{name: "500 ignores Retry-After", resp: Response{Status: 500, RetryAfter: 2 * time.Hour, HasRetryAfter: true},
			wantRetry: true, wantMinDelay: 48 * time.Second, wantMaxDelay: 72 * time.Second, wantRecorded: 1},
		{name: "timeout retries", resp: Response{Timeout: true, Err: errors.New("no response within 10s")}, wantRetry: true,
			wantMinDelay: 48 * time.Second, wantMaxDelay: 72 * time.Second, wantRecorded: 1},
		{name: "second failure uses the second delay", resp: Response{Status: 502}, prior: 1, wantRetry: true,
			wantMinDelay: 4 * time.Minute, wantMaxDelay: 6 * time.Minute, wantRecorded: 2},
		{name: "exhausted", resp: Response{Status: 500}, prior: 2, wantDLQReason: ReasonExhausted, wantAttempts: "3", wantStatus: "500", wantRecorded: 2},
		{name: "410 stops", resp: Response{Status: 410}, wantDLQReason: ReasonGone, wantAttempts: "1", wantStatus: "410"},
		{name: "400 is permanent", resp: Response{Status: 400}, wantDLQReason: ReasonPermanent, wantAttempts: "1", wantStatus: "400"},
		{name: "404 after retries is permanent", resp: Response{Status: 404}, prior: 1, wantDLQReason: ReasonPermanent, wantAttempts: "2", wantStatus: "404", wantRecorded: 1},
		{name: "redirect is permanent", resp: Response{Status: 302}, wantDLQReason: ReasonRedirect, wantAttempts: "1", wantStatus: "302"},
		{name: "refused at dial", resp: Response{Forbidden: true, Err: errors.New("dial refused")}, wantDLQReason: ReasonForbidden, wantAttempts: "1", wantStatus: "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memStore{recs: map[uint64]Record{}}
			delivered := uint64(1)
			if tt.prior > 0 {
				store.recs[9] = Record{Attempts: tt.prior, LastStatus: 503}
				delivered = uint64(tt.prior + 3) // deferrals make NumDelivered larger than the attempts
			}
			d := newTestDeliverer(t, &fakeSender{resps: []Response{tt.resp}}, store, nil)
			err := d.Handle(context.Background(), msgFor(t, 9, delivered))
			var re *consume.RetryError
			var dl *consume.DeadLetterError
			switch {
			case tt.wantRetry:
				if !errors.As(err, &re) {
					t.Fatalf("Handle = %v, want a retry", err)
				}
				if re.Delay < tt.wantMinDelay || re.Delay > tt.wantMaxDelay {
					t.Fatalf("delay %s, want %s to %s", re.Delay, tt.wantMinDelay, tt.wantMaxDelay)
				}
			default:
				if !errors.As(err, &dl) {
					t.Fatalf("Handle = %v, want a dead letter", err)
				}
				if dl.Reason != tt.wantDLQReason || dl.Headers[streams.HeaderDLQAttempts] != tt.wantAttempts ||
					dl.Headers[streams.HeaderDLQLastStatus] != tt.wantStatus || dl.Headers[streams.HeaderDLQError] == "" {
					t.Fatalf("dead letter %q %v, want reason %s attempts %s status %s", dl.Reason, dl.Headers,
						tt.wantDLQReason, tt.wantAttempts, tt.wantStatus)
				}
			}
			if got := store.recs[9].Attempts; got != tt.wantRecorded {
				t.Fatalf("recorded attempts %d, want %d", got, tt.wantRecorded)
			}
		})
	}
}

func TestDeliverDefersWithoutCountingAnAttempt(t *testing.T) {
	hosts := NewHosts(HostOptions{MaxConcurrent: 1, BusyDelay: time.Second})
	if _, err := hosts.Acquire("receiver.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	s := &fakeSender{resps: []Response{{Status: 200}}}
	store := &memStore{recs: map[uint64]Record{5: {Attempts: 1}}}
	d := newTestDeliverer(t, s, store, hosts)
	err := d.Handle(context.Background(), msgFor(t, 5, 4))
	var re *consume.RetryError
	if !errors.As(err, &re) || !errors.Is(err, ErrHostBusy) {
		t.Fatalf("Handle = %v, want a host-busy deferral", err)
	}
	if len(s.got) != 0 || store.recs[5].Attempts != 1 {
		t.Fatalf("deferral sent %d requests and recorded %d attempts; want 0 and 1", len(s.got), store.recs[5].Attempts)
	}
}

func TestDeliverInvalidMessage(t *testing.T) {
	d := newTestDeliverer(t, &fakeSender{resps: []Response{{Status: 200}}}, &memStore{recs: map[uint64]Record{}}, nil)
	for _, data := range []string{`not json`, `{"orderId":"a","tenantId":"default","timestamp":"1","callbackUrl":"ftp://x/"}`} {
		err := d.Handle(context.Background(), &fakeMsg{data: []byte(data), meta: jetstream.MsgMetadata{NumDelivered: 1}})
		var dl *consume.DeadLetterError
		if !errors.As(err, &dl) || dl.Reason != ReasonInvalidMessage {
			t.Fatalf("Handle(%s) = %v, want dead letter %s", data, err, ReasonInvalidMessage)
		}
	}
}
