package loadgen

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/oklog/ulid/v2"
)

// Request is one webhook to send.
type Request struct {
	Path    string
	Headers [][2]string // fixed ones, then the signature of the latest send
	Body    []byte

	// What the oracle needs.
	Provider string
	OrderKey string // provider/order[/item]
	Statuses []statusStep
	EventID  string

	fixed  int // how many of Headers are the event's own (the rest: signature, tenant)
	sample providers.Sample
	p      providers.Provider
	secret []byte
}

type statusStep struct {
	key  string // provider/order[/item]
	rank int
	name string
}

// Share is one provider's part of the traffic: the provider walks its lifecycle (Walk) with its
// samples, signed with Secret.
type Share struct {
	Provider providers.Provider
	Weight   float64
	Secret   []byte
}

// Scenario describes the traffic.
type Scenario struct {
	Orders        int     // orders per round
	Mix           []Share // providers and their weights
	DuplicateRate float64 // chance that an event is sent a second time
	ShuffleRate   float64 // chance that an order's events are sent in a random order
	ItemsPerOrder int     // order items per order of a provider with items (default 2)
	Shop          string  // shop domain for providers whose tenant rule reads one
	Tenant        string  // X-Tenant-ID, empty for default
	RunID         string  // makes event and order ids unique per run
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
	total  float64
}

func newGenerator(s *Scenario, worker int) *generator {
	var seed [16]byte
	_, _ = rand.Read(seed[:]) // crypto/rand never fails on Linux
	g := &generator{s: s, worker: worker,
		rnd: mrand.New(mrand.NewPCG(uint64(worker), uint64(seed[0])|uint64(seed[1])<<8|uint64(seed[2])<<16))}
	for _, sh := range s.Mix {
		g.total += max(0, sh.Weight)
	}
	return g
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

// pick chooses a provider by weight.
func (g *generator) pick() Share {
	x := g.rnd.Float64() * g.total
	for _, sh := range g.s.Mix {
		if w := max(0, sh.Weight); x < w {
			return sh
		}
		x -= max(0, sh.Weight)
	}
	return g.s.Mix[len(g.s.Mix)-1]
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
	events := g.orderEvents(g.pick(), orderID, base)
	if g.s.ShuffleRate > 0 && g.rnd.Float64() < g.s.ShuffleRate {
		g.rnd.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	}
	g.queue = append(g.queue, events...)
}

// orderEvents is one order walking its provider's lifecycle, one event a second.
func (g *generator) orderEvents(sh Share, orderID string, base time.Time) []*Request {
	p := sh.Provider
	items := g.s.ItemsPerOrder
	if items < 1 {
		items = 2
	}
	walk := p.Walk()
	out := make([]*Request, 0, len(walk))
	for i, status := range walk {
		s, err := p.Sample(providers.SampleSpec{
			EventID: fmt.Sprintf("%s-e%d", orderID, i), OrderKey: orderID, Status: status,
			Alt: g.rnd.IntN(2) == 0, ItemCount: items, Shop: g.s.Shop, At: base.Add(time.Duration(i) * time.Second),
		})
		if err != nil {
			continue // a provider's own walk always builds; skipping keeps the oracle honest
		}
		key := p.Name() + "/" + s.OrderID
		r := &Request{Path: "/webhooks/" + p.Name(), Body: s.Body, Provider: p.Name(), OrderKey: key, EventID: s.EventID,
			Headers: append([][2]string(nil), s.Headers...), fixed: len(s.Headers), sample: s, p: p, secret: sh.Secret}
		if len(s.Items) == 0 {
			r.Statuses = []statusStep{{key: key, rank: i, name: s.Status}}
		}
		for _, it := range s.Items {
			r.Statuses = append(r.Statuses, statusStep{key: key + "/" + it, rank: i, name: s.Status})
		}
		out = append(out, r)
	}
	return out
}

// sign sets the signature headers for now.
func (g *generator) sign(r *Request) {
	r.Headers = r.Headers[:r.fixed]
	if sig, err := r.p.Sign(r.secret, r.sample, time.Now()); err == nil {
		r.Headers = append(r.Headers, sig...)
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
