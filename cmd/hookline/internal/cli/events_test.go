package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Issue 13: `events` and `events tail` print their help and connect nowhere; bad command lines
// are usage errors that connect nowhere either.
func TestEventsTailUsageConnectsNowhere(t *testing.T) {
	tr := newTrap(t)
	help := []struct {
		give []string
		want string
	}{
		{[]string{"events", "-h"}, "tail"},
		{[]string{"events", "help"}, "tail"},
		{[]string{"events", "tail", "-h"}, "-from"},
		{[]string{"events", "tail", "-provider", "petstore", "--help"}, "-order"},
	}
	for _, tt := range help {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			env, out, errb := trapEnv(t, tr, tt.give...)
			if err := Run(context.Background(), env); err != nil {
				t.Fatalf("Run = %v, want nil; stderr:\n%s", err, errb)
			}
			if !strings.Contains(out.String(), "usage") || !strings.Contains(out.String(), tt.want) {
				t.Errorf("help on stdout lacks usage and %q:\n%s", tt.want, out)
			}
			if tr.connected(t) {
				t.Error("asking for help connected somewhere")
			}
		})
	}
	bad := [][]string{
		{"events"},
		{"events", "tial"},
		{"events", "tail", "-nope"},
		{"events", "tail", "-n", "-1"},
		{"events", "tail", "-provider", "pet.store"},
		{"events", "tail", "-tenant", "a>"},
		{"events", "tail", "-from", "yesterday"},
		{"events", "tail", "extra"},
	}
	for _, give := range bad {
		t.Run(strings.Join(give, " "), func(t *testing.T) {
			env, _, _ := trapEnv(t, tr, give...)
			if err := Run(context.Background(), env); !errors.Is(err, ErrUsage) {
				t.Fatalf("Run = %v, want ErrUsage", err)
			}
			if tr.connected(t) {
				t.Error("a usage error connected somewhere")
			}
		})
	}
}

func TestTailSubject(t *testing.T) {
	tests := []struct {
		tenant, provider string
		want             string
	}{
		{"", "", "orders.*.*.status_changed"},
		{"default", "", "orders.default.*.status_changed"},
		{"", "bunjang", "orders.*.bunjang.status_changed"},
		{"*", "petstore", "orders.*.petstore.status_changed"},
		{"1b4e28ba-2fa1-11d2-883f-0016d3cca427", "acme", "orders.1b4e28ba-2fa1-11d2-883f-0016d3cca427.acme.status_changed"},
	}
	for _, tt := range tests {
		got, err := tailSubject(tt.tenant, tt.provider)
		if err != nil || got != tt.want {
			t.Errorf("tailSubject(%q, %q) = %q, %v; want %q", tt.tenant, tt.provider, got, err, tt.want)
		}
	}
}

func TestTailStart(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ts time.Time) *time.Time { return &ts }
	tests := []struct {
		give string
		want jetstream.OrderedConsumerConfig
	}{
		{"", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}},
		{"all", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}},
		{"42", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: 42}},
		{"10m", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: at(now.Add(-10 * time.Minute))}},
		{"2026-02-28T08:00:00Z", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy,
			OptStartTime: at(time.Date(2026, 2, 28, 8, 0, 0, 0, time.UTC))}},
	}
	for _, tt := range tests {
		got, err := tailStart(tt.give, now)
		if err != nil {
			t.Errorf("tailStart(%q): %v", tt.give, err)
			continue
		}
		if got.DeliverPolicy != tt.want.DeliverPolicy || got.OptStartSeq != tt.want.OptStartSeq ||
			(got.OptStartTime == nil) != (tt.want.OptStartTime == nil) ||
			(got.OptStartTime != nil && !got.OptStartTime.Equal(*tt.want.OptStartTime)) {
			t.Errorf("tailStart(%q) = %+v, want %+v", tt.give, got, tt.want)
		}
	}
}

