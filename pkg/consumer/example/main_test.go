package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consumer"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// syncBuffer is a bytes.Buffer safe for the handler goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

func event(tenant, provider, order, item, src string, version int64, prev, st ordersv1.OrderStatus, skipped ...ordersv1.OrderStatus) *ordersv1.OrderStatusChanged {
	id := provider + ":" + tenant + ":" + src
	if item != "" {
		id += ":" + item
	}
	now := timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return &ordersv1.OrderStatusChanged{
		EventId: id, TenantId: tenant, Provider: provider, SourceEventId: src, OrderId: order, OrderItemId: item,
		PreviousStatus: prev, Status: st, Version: version, Skipped: skipped,
		OccurredAt: now, ReceivedAt: now, AppliedAt: now,
	}
}

// publish stores ev the way the worker does; withID false leaves out Nats-Msg-Id, as a re-emission
// after the duplicate window would look to the stream.
func publish(t *testing.T, js jetstream.JetStream, ev *ordersv1.OrderStatusChanged, withID bool) {
	t.Helper()
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(streams.OrderSubject(ev.GetTenantId(), ev.GetProvider()))
	m.Data = data
	m.Header.Set(streams.HeaderContentType, streams.ContentTypeProtobuf)
	if withID {
		m.Header.Set(streams.HeaderMsgID, ev.GetEventId())
	}
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// TestExampleReceivesCanonicalEvents runs the example program against a real server.
func TestExampleReceivesCanonicalEvents(t *testing.T) {
	n := testkit.StartNATS(t)
	_, js := n.Conn(t)
	if err := streams.Ensure(context.Background(), js, streams.Options{}); err != nil {
		t.Fatalf("ensure streams: %v", err)
	}
	const (
		placed    = ordersv1.OrderStatus_ORDER_STATUS_PLACED
		approved  = ordersv1.OrderStatus_ORDER_STATUS_APPROVED
		shipped   = ordersv1.OrderStatus_ORDER_STATUS_SHIPPED
		delivered = ordersv1.OrderStatus_ORDER_STATUS_DELIVERED
		none      = ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED
	)
	v1 := event("default", "petstore", "42", "", "e-1", 1, none, approved, placed)
	publish(t, js, v1, true)
	publish(t, js, event("default", "petstore", "42", "", "e-3", 3, shipped, delivered), true)
	publish(t, js, event("default", "bunjang", "1001", "77", "01K0AZRPB4N36H9NMDJRMYXM7A", 1, none, shipped, placed, approved), true)
	publish(t, js, event("t2", "acme", "9", "", "x", 1, none, placed), true) // another tenant: filtered out
	publish(t, js, v1, false)

	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	env := map[string]string{"NATS_URL": n.URL}
	go func() {
		errc <- run(ctx, []string{"-name", "example-test", "-tenant", "default"}, func(k string) string { return env[k] }, out)
	}()
	want := []string{
		"#1 petstore:default:e-1 default/petstore order 42: UNSPECIFIED -> APPROVED v1 skipped PLACED",
		"#2 petstore:default:e-3 default/petstore order 42: SHIPPED -> DELIVERED v3 (gap: v2..v2 not seen yet)",
		"#3 bunjang:default:01K0AZRPB4N36H9NMDJRMYXM7A:77 default/bunjang order 1001 item 77: UNSPECIFIED -> SHIPPED v1 skipped PLACED,APPROVED",
		"#5 duplicate petstore:default:e-1 ignored",
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(out.lines()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	got := out.lines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExampleErrors(t *testing.T) {
	n := testkit.StartNATS(t) // no streams: Hookline has not started yet
	tests := []struct {
		name     string
		give     []string
		wantIs   error
		wantText string
	}{
		{name: "unknown flag", give: []string{"-nope"}, wantText: "flags:"},
		{name: "bad filter", give: []string{"-provider", "a.b"}, wantIs: consumer.ErrInvalidFilter},
		{name: "no ORDERS stream", give: []string{}, wantIs: jetstream.ErrStreamNotFound, wantText: n.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, tt.give, func(string) string { return n.URL }, &syncBuffer{})
			if err == nil || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("run = %v, want an error (is %v, text %q)", err, tt.wantIs, tt.wantText)
			}
		})
	}
}

// Issue 9: -h lists the flags and succeeds, without connecting (NATS_URL names a closed port).
func TestExampleHelp(t *testing.T) {
	for _, give := range []string{"-h", "-help", "--help"} {
		t.Run(give, func(t *testing.T) {
			out := &bytes.Buffer{}
			closed := func(string) string { return "nats://127.0.0.1:1" }
			if err := run(context.Background(), []string{give}, closed, out); err != nil {
				t.Fatalf("run %s = %v, want nil", give, err)
			}
			for _, want := range []string{"usage: example", "-name", "-tenant", "-provider", "-new"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("help lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
