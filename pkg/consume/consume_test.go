package consume_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/consume"
)

func TestBackoffFor(t *testing.T) {
	l := consume.New(nil, nil, nil, nil, consume.Options{Backoff: []time.Duration{time.Second, 5 * time.Second, time.Minute}})
	tests := []struct {
		give uint64
		want time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 5 * time.Second}, {3, time.Minute}, {4, time.Minute}, {1000, time.Minute},
	}
	for _, tt := range tests {
		if got := l.BackoffFor(tt.give); got != tt.want {
			t.Errorf("BackoffFor(%d) = %s, want %s", tt.give, got, tt.want)
		}
	}
	if got := consume.New(nil, nil, nil, nil, consume.Options{}).BackoffFor(3); got != time.Second {
		t.Errorf("default backoff %s, want 1s", got)
	}
}

func TestErrors(t *testing.T) {
	base := errors.New("cause")
	r := consume.Retry(time.Second, base)
	var re *consume.RetryError
	if !errors.As(r, &re) || re.Delay != time.Second || !errors.Is(r, base) {
		t.Errorf("Retry = %#v", r)
	}
	d := consume.DeadLetter("why", base, map[string]string{"A": "b"})
	var de *consume.DeadLetterError
	if !errors.As(d, &de) || de.Reason != "why" || de.Headers["A"] != "b" || !errors.Is(d, base) {
		t.Errorf("DeadLetter = %#v", d)
	}
	if !strings.Contains(d.Error(), "why") || !strings.Contains(r.Error(), "cause") {
		t.Errorf("messages %q %q", d.Error(), r.Error())
	}
}
