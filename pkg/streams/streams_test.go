package streams_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

func TestSubjects(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"webhook", streams.WebhookSubject("petstore", "default"), "webhooks.petstore.default"},
		{"webhook uuid tenant", streams.WebhookSubject("acme", "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"), "webhooks.acme.6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"},
		{"callback", streams.CallbackSubject("default"), "callbacks.default"},
		{"order", streams.OrderSubject("default", "bunjang"), "orders.default.bunjang.status_changed"},
		{"dlq of webhook", streams.DLQSubject("webhooks.petstore.default"), "dlq.webhooks.petstore.default"},
		{"dlq of callback", streams.DLQSubject(streams.CallbackSubject("t")), "dlq.callbacks.t"},
		{"msg id", streams.WebhookMsgID("bunjang", "default", "01K0AZRPB4N36H9NMDJRMYXM7A"), "bunjang:default:01K0AZRPB4N36H9NMDJRMYXM7A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestSubjectsMatchStreams checks every builder lands in the stream meant for it.
func TestSubjectsMatchStreams(t *testing.T) {
	cfgs := map[string]jetstream.StreamConfig{}
	for _, c := range streams.Configs(streams.Options{}) {
		cfgs[c.Name] = c
	}
	tests := []struct {
		subject string
		stream  string
	}{
		{streams.WebhookSubject("petstore", "default"), streams.Webhooks},
		{streams.CallbackSubject("default"), streams.Callbacks},
		{streams.OrderSubject("default", "petstore"), streams.Orders},
		{streams.DLQSubject(streams.WebhookSubject("petstore", "default")), streams.DLQ},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			var in []string
			for name, c := range cfgs {
				for _, pattern := range c.Subjects {
					if subjectMatches(pattern, tt.subject) {
						in = append(in, name)
					}
				}
			}
			if len(in) != 1 || in[0] != tt.stream {
				t.Fatalf("subject %q is captured by %v, want only %s", tt.subject, in, tt.stream)
			}
		})
	}
}

// subjectMatches implements NATS matching for patterns ending in ">" or made of literal tokens.
func subjectMatches(pattern, subject string) bool {
	if len(pattern) >= 2 && pattern[len(pattern)-1] == '>' {
		prefix := pattern[:len(pattern)-1]
		return len(subject) > len(prefix) && subject[:len(prefix)] == prefix
	}
	return pattern == subject
}

func TestParseWebhookSubject(t *testing.T) {
	tests := []struct {
		give         string
		wantProvider string
		wantTenant   string
		wantErr      bool
	}{
		{give: "webhooks.petstore.default", wantProvider: "petstore", wantTenant: "default"},
		{give: "webhooks.acme.6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab", wantProvider: "acme", wantTenant: "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"},
		{give: streams.WebhookSubject("bunjang", "t1"), wantProvider: "bunjang", wantTenant: "t1"},
		{give: "", wantErr: true},
		{give: "webhooks", wantErr: true},
		{give: "webhooks.petstore", wantErr: true},
		{give: "webhooks.petstore.default.extra", wantErr: true},
		{give: "callbacks.petstore.default", wantErr: true},
		{give: "webhooks..default", wantErr: true},
		{give: "webhooks.petstore.", wantErr: true},
		{give: "dlq.webhooks.petstore", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			p, ten, err := streams.ParseWebhookSubject(tt.give)
			if tt.wantErr {
				if !errors.Is(err, streams.ErrInvalidToken) {
					t.Fatalf("ParseWebhookSubject(%q) = %q, %q, %v; want ErrInvalidToken", tt.give, p, ten, err)
				}
				return
			}
			if err != nil || p != tt.wantProvider || ten != tt.wantTenant {
				t.Fatalf("ParseWebhookSubject(%q) = %q, %q, %v; want %q, %q", tt.give, p, ten, err, tt.wantProvider, tt.wantTenant)
			}
		})
	}
}