// Issue 13: connection errors of events tail name the URL.
func TestEventsTailErrorsNameTheURL(t *testing.T) {
	n := testkit.StartNATS(t) // answers, but holds no ORDERS stream
	closed := "nats://127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	for _, url := range []string{closed, n.URL} {
		var out, errb bytes.Buffer
		env := Env{Args: []string{"events", "tail", "-nats", url}, Stdout: &out, Stderr: &errb,
			Lookup: func(string) (string, bool) { return "", false }}
		if err := Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), url) {
			t.Errorf("Run = %v, want an error naming %s", err, url)
		}
	}
}

// tailed is one line of events tail, decoded.
type tailed struct {
	StreamSequence uint64 `json:"streamSequence"`
	Subject        string `json:"subject"`
	StoredAt       string `json:"storedAt"`
	Event          struct {
		EventID        string   `json:"eventId"`
		TenantID       string   `json:"tenantId"`
		Provider       string   `json:"provider"`
		OrderID        string   `json:"orderId"`
		OrderItemID    *string  `json:"orderItemId"`
		PreviousStatus string   `json:"previousStatus"`
		Status         string   `json:"status"`
		Version        string   `json:"version"`
		Skipped        []string `json:"skipped"`
		AppliedAt      string   `json:"appliedAt"`
		SourceSeq      string   `json:"sourceStreamSequence"`
	} `json:"event"`
}

func decodeTail(t *testing.T, out string) []tailed {
	t.Helper()
	var got []tailed
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var l tailed
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, l)
	}
	return got
}

