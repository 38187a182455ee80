package orders

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
)

// HistoryLimit is how many entries an order's history keeps (apply.lua trims to it).
const HistoryLimit = 1000

// Entry is one event handled for one unit of an order, as the apply script recorded it.
type Entry struct {
	SourceEventID string
	ItemID        string // empty for the order itself
	Kind          Kind
	// Status and Canonical are what the event said.
	Status    string
	Canonical ordersv1.OrderStatus
	// Version is the unit's version after the event.
	Version                           int64
	Seq                               uint64
	OccurredAt, ReceivedAt, AppliedAt time.Time
}

// History returns the order's history, oldest first, or ErrNotFound for an order never seen.
func (s *Store) History(ctx context.Context, tenant, provider, orderID string) ([]Entry, error) {
	pipe := s.rdb.Pipeline()
	list := pipe.LRange(ctx, HistoryKey(tenant, provider, orderID), 0, -1)
	exists := pipe.Exists(ctx, OrderKey(tenant, provider, orderID))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read history %s: %w", orderID, classify(err))
	}
	if len(list.Val()) == 0 && exists.Val() == 0 {
		return nil, ErrNotFound
	}
	out := make([]Entry, len(list.Val()))
	for i, raw := range list.Val() {
		e, err := parseEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("read history %s: %w", orderID, err)
		}
		out[i] = e
	}
	return out, nil
}

var entryKinds = map[string]Kind{"a": Applied, "s": Stale, "r": Rejected, "d": Duplicate}

// parseEntry reads one history entry of apply.lua: kind, version, canonical, sequence,
// occurred-at ms, received-at ns, applied-at ns and the lengths of the source event id and the
// item id joined by \x1f, then the source event id, the item id and the status back to back.
func parseEntry(raw string) (Entry, error) {
	f := strings.SplitN(raw, "\x1f", 10)
	if len(f) != 10 {
		return Entry{}, fmt.Errorf("%w: history entry with %d fields", ErrBadReply, len(f))
	}
	bad := func(field, v string) error { return fmt.Errorf("%w: history %s %q", ErrBadReply, field, v) }
	e := Entry{Kind: entryKinds[f[0]]}
	if e.Kind == "" {
		return Entry{}, bad("kind", f[0])
	}
	var err error
	if e.Version, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return Entry{}, bad("version", f[1])
	}
	c, err := strconv.Atoi(f[2])
	if err != nil {
		return Entry{}, bad("canonical", f[2])
	}
	e.Canonical = ordersv1.OrderStatus(c)
	if e.Seq, err = strconv.ParseUint(f[3], 10, 64); err != nil {
		return Entry{}, bad("seq", f[3])
	}
	ms, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return Entry{}, bad("occurred", f[4])
	}
	e.OccurredAt = time.UnixMilli(ms).UTC()
	for i, t := range []*time.Time{&e.ReceivedAt, &e.AppliedAt} {
		ns, err := strconv.ParseInt(f[5+i], 10, 64)
		if err != nil {
			return Entry{}, bad("time", f[5+i])
		}
		if ns != 0 {
			*t = time.Unix(0, ns).UTC()
		}
	}
	ne, err1 := strconv.Atoi(f[7])
	ni, err2 := strconv.Atoi(f[8])
	if err1 != nil || err2 != nil || ne < 0 || ni < 0 || ne+ni > len(f[9]) {
		return Entry{}, bad("lengths", f[7]+","+f[8])
	}
	e.SourceEventID, e.ItemID, e.Status = f[9][:ne], f[9][ne:ne+ni], f[9][ne+ni:]
	return e, nil
}

// unixNano is t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
