// Command example is a runnable downstream consumer of Hookline's canonical order events: it
// connects to NATS_URL, follows the ORDERS stream with a durable consumer and prints one line
// per event. It shows the two habits every consumer needs: ignore an event_id already handled,
// and use version to notice missing or out-of-order transitions of an order.
//
//	NATS_URL=nats://127.0.0.1:4222 go run ./pkg/consumer/example -provider petstore -new
//
// In a real service the "seen" and "version" bookkeeping lives in the team's own database, in
// the same transaction as the effect of the event.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/hookline/hookline/pkg/consumer"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run parses args, consumes until ctx ends and writes one line per event to out.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "hookline-example", "durable consumer name (one per team and purpose)")
	tenant := fs.String("tenant", "", "only this tenant (default: all)")
	provider := fs.String("provider", "", "only this provider (default: all)")
	deliverNew := fs.Bool("new", false, "a new durable starts with future events instead of the retained history")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(out, "usage: example [flags]\n\nFollow the ORDERS stream at NATS_URL (default "+nats.DefaultURL+") and print one line per event.\n\nflags:")
			fs.SetOutput(out)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("flags: %w", err)
	}
	url := getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	nc, err := nats.Connect(url, nats.Name("hookline-consumer-example"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream on %s: %w", url, err)
	}
	opts := []consumer.Option{consumer.WithTenant(*tenant), consumer.WithProvider(*provider)}
	if *deliverNew {
		opts = append(opts, consumer.WithDeliverNew())
	}
	c, err := consumer.New(ctx, js, *name, opts...)
	if err != nil {
		return fmt.Errorf("on %s: %w", url, err)
	}
	p := newPrinter(out)
	if err := c.Run(ctx, p.handle); err != nil {
		return fmt.Errorf("on %s: %w", url, err)
	}
	return nil
}

// printer prints events, skipping event ids it has seen and flagging version gaps.
type printer struct {
	mu      sync.Mutex
	out     io.Writer
	seen    map[string]bool
	version map[string]int64 // last version per order or order item
}

func newPrinter(out io.Writer) *printer {
	return &printer{out: out, seen: map[string]bool{}, version: map[string]int64{}}
}

func (p *printer) handle(ctx context.Context, ev *ordersv1.OrderStatusChanged) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var seq uint64
	if m, ok := consumer.Meta(ctx); ok {
		seq = m.StreamSeq
	}
	if p.seen[ev.GetEventId()] {
		_, err := fmt.Fprintf(p.out, "#%d duplicate %s ignored\n", seq, ev.GetEventId())
		return err
	}
	key := strings.Join([]string{ev.GetTenantId(), ev.GetProvider(), ev.GetOrderId(), ev.GetOrderItemId()}, "/")
	last := p.version[key]
	var note string
	switch v := ev.GetVersion(); {
	case v <= last:
		note = fmt.Sprintf(" (older than v%d already applied: ignored)", last)
	case last > 0 && v > last+1:
		note = fmt.Sprintf(" (gap: v%d..v%d not seen yet)", last+1, v-1)
	}
	line := fmt.Sprintf("#%d %s %s/%s order %s", seq, ev.GetEventId(), ev.GetTenantId(), ev.GetProvider(), ev.GetOrderId())
	if item := ev.GetOrderItemId(); item != "" {
		line += " item " + item
	}
	line += fmt.Sprintf(": %s -> %s v%d", status(ev.GetPreviousStatus()), status(ev.GetStatus()), ev.GetVersion())
	if len(ev.GetSkipped()) > 0 {
		var sk []string
		for _, s := range ev.GetSkipped() {
			sk = append(sk, status(s))
		}
		line += " skipped " + strings.Join(sk, ",")
	}
	if _, err := fmt.Fprintln(p.out, line+note); err != nil {
		// Not acknowledged: the event comes back and is printed again.
		return fmt.Errorf("print: %w", err)
	}
	p.seen[ev.GetEventId()] = true
	if ev.GetVersion() > last {
		p.version[key] = ev.GetVersion()
	}
	return nil
}

// status is the canonical name without its ORDER_STATUS_ prefix.
func status(s ordersv1.OrderStatus) string {
	return strings.TrimPrefix(s.String(), "ORDER_STATUS_")
}
