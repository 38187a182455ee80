package streams

import (
	"regexp"
	"testing"
)

var uuidV5 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCallbackEventID(t *testing.T) {
	tests := []struct {
		name                     string
		tenant, order, timestamp string
	}{
		{"default tenant", "default", "ord-42", "1758613403"},
		{"uuid tenant", "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f", "ord-42", "1758613403"},
		{"rfc3339 timestamp", "default", "ord-42", "2025-09-23T07:43:23Z"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := CallbackEventID(tt.tenant, tt.order, tt.timestamp)
			if !uuidV5.MatchString(id) {
				t.Fatalf("%q is not a version 5 UUID", id)
			}
			if again := CallbackEventID(tt.tenant, tt.order, tt.timestamp); again != id {
				t.Fatalf("not stable: %s then %s", id, again)
			}
			if other, dup := seen[id]; dup {
				t.Fatalf("%s collides with %s", tt.name, other)
			}
			seen[id] = tt.name
		})
	}
}

func TestCallbackMsgID(t *testing.T) {
	if got, want := CallbackMsgID("default", "ord-42", "1758613403"), "callback:default:ord-42:1758613403"; got != want {
		t.Fatalf("CallbackMsgID = %q, want %q", got, want)
	}
}
