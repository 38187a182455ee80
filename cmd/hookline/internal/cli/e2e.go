package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/hookline/hookline/cmd/hookline/internal/loadgen"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
)

// endToEnd measures sent → canonical event seen on ORDERS, by subscribing to orders.>.
type endToEnd struct {
	sub *nats.Subscription

	mu     sync.Mutex
	sentAt map[string]time.Time // source event id -> first send
	hist   *hdrhistogram.Histogram
	last   time.Time // when the last canonical event arrived
	seen   int64
}

func watchOrders(nc *nats.Conn) (*endToEnd, error) {
	e := &endToEnd{sentAt: map[string]time.Time{}, hist: hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)}
	sub, err := nc.Subscribe("orders.>", e.observe)
	if err != nil {
		return nil, fmt.Errorf("subscribe orders.>: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("subscribe orders.>: %w", err)
	}
	e.sub = sub
	return e, nil
}

func (e *endToEnd) sent(r *loadgen.Request, at time.Time) {
	e.mu.Lock()
	if _, ok := e.sentAt[r.EventID]; !ok {
		e.sentAt[r.EventID] = at
	}
	e.mu.Unlock()
}

func (e *endToEnd) observe(m *nats.Msg) {
	now := time.Now()
	var ev ordersv1.OrderStatusChanged
	if proto.Unmarshal(m.Data, &ev) != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	at, ok := e.sentAt[ev.GetSourceEventId()]
	if !ok {
		return // not from this run
	}
	_ = e.hist.RecordValue(now.Sub(at).Microseconds()) // clamped past 5 minutes
	e.seen++
	e.last = now
}

// settle waits until no canonical event arrived for a second, or limit.
func (e *endToEnd) settle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		quiet := !e.last.IsZero() && time.Since(e.last) > time.Second
		e.mu.Unlock()
		if quiet {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = e.sub.Unsubscribe() // the connection closes right after
}

func (e *endToEnd) percentiles() loadgen.Percentiles {
	e.mu.Lock()
	defer e.mu.Unlock()
	us := func(q float64) time.Duration { return time.Duration(e.hist.ValueAtQuantile(q)) * time.Microsecond }
	return loadgen.Percentiles{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9),
		Max: time.Duration(e.hist.Max()) * time.Microsecond, Mean: time.Duration(e.hist.Mean()) * time.Microsecond}
}

func (e *endToEnd) summary(w io.Writer) {
	p := e.percentiles()
	e.mu.Lock()
	seen := e.seen
	e.mu.Unlock()
	fmt.Fprintf(w, "end-to-end p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%d canonical events seen on ORDERS)\n",
		p.P50, p.P90, p.P99, p.P999, p.Max, seen)
}