func TestValidToken(t *testing.T) {
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		give string
		want bool
	}{
		{"petstore", true},
		{"default", true},
		{"Acme_2-x", true},
		{"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab", true},
		{string(long[:128]), true},
		{string(long), false},
		{"", false},
		{"a.b", false},
		{"*", false},
		{">", false},
		{"a b", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a/b", false},
		{"café", false},
		{"a$b", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if got := streams.ValidToken(tt.give); got != tt.want {
				t.Fatalf("ValidToken(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestConfigsDefaults(t *testing.T) {
	cfgs := streams.Configs(streams.Options{})
	if len(cfgs) != 4 {
		t.Fatalf("%d configs, want 4", len(cfgs))
	}
	for _, c := range cfgs {
		if c.Replicas != 1 || c.Duplicates != 2*time.Minute || c.Storage != jetstream.FileStorage {
			t.Errorf("%s: replicas %d duplicates %s storage %v", c.Name, c.Replicas, c.Duplicates, c.Storage)
		}
	}
}

func TestEnsure(t *testing.T) {
	n := testkit.StartNATS(t)
	_, js := n.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	opts := streams.Options{Replicas: 1, DuplicateWindow: 3 * time.Minute, MaxAge: 48 * time.Hour}
	if err := streams.Ensure(ctx, js, opts); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	want := map[string]struct {
		subject string
		maxAge  time.Duration
	}{
		streams.Webhooks:  {"webhooks.>", 48 * time.Hour},
		streams.Callbacks: {"callbacks.>", 48 * time.Hour},
		streams.Orders:    {"orders.>", 48 * time.Hour},
		streams.DLQ:       {"dlq.>", 0},
	}
	check := func(dup time.Duration) {
		t.Helper()
		names := js.StreamNames(ctx)
		var got []string
		for name := range names.Name() {
			got = append(got, name)
		}
		if names.Err() != nil {
			t.Fatalf("stream names: %v", names.Err())
		}
		if len(got) != len(want) {
			t.Fatalf("streams %v, want %d", got, len(want))
		}
		for name, w := range want {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatalf("stream %s: %v", name, err)
			}
			c := s.CachedInfo().Config
			if len(c.Subjects) != 1 || c.Subjects[0] != w.subject {
				t.Errorf("%s subjects %v, want %s", name, c.Subjects, w.subject)
			}
			if c.Storage != jetstream.FileStorage {
				t.Errorf("%s storage %v, want file", name, c.Storage)
			}
			if c.Replicas != 1 {
				t.Errorf("%s replicas %d, want 1", name, c.Replicas)
			}
			if c.Duplicates != dup {
				t.Errorf("%s duplicate window %s, want %s", name, c.Duplicates, dup)
			}
			if c.MaxAge != w.maxAge {
				t.Errorf("%s max age %s, want %s", name, c.MaxAge, w.maxAge)
			}
			if c.Retention != jetstream.LimitsPolicy {
				t.Errorf("%s retention %v, want limits", name, c.Retention)
			}
		}
	}
	check(3 * time.Minute)

	// Idempotent: a second call with the same options succeeds and changes nothing.
	if _, err := js.Publish(ctx, streams.WebhookSubject("petstore", "default"), []byte("x")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := streams.Ensure(ctx, js, opts); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	check(3 * time.Minute)
	s, err := js.Stream(ctx, streams.Webhooks)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := s.CachedInfo().State.Msgs; msgs != 1 {
		t.Fatalf("WEBHOOKS holds %d messages after the second Ensure, want 1", msgs)
	}

	// A changed setting is applied to the existing streams.
	opts.DuplicateWindow = 5 * time.Minute
	if err := streams.Ensure(ctx, js, opts); err != nil {
		t.Fatalf("Ensure with a new duplicate window: %v", err)
	}
	check(5 * time.Minute)
}

func TestEnsureDeduplicates(t *testing.T) {
	n := testkit.StartNATS(t)
	_, js := n.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Options{}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	id := streams.WebhookMsgID("petstore", "default", "evt-1")
	subj := streams.WebhookSubject("petstore", "default")
	a, err := js.Publish(ctx, subj, []byte("one"), jetstream.WithMsgID(id))
	if err != nil {
		t.Fatal(err)
	}
	b, err := js.Publish(ctx, subj, []byte("two"), jetstream.WithMsgID(id))
	if err != nil {
		t.Fatal(err)
	}
	if a.Duplicate || !b.Duplicate || a.Sequence != b.Sequence {
		t.Fatalf("first %+v second %+v: want the second to be a duplicate of the first", a, b)
	}
}

// Several services starting together on a 3-node cluster each create the R3 streams at the same
// moment. NATS 2.9 sometimes leaves the losers of that race without a reply; Ensure must still
// return within its context, every stream created once with three replicas.
func TestEnsureConcurrentOnCluster(t *testing.T) {
	c := testkit.StartNATSCluster(t, 3)
	waitR3Placement(t, c)
	const services = 5
	opts := streams.Options{Replicas: 3}
	errs := make(chan error, services)
	for range services {
		_, js := c.Conn(t)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			errs <- streams.Ensure(ctx, js, opts)
		}()
	}
	for i := range services {
		if err := <-errs; err != nil {
			t.Errorf("Ensure %d of %d started together: %v", i+1, services, err)
		}
	}
	_, js := c.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, cfg := range streams.Configs(opts) {
		s, err := js.Stream(ctx, cfg.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", cfg.Name, err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("%s has %d replicas, want 3", cfg.Name, got)
		}
	}
}

// waitR3Placement waits until the meta leader can place an R3 stream (it knows every peer), with
// a probe stream it deletes again, so the test races the creators and not the cluster's start.
func waitR3Placement(t *testing.T, c *testkit.NATSCluster) {
	t.Helper()
	_, js := c.Conn(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe.>"}, Replicas: 3})
		if err == nil {
			err = js.DeleteStream(ctx, "PROBE")
			cancel()
			if err != nil {
				t.Fatalf("delete the probe stream: %v", err)
			}
			return
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("no R3 stream can be placed after 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
