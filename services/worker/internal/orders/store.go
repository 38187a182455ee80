package orders

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/redis/go-redis/v9"
)

//go:embed apply.lua
var applySource string

// markSource records that the canonical events of stream message ARGV[1] were published, if the
// event record still exists (it is never recreated without its TTL).
const markSource = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'p', ARGV[1]) end
return 1`

// Kind is the outcome of one transition.
type Kind string

// Outcomes of the apply step (contract section 6).
const (
	Applied  Kind = "applied"
	Stale    Kind = "stale"
	Rejected Kind = "rejected"
	// Duplicate is a history entry's kind only: the event id was already recorded for the unit.
	Duplicate Kind = "duplicate"
)

var (
	// ErrUnavailable marks a Redis failure worth retrying: the server is unreachable, loading, or
	// busy. Other errors are bugs or bad data.
	ErrUnavailable = errors.New("redis unavailable")
	// ErrNotFound is returned by Read for an order never seen.
	ErrNotFound = errors.New("order not found")
	// ErrBadReply marks a script reply the store cannot read.
	ErrBadReply = errors.New("unexpected script reply")
	// ErrBadRequest marks a Request the store refuses before running anything.
	ErrBadRequest = errors.New("invalid apply request")
)

// Unit is one transition to apply: the order itself, or one of its items.
type Unit struct {
	ItemID     string // empty for the order itself
	Status     Status
	OccurredAt time.Time
}

// Request is one provider event for one order.
type Request struct {
	Tenant, Provider, OrderID, SourceEventID string
	// Items: the units are order items (Bunjang). Otherwise there is exactly one unit, the order.
	Items bool
	Units []Unit
	// Seq is the WEBHOOKS stream sequence of the message.
	Seq uint64
	// ReceivedAt is when the ingress received the webhook (Hookline-Received-At), for the history.
	ReceivedAt time.Time
	AppliedAt  time.Time
}

// Record is what the store keeps per event id and unit: enough to rebuild the canonical event.
type Record struct {
	Kind              Kind
	Version           int64
	PreviousStatus    string
	PreviousCanonical ordersv1.OrderStatus
	Status            string
	Canonical         ordersv1.OrderStatus
	Skipped           []ordersv1.OrderStatus
	AppliedAt         time.Time
	Seq               uint64
}

// Outcome is the result for one unit.
type Outcome struct {
	ItemID string
	// Recorded: the event id was already recorded for this unit before this call; Record is the
	// outcome recorded then.
	Recorded bool
	Record   Record
}

// Result is the result of one Apply.
type Result struct {
	Outcomes []Outcome
	// PublishedSeq is the stream sequence whose canonical events are known to be published for this
	// event id, 0 if none.
	PublishedSeq uint64
}

// Store applies transitions in Redis. Concurrent calls share pipelines; Close stops them.
type Store struct {
	rdb   redis.UniversalClient
	ttl   time.Duration
	apply *redis.Script
	mark  *redis.Script
	batch *batcher
}

// Pipelining: how many pipelines may be in flight, how many scripts one carries, and how long
// one may take.
const (
	pipelines       = 4
	maxBatch        = 128
	pipelineTimeout = 5 * time.Second
)

// NewStore returns a store keeping event records for ttl (providers retry for days).
// On a Redis Cluster, pipelines are sent per node.
func NewStore(rdb redis.UniversalClient, ttl time.Duration, opts ...Option) *Store {
	s := &Store{
		rdb: rdb, ttl: ttl, apply: redis.NewScript(applySource), mark: redis.NewScript(markSource),
		batch: newBatcher(rdb, pipelines, maxBatch, pipelineTimeout),
	}
	for _, o := range opts {
		o(s)
	}
	s.batch.start()
	return s
}

// Close sends what is queued (such as published markers) and stops the pipelines. Call it once
// nothing uses the store any more; it does not close the Redis client.
func (s *Store) Close() { s.batch.close() }

// Keys of one order. The hash tag {<tenant>:<provider>:<order>} puts them in one cluster slot.
// Tenant and provider are subject tokens; ids are escaped so that no id can end the hash tag or
// pass for another key's suffix.
func orderTag(tenant, provider, orderID string) string {
	return "hl:{" + tenant + ":" + provider + ":" + keyPart(orderID) + "}"
}

var keyEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D", ":", "%3A")

func keyPart(id string) string {
	if !strings.ContainsAny(id, "%{}:") {
		return id
	}
	return keyEscaper.Replace(id)
}

// OrderKey is the order's state (or summary, for item-level providers).
func OrderKey(tenant, provider, orderID string) string {
	return orderTag(tenant, provider, orderID) + ":o"
}

// EventKey is the record of one source event for the order.
func EventKey(tenant, provider, orderID, sourceEventID string) string {
	return orderTag(tenant, provider, orderID) + ":e:" + keyPart(sourceEventID)
}

// ItemsKey is the set of the order's item ids.
func ItemsKey(tenant, provider, orderID string) string {
	return orderTag(tenant, provider, orderID) + ":items"
}

// ItemKey is one item's state.
func ItemKey(tenant, provider, orderID, itemID string) string {
	return orderTag(tenant, provider, orderID) + ":i:" + keyPart(itemID)
}

// HistoryKey is the order's history: one entry per handled event and unit (see History).
func HistoryKey(tenant, provider, orderID string) string {
	return orderTag(tenant, provider, orderID) + ":h"
}

// Apply runs the apply script for req.
func (s *Store) Apply(ctx context.Context, req Request) (Result, error) {
	if len(req.Units) == 0 || (!req.Items && len(req.Units) != 1) {
		return Result{}, fmt.Errorf("apply %s: %d units for items=%t", req.SourceEventID, len(req.Units), req.Items)
	}
	// The script reads every unit's record before it writes any: one unit per item.
	for i, u := range req.Units {
		for _, v := range req.Units[:i] {
			if v.ItemID == u.ItemID {
				return Result{}, fmt.Errorf("apply %s: %w: item %q listed twice", req.SourceEventID, ErrBadRequest, u.ItemID)
			}
		}
	}
	keys := []string{
		OrderKey(req.Tenant, req.Provider, req.OrderID),
		EventKey(req.Tenant, req.Provider, req.OrderID, req.SourceEventID),
	}
	items := "0"
	if req.Items {
		items = "1"
		keys = append(keys, ItemsKey(req.Tenant, req.Provider, req.OrderID))
		for _, u := range req.Units {
			keys = append(keys, ItemKey(req.Tenant, req.Provider, req.OrderID, u.ItemID))
		}
	}
	keys = append(keys, HistoryKey(req.Tenant, req.Provider, req.OrderID))
	args := make([]any, 0, 6+7*len(req.Units))
	args = append(args, strconv.FormatUint(req.Seq, 10), strconv.FormatInt(req.AppliedAt.UnixNano(), 10),
		strconv.FormatInt(s.ttl.Milliseconds(), 10), items, req.SourceEventID, strconv.FormatInt(unixNano(req.ReceivedAt), 10))
	for _, u := range req.Units {
		rank, term := strconv.Itoa(u.Status.Rank), "0"
		if !u.Status.Known {
			rank = "-1"
		}
		if u.Status.Terminal {
			term = "1"
		}
		args = append(args, u.ItemID, u.Status.Name, strconv.Itoa(int(u.Status.Canonical)), rank, term,
			strconv.FormatInt(u.OccurredAt.UnixMilli(), 10), chainArg(u.Status.Chain))
	}
	reply, err := s.batch.do(ctx, s.apply, keys, args...).StringSlice()
	if err != nil {
		return Result{}, fmt.Errorf("apply %s: %w", req.SourceEventID, classify(err))
	}
	if len(reply) != 1+len(req.Units) {
		return Result{}, fmt.Errorf("apply %s: %w: %d elements", req.SourceEventID, ErrBadReply, len(reply))
	}
	res := Result{Outcomes: make([]Outcome, len(req.Units))}
	if reply[0] != "" {
		if res.PublishedSeq, err = strconv.ParseUint(reply[0], 10, 64); err != nil {
			return Result{}, fmt.Errorf("apply %s: %w: marker %q", req.SourceEventID, ErrBadReply, reply[0])
		}
	}
	for i, r := range reply[1:] {
		if r == "" {
			return Result{}, fmt.Errorf("apply %s: %w: empty record", req.SourceEventID, ErrBadReply)
		}
		rec, err := parseRecord(r[1:])
		if err != nil {
			return Result{}, fmt.Errorf("apply %s: %w", req.SourceEventID, err)
		}
		res.Outcomes[i] = Outcome{ItemID: req.Units[i].ItemID, Recorded: r[0] == '1', Record: rec}
	}
	return res, nil
}

// MarkPublished records that the canonical events of the stream message seq were published, so a
// later redelivery of it does not publish them again. It queues the write and returns: the marker
// only saves a re-publish, which JetStream's duplicate window drops anyway.
func (s *Store) MarkPublished(ctx context.Context, tenant, provider, orderID, sourceEventID string, seq uint64) error {
	key := EventKey(tenant, provider, orderID, sourceEventID)
	if err := s.batch.send(ctx, s.mark, []string{key}, strconv.FormatUint(seq, 10)); err != nil {
		return fmt.Errorf("mark published %s: %w", sourceEventID, err)
	}
	return nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

func chainArg(chain []Step) string {
	var b strings.Builder
	for i, st := range chain {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(st.Rank))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(int(st.Canonical)))
	}
	return b.String()
}

// parseRecord reads the script's record: kind, version, previous canonical, canonical, skipped,
// applied-at, sequence and the previous status's length joined by \x1f, then the previous status
// and the status back to back.
func parseRecord(raw string) (Record, error) {
	f := strings.SplitN(raw, "\x1f", 9)
	if len(f) != 9 {
		return Record{}, fmt.Errorf("%w: record with %d fields", ErrBadReply, len(f))
	}
	bad := func(field, v string) error { return fmt.Errorf("%w: record %s %q", ErrBadReply, field, v) }
	r := Record{Kind: Kind(f[0])}
	switch r.Kind {
	case Applied, Stale, Rejected:
	default:
		return Record{}, bad("kind", f[0])
	}
	var err error
	if r.Version, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return Record{}, bad("version", f[1])
	}
	pc, err := strconv.Atoi(f[2])
	if err != nil {
		return Record{}, bad("previous canonical", f[2])
	}
	c, err := strconv.Atoi(f[3])
	if err != nil {
		return Record{}, bad("canonical", f[3])
	}
	r.PreviousCanonical, r.Canonical = ordersv1.OrderStatus(pc), ordersv1.OrderStatus(c)
	if f[4] != "" {
		for _, p := range strings.Split(f[4], ",") {
			n, err := strconv.Atoi(p)
			if err != nil {
				return Record{}, bad("skipped", f[4])
			}
			r.Skipped = append(r.Skipped, ordersv1.OrderStatus(n))
		}
	}
	ns, err := strconv.ParseInt(f[5], 10, 64)
	if err != nil {
		return Record{}, bad("applied", f[5])
	}
	r.AppliedAt = time.Unix(0, ns).UTC()
	if r.Seq, err = strconv.ParseUint(f[6], 10, 64); err != nil {
		return Record{}, bad("seq", f[6])
	}
	n, err := strconv.Atoi(f[7])
	if err != nil || n < 0 || n > len(f[8]) {
		return Record{}, bad("previous status length", f[7])
	}
	r.PreviousStatus, r.Status = f[8][:n], f[8][n:]
	return r, nil
}

// classify marks Redis outages with ErrUnavailable: any client-side failure (refused dial, reset
// connection, timeout, closed pool), the server's transient refusals and a cluster's redirections
// and failovers. A server error reply such as a script error or a wrong key type stays as it is:
// retrying will not fix it.
func classify(err error) error {
	var rerr redis.Error
	switch {
	case errors.Is(err, ErrUnavailable):
		return err
	case errors.As(err, &rerr) && !isTransient(err):
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// isTransient reports the server replies that mean "not now": the dataset is loading, the node
// is a replica or lost its primary, the cluster is down or resharding, or the slot moved
// (MOVED/ASK, also when redirections ran out during a failover).
func isTransient(err error) bool {
	_, moved := redis.IsMovedError(err)
	_, ask := redis.IsAskError(err)
	return moved || ask || redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsNoReplicasError(err) ||
		redis.HasErrorPrefix(err, "BUSY")
}
