package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

func testMsg(i int) (*nats.Msg, string) {
	m := nats.NewMsg("webhooks.petstore.default")
	m.Header.Set("Hookline-Event-Id", fmt.Sprintf("ev-%04d", i))
	m.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	m.Data = []byte(fmt.Sprintf(`{"eventId":"ev-%04d"}`, i))
	return m, fmt.Sprintf("petstore:default:ev-%04d", i)
}

func mustOpen(t *testing.T, dir string, o Options) *Spool {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Concurrent Puts survive a reopen, in the order they were committed, byte for byte.
func TestPutReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, id := testMsg(i)
			if err := s.Put(m, id); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := s.Messages(); got != n {
		t.Fatalf("Messages = %d, want %d", got, n)
	}
	bytes := s.Bytes()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dir, Options{})
	if r.Messages() != n || r.Bytes() != bytes {
		t.Fatalf("reopened: %d messages %d bytes, want %d and %d", r.Messages(), r.Bytes(), n, bytes)
	}
	items, err := r.oldest(n + 1)
	if err != nil || len(items) != n {
		t.Fatalf("oldest = %d items, %v", len(items), err)
	}
	seen := map[string]bool{}
	for _, it := range items {
		var i int
		if _, err := fmt.Sscanf(it.rec.MsgID, "petstore:default:ev-%04d", &i); err != nil {
			t.Fatal(err)
		}
		want, _ := testMsg(i)
		if string(it.rec.Data) != string(want.Data) || it.rec.msg().Header.Get("traceparent") != want.Header.Get("traceparent") ||
			it.rec.Subject != want.Subject {
			t.Fatalf("record %s = %+v", it.rec.MsgID, it.rec)
		}
		seen[it.rec.MsgID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct records, want %d", len(seen), n)
	}
}

// A spool at its bound refuses with ErrFull and writes nothing; removing frees room.
func TestFull(t *testing.T) {
	m, id := testMsg(0)
	v, err := encode(&record{Subject: m.Subject, MsgID: id, Header: m.Header, Data: m.Data, SpooledAt: time.Unix(0, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	one := int64(8 + len(v))
	s := mustOpen(t, t.TempDir(), Options{MaxBytes: 3 * one, Now: func() time.Time { return time.Unix(0, 0) }})
	for i := range 3 {
		m, id := testMsg(i)
		if err := s.Put(m, id); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	m, id = testMsg(3)
	if err := s.Put(m, id); !errors.Is(err, ErrFull) {
		t.Fatalf("4th Put = %v, want ErrFull", err)
	}
	if s.Messages() != 3 || s.Accepting() {
		t.Fatalf("after refusal: %d messages, accepting %v", s.Messages(), s.Accepting())
	}
	items, err := s.oldest(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.remove(items); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(m, id); err != nil {
		t.Fatalf("Put after a removal = %v", err)
	}
}

// A damaged or truncated spool file is an error naming the file, wrapping ErrCorrupt, and the
// file is left as found.
func TestOpenReportsDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated to a few bytes", func(t *testing.T, path string) { truncate(t, path, 100) }},
		{"truncated mid-file", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			truncate(t, path, fi.Size()/2)
		}},
		{"meta pages overwritten", func(t *testing.T, path string) { overwrite(t, path, 0, 2*4096) }},
		{"a record's bytes flipped", func(t *testing.T, path string) { flipRecord(t, path) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			for i := range 300 {
				m, id := testMsg(i)
				m.Data = append(m.Data, strings.Repeat(" ", 500)...)
				if err := s.Put(m, id); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, FileName)
			tt.damage(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(dir, Options{})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v, want ErrCorrupt naming %s", err, path)
			}
			after, err := os.ReadFile(path)
			if err != nil || string(after) != string(before) {
				t.Fatalf("the damaged file was changed (%v)", err)
			}
		})
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, n), off); err != nil {
		t.Fatal(err)
	}
}

// flipRecord changes one byte inside a stored record's JSON (found by its text), leaving the
// bbolt structure intact: only the record checksum can tell.
func flipRecord(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `"msgId":"petstore:default:ev-0150"`)
	if i < 0 {
		t.Fatal("record not found in the file")
	}
	b[i+len(`"msgId":"petstore:default:ev-01`)] = '9'
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A bbolt file another process holds is refused with a clear error, not reported as corrupt.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(dir, Options{})
	if err == nil || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Open = %v, want a 'locked' error", err)
	}
}

// The forwarder publishes spooled records in arrival order with their Nats-Msg-Id and headers,
// removes them after the PubAck, and a record already in the stream (an ambiguous timeout) is
// stored once.
func TestForwardInOrderOnce(t *testing.T) {
	n := testkit.StartNATS(t)
	_, js := n.Conn(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WEBHOOKS", Subjects: []string{"webhooks.>"},
		Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, t.TempDir(), Options{})
	const total = 700 // more than one batch
	for i := range total {
		m, id := testMsg(i)
		if i == 5 { // stored directly before its publish timed out, then spooled as well
			if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
				t.Fatal(err)
			}
			m, _ = testMsg(i)
		}
		if err := s.Put(m, id); err != nil {
			t.Fatal(err)
		}
	}
	stop, _ := testkit.RunInBackground(t, func(ctx context.Context) error {
		s.Forward(ctx, js, ForwardOptions{Batch: 256})
		return nil
	})
	testkit.Eventually(t, 30*time.Second, "spool drained", func() bool { return s.Messages() == 0 })
	stop()
	if s.Bytes() != 0 {
		t.Errorf("Bytes = %d after the drain", s.Bytes())
	}
	msgs := testkit.StreamMsgs(t, ctx, js, "WEBHOOKS")
	if len(msgs) != total {
		t.Fatalf("%d messages in WEBHOOKS, want %d", len(msgs), total)
	}
	for i, m := range msgs {
		want := i
		if i == 0 {
			want = 5 // published directly first
		} else if i <= 5 {
			want = i - 1
		}
		_, id := testMsg(want)
		if got := m.Header.Get(jetstream.MsgIDHeader); got != id {
			t.Fatalf("message %d has Nats-Msg-Id %q, want %q", i, got, id)
		}
		if m.Header.Get("traceparent") == "" || m.Subject != "webhooks.petstore.default" {
			t.Fatalf("message %d lost its headers or subject: %v %v", i, m.Subject, m.Header)
		}
	}
}
