package loadgen

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/hookline/hookline/pkg/webhook"
	"github.com/oklog/ulid/v2"
)

// Request is one webhook to send.
type Request struct {
	Path    string
	Headers [][2]string
	Body    []byte

	// What the oracle needs.
	Provider string
	OrderKey string // provider/order[/item]
	Statuses []statusStep
	EventID  string
}

type statusStep struct {
	key  string // provider/order[/item]
	rank int
	name string
}

// Lifecycles the generator walks, in order. They mirror the contract's section 6; the worker's
// tables are the authority, the oracle only needs the rank order.
var (
	petstoreLifecycle = []string{"PLACED", "APPROVED", "SHIPPED", "DELIVERED"}
	bunjangLifecycle  = []string{"PAYMENT_RECEIVED", "SHIPPED", "DELIVERED", "PURCHASE_CONFIRMED"}
)

// Scenario describes the traffic.
type Scenario struct {
	Orders          int     // orders per round
	PetstoreShare   float64 // share of petstore orders; the rest are bunjang
	DuplicateRate   float64 // chance that an event is sent a second time
	ShuffleRate     float64 // chance that an order's events are sent in a random order
	ItemsPerBunjang int     // order items per bunjang order (default 2)
	PetstoreSecret  []byte
	BunjangSecret   []byte
	Tenant          string // X-Tenant-ID, empty for default
	RunID           string // makes event and order ids unique per run
}

// generator produces one worker's share of the events; not safe for concurrent use.
type generator struct {
	s      *Scenario
	worker int
	rnd    *mrand.Rand
	round  int
	order  int // next order index within this worker's share
	queue  []*Request
	dup    []*Request
}

func newGenerator(s *Scenario, worker int) *generator {
	var seed [16]byte
	_, _ = rand.Read(seed[:]) // crypto/rand never fails on Linux
	return &generator{s: s, worker: worker,
		rnd: mrand.New(mrand.NewPCG(uint64(worker), uint64(seed[0])|uint64(seed[1])<<8|uint64(seed[2])<<16))}
}

// next returns the next request, signed now.
func (g *generator) next(workers int) *Request {
	if len(g.dup) > 0 && g.rnd.Float64() < 0.5 {
		r := g.dup[0]
		g.dup = g.dup[1:]
		g.sign(r)
		return r
	}
	if len(g.queue) == 0 {
		g.plan(workers)
	}
	r := g.queue[0]
	g.queue = g.queue[1:]
	if g.s.DuplicateRate > 0 && g.rnd.Float64() < g.s.DuplicateRate {
		g.dup = append(g.dup, r)
	}
	g.sign(r)
	return r
}

// plan queues every event of this worker's next order.
func (g *generator) plan(workers int) {
	idx := g.order*workers + g.worker
	g.order++
	if g.s.Orders > 0 && idx >= g.s.Orders {
		g.round++
		g.order = 1
		idx = g.worker
	}
	orderID := fmt.Sprintf("%s-r%d-o%d", g.s.RunID, g.round, idx)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	var events []*Request
	if g.rnd.Float64() < g.s.PetstoreShare {
		events = g.petstoreOrder(orderID, base)
	} else {
		events = g.bunjangOrder(orderID, base)
	}
	if g.s.ShuffleRate > 0 && g.rnd.Float64() < g.s.ShuffleRate {
		g.rnd.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	}
	g.queue = append(g.queue, events...)
}

func (g *generator) petstoreOrder(orderID string, base time.Time) []*Request {
	out := make([]*Request, 0, len(petstoreLifecycle))
	for i, status := range petstoreLifecycle {
		at := base.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339)
		id := fmt.Sprintf("%s-e%d", orderID, i)
		var body string
		if status == "APPROVED" && g.rnd.IntN(2) == 0 {
			body = fmt.Sprintf(`{"eventId":%q,"eventType":"payment.succeeded","timestamp":%q,"data":{"payment":{"id":"pay-%s","amount":"125.50","currency":"USD"},"order":{"id":%q,"status":"APPROVED"}}}`,
				id, at, id, orderID)
		} else {
			prev := ""
			if i > 0 {
				prev = petstoreLifecycle[i-1]
			}
			body = fmt.Sprintf(`{"eventId":%q,"eventType":"order.statusChanged","timestamp":%q,"data":{"order":{"id":%q,"status":%q,"totalAmount":"125.50","currency":"USD"},"previousStatus":%q,"newStatus":%q,"changedAt":%q,"changedBy":"system"}}`,
				id, at, orderID, status, prev, status, at)
		}
		out = append(out, &Request{Path: "/webhooks/petstore", Body: []byte(body), Provider: "petstore",
			OrderKey: "petstore/" + orderID, EventID: id,
			Statuses: []statusStep{{key: "petstore/" + orderID, rank: i, name: status}}})
	}
	return out
}

func (g *generator) bunjangOrder(orderID string, base time.Time) []*Request {
	items := g.s.ItemsPerBunjang
	if items < 1 {
		items = 2
	}
	// Bunjang order ids are numbers; derive one from the order id.
	num := fnv64(orderID) >> 16 // 48 bits: item ids (num*10+i) stay exact in a float64
	out := make([]*Request, 0, len(bunjangLifecycle))
	for i, status := range bunjangLifecycle {
		id := newULID(base.Add(time.Duration(i)*time.Second), g.rnd)
		r := &Request{Path: "/webhooks/bunjang", Provider: "bunjang", OrderKey: "bunjang/" + strconv.FormatUint(num, 10), EventID: id}
		body := fmt.Appendf(nil, `{"eventId":%q,"eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":%d,"orderItems":[`, id, num)
		for it := range items {
			if it > 0 {
				body = append(body, ',')
			}
			itemID := num*10 + uint64(it)
			body = fmt.Appendf(body, `{"orderItemId":%d,"pid":%d,"orderStatus":%q}`, itemID, 500000+it, status)
			r.Statuses = append(r.Statuses, statusStep{
				key: fmt.Sprintf("bunjang/%d/%d", num, itemID), rank: i, name: status})
		}
		r.Body = append(body, "]}}"...)
		out = append(out, r)
	}
	return out
}

// sign sets the signature headers for now.
func (g *generator) sign(r *Request) {
	r.Headers = r.Headers[:0]
	switch r.Provider {
	case "petstore":
		r.Headers = append(r.Headers, [2]string{webhook.HeaderPetstore, webhook.SignPetstore(g.s.PetstoreSecret, r.Body)})
	case "bunjang":
		r.Headers = append(r.Headers, [2]string{webhook.HeaderBunjang, webhook.SignBunjang(g.s.BunjangSecret, time.Now(), r.Body)})
	}
	if g.s.Tenant != "" {
		r.Headers = append(r.Headers, [2]string{"X-Tenant-ID", g.s.Tenant})
	}
}

// ULID returns a new ULID for t with random low bits.
func ULID(t time.Time) string {
	return ulid.MustNew(ulid.Timestamp(t), rand.Reader).String() // crypto/rand never fails on Linux
}

// newULID encodes a ULID for t with low bits from rnd, so a seeded generator repeats its ids.
func newULID(t time.Time, rnd *mrand.Rand) string {
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(t)) // fails only past the year 10889
	hi, lo := rnd.Uint64(), rnd.Uint64()
	var entropy [10]byte
	binary.LittleEndian.PutUint16(entropy[:2], uint16(hi))
	binary.LittleEndian.PutUint64(entropy[2:], lo)
	_ = id.SetEntropy(entropy[:]) // always 10 bytes
	return id.String()
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