// Issue 13, item 5: events tail prints the canonical events that match, one JSON line each with
// its stream sequence, in the protobuf JSON names; order ids are filtered after decoding, tenant
// and provider by subject; what is not a canonical event is skipped; no consumer is left behind.
func TestEventsTailPrintsFilteredEvents(t *testing.T) {
	js, ctx := testkit.StartNATSWithStreams(t)
	applied := timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	publish := func(ev *ordersv1.OrderStatusChanged) {
		t.Helper()
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(streams.OrderSubject(ev.GetTenantId(), ev.GetProvider()))
		m.Data = b
		m.Header.Set(streams.HeaderContentType, streams.ContentTypeProtobuf)
		if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(ev.GetEventId())); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(provider, tenant, order string, v int64, st ordersv1.OrderStatus) *ordersv1.OrderStatusChanged {
		return &ordersv1.OrderStatusChanged{EventId: provider + ":" + tenant + ":e" + strconv.FormatInt(v, 10) + order,
			TenantId: tenant, Provider: provider, OrderId: order, Status: st, Version: v, AppliedAt: applied}
	}
	publish(ev("petstore", "default", "ord-1", 1, ordersv1.OrderStatus_ORDER_STATUS_PLACED)) // seq 1
	publish(ev("petstore", "default", "ord-2", 1, ordersv1.OrderStatus_ORDER_STATUS_PLACED)) // seq 2
	if _, err := js.Publish(ctx, "orders.default.petstore.status_changed", []byte("not protobuf \xff")); err != nil {
		t.Fatal(err) // seq 3
	}
	publish(ev("bunjang", "default", "ord-1", 1, ordersv1.OrderStatus_ORDER_STATUS_APPROVED))  // seq 4
	publish(ev("petstore", "t-2", "ord-1", 1, ordersv1.OrderStatus_ORDER_STATUS_SHIPPED))      // seq 5
	publish(ev("petstore", "default", "ord-1", 2, ordersv1.OrderStatus_ORDER_STATUS_APPROVED)) // seq 6

	url := js.Conn().ConnectedUrl()
	tests := []struct {
		name     string
		give     []string
		wantSeqs []uint64
	}{
		{"everything from the start", []string{"-from", "all", "-n", "5"}, []uint64{1, 2, 4, 5, 6}},
		{"one order", []string{"-from", "1", "-order", "ord-1", "-n", "4"}, []uint64{1, 4, 5, 6}},
		{"provider and order", []string{"-from", "all", "-provider", "petstore", "-order", "ord-1", "-n", "3"}, []uint64{1, 5, 6}},
		{"tenant", []string{"-from", "1", "-tenant", "t-2", "-n", "1"}, []uint64{5}},
		{"from a sequence", []string{"-from", "4", "-tenant", "default", "-n", "2"}, []uint64{4, 6}},
		{"from a duration ago", []string{"-from", "1h", "-provider", "bunjang", "-n", "1"}, []uint64{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := Env{Args: append([]string{"events", "tail", "-nats", url}, tt.give...), Stdout: &out, Stderr: &errb,
				Lookup: func(string) (string, bool) { return "", false }}
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := Run(rctx, env); err != nil {
				t.Fatalf("Run: %v\n%s", err, errb.String())
			}
			if rctx.Err() != nil {
				t.Fatalf("tail did not stop after -n; printed:\n%s", out.String())
			}
			got := decodeTail(t, out.String())
			var seqs []uint64
			for _, l := range got {
				seqs = append(seqs, l.StreamSequence)
			}
			if !slices.Equal(seqs, tt.wantSeqs) {
				t.Fatalf("sequences %v, want %v:\n%s", seqs, tt.wantSeqs, out.String())
			}
		})
	}

	// The fields of one line, as a consumer reading them sees them.
	var out, errb bytes.Buffer
	env := Env{Args: []string{"events", "tail", "-nats", url, "-from", "6", "-n", "1"}, Stdout: &out, Stderr: &errb,
		Lookup: func(string) (string, bool) { return "", false }}
	if err := Run(ctx, env); err != nil {
		t.Fatalf("Run: %v\n%s", err, errb.String())
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("want exactly one line:\n%s", out.String())
	}
	l := decodeTail(t, out.String())[0]
	e := l.Event
	if l.Subject != "orders.default.petstore.status_changed" || l.StoredAt == "" || e.EventID != "petstore:default:e2ord-1" ||
		e.TenantID != "default" || e.Provider != "petstore" || e.OrderID != "ord-1" || e.Version != "2" ||
		e.Status != "ORDER_STATUS_APPROVED" || e.PreviousStatus != "ORDER_STATUS_UNSPECIFIED" ||
		e.OrderItemID == nil || *e.OrderItemID != "" || e.Skipped == nil || e.AppliedAt != "2026-03-01T12:00:00Z" || e.SourceSeq != "0" {
		t.Errorf("line %s decoded as %+v", out.String(), l)
	}
	if !strings.Contains(errb.String(), "following ORDERS (orders.*.*.status_changed)") {
		t.Errorf("stderr lacks the following notice:\n%s", errb.String())
	}

	// Default: only events published after the tail started.
	out.Reset()
	notice := &lockedBuffer{}
	env = Env{Args: []string{"events", "tail", "-nats", url, "-order", "ord-new", "-n", "1"}, Stdout: &out, Stderr: notice,
		Lookup: func(string) (string, bool) { return "", false }}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, env) }()
	testkit.Eventually(t, 30*time.Second, "the tail to follow", func() bool {
		return strings.Contains(notice.String(), "following ORDERS")
	})
	publish(ev("petstore", "default", "ord-new", 1, ordersv1.OrderStatus_ORDER_STATUS_PLACED)) // seq 7
	if err := <-done; err != nil {                                                             // ctx bounds the wait
		t.Fatalf("Run: %v", err)
	}
	if got := decodeTail(t, out.String()); len(got) != 1 || got[0].StreamSequence != 7 {
		t.Errorf("new-only tail printed %+v", got)
	}

	// Nothing left behind: every tail above deleted its ordered consumer.
	s, err := js.Stream(ctx, streams.Orders)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "no consumer on ORDERS", func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Consumers == 0
	})
}

// lockedBuffer is a bytes.Buffer safe to write from a command and read from the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
