package app

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// loadScript generates orders whose every unit (order or item) follows a lifecycle path with
// rising times, plus same-status repeats and unknown statuses in between. The last step of each
// path is its latest and highest-ranked event, so whatever the processing order the unit ends
// there: that is the oracle's final state.
type loadScript struct {
	msgs  []scripted
	final map[unitKey]string // unit → the status it must end in
	steps map[unitKey]int    // unit → distinct events carrying it
}

type unitKey struct{ provider, order, item string }

func genLoad(r *rand.Rand, orders int) loadScript {
	ls := loadScript{final: map[unitKey]string{}, steps: map[unitKey]int{}}
	for o := range orders {
		base := t0.Add(time.Duration(o) * time.Hour)
		if o%2 == 0 {
			ls.petstoreOrder(r, fmt.Sprintf("pet-%d", o), base)
		} else {
			ls.bunjangOrder(r, 10_000+o, base)
		}
	}
	return ls
}

// path picks a lifecycle path: a prefix of one of lines, with inner steps dropped at random.
func path(r *rand.Rand, lines [][]string) []string {
	line := lines[r.IntN(len(lines))]
	n := len(line)
	if r.IntN(3) == 0 {
		n = 1 + r.IntN(len(line))
	}
	var out []string
	for i, st := range line[:n] {
		if i < n-1 && r.IntN(5) == 0 {
			continue // jumped over
		}
		out = append(out, st)
	}
	return out
}

func (ls *loadScript) petstoreOrder(r *rand.Rand, orderID string, base time.Time) {
	steps := path(r, [][]string{
		{"PLACED", "APPROVED", "SHIPPED", "DELIVERED"},
		{"PLACED", "APPROVED", "SHIPPED", "DELIVERED"},
		{"PLACED", "APPROVED", "CANCELLED"},
		{"PLACED", "APPROVED", "SHIPPED", "CANCELLED"},
	})
	k := unitKey{"petstore", orderID, ""}
	n := 0
	add := func(status string, at time.Time, payment bool) {
		n++
		id := fmt.Sprintf("%s-%d", orderID, n)
		in := petstoreStatus(id, orderID, status, at)
		if payment {
			in = petstorePayment(id, orderID, at)
		}
		ls.msgs = append(ls.msgs, scripted{in: in, units: map[string]modelEvent{"": {id: id, status: status, at: at}}})
		ls.steps[k]++
	}
	for i, st := range steps {
		at := base.Add(time.Duration(i+1) * time.Minute)
		add(st, at, st == "APPROVED" && r.IntN(2) == 0)
		if i == len(steps)-1 {
			break
		}
		if r.IntN(3) == 0 { // the same status again, from another event
			add(st, at.Add(10*time.Second), false)
		}
		if r.IntN(3) == 0 { // a status outside the lifecycle
			add("ON_HOLD", at.Add(20*time.Second), false)
		}
	}
	ls.final[k] = steps[len(steps)-1]
}

func (ls *loadScript) bunjangOrder(r *rand.Rand, orderID int, base time.Time) {
	items := 1 + r.IntN(4)
	paths := make([][]string, items)
	longest := 0
	for i := range paths {
		paths[i] = path(r, [][]string{
			{"PAYMENT_RECEIVED", "SHIPPED", "DELIVERED", "PURCHASE_CONFIRMED"},
			{"PAYMENT_RECEIVED", "SHIPPED", "DELIVERED", "PURCHASE_CONFIRMED"},
			{"PAYMENT_RECEIVED", "CANCEL_REQUESTED", "CANCELLED"},
			{"PAYMENT_RECEIVED", "SHIPPED", "DELIVERED", "RETURN_REQUESTED", "REFUNDED"},
		})
		longest = max(longest, len(paths[i]))
		ls.final[unitKey{"bunjang", strconv.Itoa(orderID), strconv.Itoa(i + 1)}] = paths[i][len(paths[i])-1]
	}
	// Message k carries step k of every item that has one, at one time (the ULID's).
	for k := range longest {
		at := base.Add(time.Duration(k+1) * time.Minute)
		id := ulid(at, uint64(orderID)<<8|uint64(k))
		s := scripted{units: map[string]modelEvent{}}
		var its []bunjangItem
		for i, p := range paths {
			if k < len(p) {
				its = append(its, bunjangItem{id: i + 1, status: p[k]})
				s.units[strconv.Itoa(i+1)] = modelEvent{id: id, status: p[k], at: at}
				ls.steps[unitKey{"bunjang", strconv.Itoa(orderID), strconv.Itoa(i + 1)}]++
			}
		}
		s.in = bunjangStatus(id, orderID, its...)
		ls.msgs = append(ls.msgs, s)
	}
}

