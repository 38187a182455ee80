package app

import (
	"time"
)

// The oracle: contract section 6 written down once more, independently of the Lua script, over a
// test-local copy of the lifecycles.

type modelStatus struct {
	rank     int // 0: unknown to the lifecycle
	terminal bool
	line     int // position on the main line, for skipped; 0 when off it
}

var modelLifecycles = map[string]map[string]modelStatus{
	"petstore": {
		"PLACED": {1, false, 1}, "APPROVED": {2, false, 2}, "SHIPPED": {3, false, 3}, "DELIVERED": {4, true, 4},
		"CANCELLED": {5, true, 0},
	},
	"bunjang": {
		"PAYMENT_RECEIVED": {1, false, 1}, "SHIPPED": {2, false, 2}, "DELIVERED": {3, false, 3},
		"PURCHASE_CONFIRMED": {4, true, 4}, "CANCEL_REQUESTED": {5, false, 0}, "CANCELLED": {6, true, 0},
		"RETURN_REQUESTED": {5, false, 0}, "REFUNDED": {6, true, 0},
	},
}

// modelEvent is one transition of one unit (an order, or an order item).
type modelEvent struct {
	id     string // source event id
	status string
	at     time.Time
}

type modelApplied struct {
	version        int64
	status, before string
	skippedLine    []int // main-line positions jumped over
}

// modelUnit is the oracle's state of one order or item.
type modelUnit struct {
	provider string
	status   string
	rank     int
	unknown  bool
	terminal bool
	at       time.Time
	version  int64
	seen     map[string]bool
	applied  []modelApplied
}

func newModelUnit(provider string) *modelUnit {
	return &modelUnit{provider: provider, seen: map[string]bool{}}
}

// apply returns the outcome kind of e.
func (u *modelUnit) apply(e modelEvent) string {
	if u.seen[e.id] {
		return "duplicate"
	}
	u.seen[e.id] = true
	st, known := modelLifecycles[u.provider][e.status]
	rank := st.rank
	if !known {
		rank = u.rank // an unknown status never moves the order back or forth
	}
	first := u.version == 0
	switch {
	case first:
	case e.status == u.status:
		return "stale"
	case e.at.Before(u.at):
		return "stale"
	case u.terminal:
		return "rejected"
	case known && (rank < u.rank || (rank == u.rank && !u.unknown)):
		return "stale"
	}
	var skipped []int
	if known && st.line > 0 {
		from := 0
		if !first {
			from = u.rank
		}
		for l := 1; l < st.line; l++ {
			if l > from { // main-line position l has rank l in both lifecycles
				skipped = append(skipped, l)
			}
		}
	}
	u.version++
	u.applied = append(u.applied, modelApplied{version: u.version, status: e.status, before: u.status, skippedLine: skipped})
	u.status, u.rank, u.unknown, u.terminal, u.at = e.status, rank, !known, st.terminal, e.at
	return "applied"
}
