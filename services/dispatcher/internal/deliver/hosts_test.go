package deliver

import (
	"errors"
	"testing"
	"time"
)

func TestHostsConcurrencyCap(t *testing.T) {
	h := NewHosts(HostOptions{MaxConcurrent: 2, BusyDelay: time.Second})
	now := time.Now()
	for i := range 2 {
		if _, err := h.Acquire("a.example", now); err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
	}
	wait, err := h.Acquire("a.example", now)
	if !errors.Is(err, ErrHostBusy) {
		t.Fatalf("third acquire: %v, want ErrHostBusy", err)
	}
	if wait < 500*time.Millisecond || wait > 1500*time.Millisecond {
		t.Fatalf("busy wait %s, want 0.5s to 1.5s", wait)
	}
	if _, err := h.Acquire("b.example", now); err != nil {
		t.Fatalf("another host is limited too: %v", err)
	}
	h.Release("a.example", false, now)
	if _, err := h.Acquire("a.example", now); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	h.Cancel("a.example")
	h.Release("a.example", false, now)
	h.Release("b.example", false, now)
	if n := len(h.hosts); n != 0 {
		t.Fatalf("%d idle hosts still tracked", n)
	}
}

func TestBreakerLifecycle(t *testing.T) {
	var transitions []string
	h := NewHosts(HostOptions{
		MaxConcurrent: 10, FailureThreshold: 3, Cooldown: 10 * time.Second,
		OnState: func(_ string, from, to BreakerState) {
			transitions = append(transitions, from.String()+">"+to.String())
		},
	})
	const host = "down.example"
	now := time.Unix(1_000_000, 0)
	fail := func() {
		t.Helper()
		if _, err := h.Acquire(host, now); err != nil {
			t.Fatalf("acquire: %v", err)
		}
		h.Release(host, true, now)
	}

	fail()
	fail()
	if got := h.State(host); got != Closed {
		t.Fatalf("after 2 failures state %s, want closed", got)
	}
	fail()
	if got := h.State(host); got != Open {
		t.Fatalf("after 3 failures state %s, want open", got)
	}
	wait, err := h.Acquire(host, now.Add(4*time.Second))
	if !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("acquire while open: %v, want ErrBreakerOpen", err)
	}
	if wait < 6*time.Second || wait > 11*time.Second {
		t.Fatalf("open wait %s, want the 6s left plus at most half a cooldown", wait)
	}

	// After the cooldown one probe goes through; others wait for it.
	later := now.Add(11 * time.Second)
	if _, err := h.Acquire(host, later); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if _, err := h.Acquire(host, later); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("second request during probe: %v, want ErrBreakerOpen", err)
	}
	h.Release(host, true, later) // probe failed: open again
	if got := h.State(host); got != Open {
		t.Fatalf("after failed probe state %s, want open", got)
	}
	again := later.Add(11 * time.Second)
	if _, err := h.Acquire(host, again); err != nil {
		t.Fatalf("second probe: %v", err)
	}
	h.Release(host, false, again)
	if got := h.State(host); got != Closed {
		t.Fatalf("after good probe state %s, want closed", got)
	}
	want := []string{"closed>open", "open>half_open", "half_open>open", "open>half_open", "half_open>closed"}
	if len(transitions) != len(want) {
		t.Fatalf("transitions %v, want %v", transitions, want)
	}
	for i := range want {
		if transitions[i] != want[i] {
			t.Fatalf("transitions %v, want %v", transitions, want)
		}
	}
}

func TestBreakerSuccessResetsFailures(t *testing.T) {
	h := NewHosts(HostOptions{FailureThreshold: 2})
	now := time.Now()
	for _, failed := range []bool{true, false, true, false, true} {
		if _, err := h.Acquire("flaky.example", now); err != nil {
			t.Fatalf("acquire: %v", err)
		}
		h.Release("flaky.example", failed, now)
	}
	if got := h.State("flaky.example"); got != Closed {
		t.Fatalf("state %s, want closed: failures were never consecutive", got)
	}
}