// TestIntegrationThreeWorkersOneConsumer is acceptance 4: three workers share the durable
// consumer; 20 000 events over 500 orders, with duplicates and shuffled, end in the oracle's
// states, and there are exactly as many canonical events as applied transitions.
func TestIntegrationThreeWorkersOneConsumer(t *testing.T) {
	const total, orders = 20_000, 500
	r := rand.New(rand.NewPCG(2025, 3))
	ls := genLoad(r, orders)
	if len(ls.msgs) > total {
		t.Fatalf("%d distinct events, more than %d", len(ls.msgs), total)
	}
	// Every event once, the rest as provider retries of random events, all shuffled.
	all := append([]scripted(nil), ls.msgs...)
	for len(all) < total {
		s := ls.msgs[r.IntN(len(ls.msgs))]
		s.in.msgID = fmt.Sprintf("retry-%d:%s", len(all), s.in.eventID)
		all = append(all, s)
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

	// The oracle, in publish order.
	models := map[unitKey]*modelUnit{}
	msgs := make([]*nats.Msg, len(all))
	for i, s := range all {
		msgs[i] = s.in.msg()
		provider := s.in.provider
		order := s.in.order
		for item, ev := range s.units {
			k := unitKey{provider, order, item}
			if models[k] == nil {
				models[k] = newModelUnit(provider)
			}
			models[k].apply(ev)
		}
	}
	for k, m := range models {
		if m.status != ls.final[k] {
			t.Fatalf("oracle: %v ends %s, script says %s", k, m.status, ls.final[k])
		}
	}

	e := newEnv(t, false)
	e.publish(msgs...)
	start := time.Now()
	var workers []*worker
	for range 3 {
		workers = append(workers, e.startWorker(e.config(func(c *Config) { c.Worker.Concurrency = 16 })))
	}
	eventually(t, 3*time.Minute, "20 000 messages acked", e.allAcked)
	t.Logf("%d messages, %d distinct, through 3 workers in %s", len(all), len(ls.msgs), time.Since(start).Round(time.Millisecond))

	// Canonical events per unit: versions 1..n exactly once each, the last one the final status.
	versions := map[unitKey][]int64{}
	lastStatus := map[unitKey]string{}
	events := e.canonical()
	for _, m := range events {
		k := unitKey{m.ev.GetProvider(), m.ev.GetOrderId(), m.ev.GetOrderItemId()}
		versions[k] = append(versions[k], m.ev.GetVersion())
		if int64(len(versions[k])) == 1 || m.ev.GetVersion() > slices.Max(versions[k][:len(versions[k])-1]) {
			lastStatus[k] = m.ev.GetProviderStatus()
		}
	}
	var applied int64
	for k, final := range ls.final {
		v := versions[k]
		slices.Sort(v)
		n := int64(len(v))
		for i, got := range v {
			if got != int64(i+1) {
				t.Fatalf("%v: canonical versions %v, want 1..%d once each", k, v, n)
			}
		}
		if n == 0 || n > int64(ls.steps[k]) || lastStatus[k] != final {
			t.Fatalf("%v: %d canonical events (of %d distinct), last %s; want 1..%d ending %s", k, n, ls.steps[k], lastStatus[k], ls.steps[k], final)
		}
		applied += n
	}
	// Final states through the query API, and Redis versions equal to the canonical counts.
	w := workers[0]
	for o := range orders {
		provider, order := "petstore", fmt.Sprintf("pet-%d", o)
		if o%2 == 1 {
			provider, order = "bunjang", strconv.Itoa(10_000+o)
		}
		v := w.order(t, provider, order)
		if provider == "petstore" {
			k := unitKey{provider, order, ""}
			if v.ProviderStatus != ls.final[k] || v.Version != int64(len(versions[k])) {
				t.Fatalf("%v = %s v%d, want %s v%d", k, v.ProviderStatus, v.Version, ls.final[k], len(versions[k]))
			}
			continue
		}
		for item, it := range v.Items {
			k := unitKey{provider, order, item}
			if it.ProviderStatus != ls.final[k] || it.Version != int64(len(versions[k])) {
				t.Fatalf("%v = %s v%d, want %s v%d", k, it.ProviderStatus, it.Version, ls.final[k], len(versions[k]))
			}
		}
	}
	if int64(len(events)) != applied {
		t.Fatalf("%d canonical events, %d applied transitions", len(events), applied)
	}
	var appliedMetric, dupMetric float64
	for _, w := range workers {
		appliedMetric += w.metric(t, "hookline_worker_outcomes_total", `kind="applied"`)
		dupMetric += w.metric(t, "hookline_worker_outcomes_total", `kind="duplicate"`)
	}
	if int64(appliedMetric) != applied {
		t.Fatalf("workers counted %v applied transitions, ORDERS holds %d canonical events", appliedMetric, applied)
	}
	if dupMetric < float64(total-len(ls.msgs)) {
		t.Fatalf("workers counted %v duplicates, want at least %d", dupMetric, total-len(ls.msgs))
	}
}
