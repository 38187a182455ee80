package cli

import (
	"errors"
	"net"
	"testing"
	"time"

	workerapp "github.com/hookline/hookline/services/worker/app"
)

func TestParseFrom(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		give     string
		wantSeq  uint64
		wantTime time.Time
		wantErr  bool
	}{
		{give: "all"},
		{give: "42", wantSeq: 42},
		{give: "0", wantSeq: 1},
		{give: "2026-11-20T00:00:00Z", wantTime: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{give: "2h", wantTime: now.Add(-2 * time.Hour)},
		{give: "1d", wantTime: now.Add(-24 * time.Hour)},
		{give: "yesterday", wantErr: true},
		{give: "-5m", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			var o workerapp.ReplayOptions
			err := parseFrom(tt.give, now, &o)
			if tt.wantErr {
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("err = %v, want ErrUsage", err)
				}
				return
			}
			if err != nil || o.StartSeq != tt.wantSeq || !o.StartTime.Equal(tt.wantTime) {
				t.Fatalf("got seq %d time %s err %v; want seq %d time %s", o.StartSeq, o.StartTime, err, tt.wantSeq, tt.wantTime)
			}
		})
	}
}

func TestDialable(t *testing.T) {
	tests := []struct {
		give net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, "127.0.0.1:9"},
	}
	for _, tt := range tests {
		if got := dialable(tt.give); got != tt.want {
			t.Errorf("dialable(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
