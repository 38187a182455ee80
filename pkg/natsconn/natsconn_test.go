package natsconn

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ give, want string }{
		{"nats://nats:4222", "nats://nats:4222"},
		{"nats://user:secret@nats:4222", "nats://nats:4222"},
		{"nats://s3cr3t-token@nats:4222", "nats://nats:4222"},
		{"nats://a:pw@n1:4222, tls://n2:4222", "nats://n1:4222,tls://n2:4222"},
		{"tok@127.0.0.1:4222", "127.0.0.1:4222"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.give); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

// A setup error while NATS cannot be reached names the URL, without its credentials, and says it
// is unreachable.
func TestDescribeNamesTheURLWhileUnreachable(t *testing.T) {
	// Nothing listens on port 1; RetryOnFailedConnect keeps the connection reconnecting.
	nc, err := Connect("nats://user:hunter2@127.0.0.1:1", zap.NewNop(), Options{Name: "test", NoReconnectBuffer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cause := errors.New("ensure stream WEBHOOKS: nats: outbound buffer limit exceeded")
	got := Describe(nc, cause)
	if !errors.Is(got, cause) {
		t.Errorf("Describe lost the cause: %v", got)
	}
	msg := got.Error()
	for _, want := range []string{"nats://127.0.0.1:1", "unreachable", "reconnecting"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "user") {
		t.Errorf("%q shows the credentials", msg)
	}
	if Describe(nc, nil) != nil {
		t.Error("Describe(nil) is not nil")
	}
}
