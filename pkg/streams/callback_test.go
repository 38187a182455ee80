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

// The ids are pinned: a callback's eventId is returned at intake and carried by every delivery,
// so it must not change across versions for the same request. The want values were computed
// independently with Python's uuid.uuid5(UUID("6b1e3c52-0d8f-4a61-9c27-5e90b4137ad8"),
// "callback:<tenant>:<order>:<timestamp>").
func TestCallbackEventIDPinned(t *testing.T) {
	tests := []struct {
		give [3]string // tenant, order id, timestamp
		want string
	}{
		{[3]string{"default", "ord-42", "1758613403"}, "c6543ba3-137a-5315-90d9-c7e541cb2f0c"},
		{[3]string{"0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f", "ord-42", "1758613403"}, "1f4a863e-1871-51e2-9c6f-486430161583"},
		{[3]string{"default", "ord-42", "2025-09-23T07:43:23Z"}, "1099b214-5139-5f06-8e6b-5152c03076f8"},
	}
	for _, tt := range tests {
		if got := CallbackEventID(tt.give[0], tt.give[1], tt.give[2]); got != tt.want {
			t.Errorf("CallbackEventID(%q) = %s, want %s", tt.give, got, tt.want)
		}
	}
}
