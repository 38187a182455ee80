package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/cmd/hookline/internal/loadgen"
	"github.com/hookline/hookline/pkg/streams"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// ErrVerifyFailed is returned when the pipeline's end state differs from the oracle.
var ErrVerifyFailed = errors.New("verification failed")

// queriedState is one order or item as the query API returns it.
type queriedState struct {
	found          bool
	providerStatus string
	version        int64
}

// verifyReport counts what verify found.
type verifyReport struct {
	checked, uncertain      int
	lost, duplicated, wrong int
	problems                []string
}

func (r *verifyReport) add(kind *int, format string, args ...any) {
	*kind++
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// runVerify compares a bench run's oracle with the order query API and the ORDERS stream.
func runVerify(ctx context.Context, env Env) error {
	fs := newFlags("verify", "verify -oracle FILE [-url URL] [-nats URL]",
		"Compare a bench run's oracle with the query API and ORDERS: lost, duplicated, wrong state.")
	oraclePath := fs.String("oracle", "oracle.json", "oracle written by hookline bench -oracle")
	base := fs.String("url", envOr(env, "HOOKLINE_WORKER_URL", defaultWorker), "worker admin base URL (query API; default: HOOKLINE_WORKER_URL, else a running hookline dev)")
	natsURL := fs.String("nats", envOr(env, "NATS_URL", defaultNATS), "NATS URL (default: NATS_URL, else a running hookline dev)")
	wait := fs.Duration("wait", 2*time.Minute, "first wait this long at most for the worker to drain WEBHOOKS")
	show := fs.Int("show", 20, "problems to print")
	if err := parseFlags(env, fs, env.Args); err != nil {
		return err
	}
	o, err := loadgen.ReadOracle(*oraclePath)
	if err != nil {
		return err
	}
	nc, js, err := connectJS(*natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := waitDrained(ctx, js, *wait, env.Stderr); err != nil {
		return fmt.Errorf("on %s: %w", *natsURL, err)
	}
	uncertain := map[string]bool{}
	for _, k := range o.Uncertain {
		uncertain[k] = true
	}
	states, err := queryStates(ctx, *base, o)
	if err != nil {
		return fmt.Errorf("on %s: %w", *base, err)
	}
	rep := &verifyReport{}
	keys := make([]string, 0, len(o.Orders))
	for k := range o.Orders {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if uncertain[k] {
			rep.uncertain++
			continue
		}
		rep.checked++
		want, got := o.Orders[k], states[k]
		switch {
		case !got.found:
			rep.add(&rep.lost, "lost: %s unknown to the query API (want %s)", k, want)
		case !strings.EqualFold(got.providerStatus, want):
			rep.add(&rep.wrong, "wrong state: %s is %s, want %s", k, got.providerStatus, want)
		}
	}
	if err := checkCanonical(ctx, js, o, states, uncertain, rep, env.Stderr); err != nil {
		return fmt.Errorf("on %s: %w", *natsURL, err)
	}
	fmt.Fprintf(env.Stdout, "verified %d orders and items (%d uncertain, not judged): %d lost, %d duplicated, %d wrong state\n",
		rep.checked, rep.uncertain, rep.lost, rep.duplicated, rep.wrong)
	for i, p := range rep.problems {
		if i == *show {
			fmt.Fprintf(env.Stdout, "… and %d more\n", len(rep.problems)-*show)
			break
		}
		fmt.Fprintln(env.Stdout, "  "+p)
	}
	if rep.lost+rep.duplicated+rep.wrong > 0 {
		return fmt.Errorf("%w: %d lost, %d duplicated, %d wrong state", ErrVerifyFailed, rep.lost, rep.duplicated, rep.wrong)
	}
	return nil
}

// waitDrained waits until the worker consumer has nothing pending or unacknowledged.
func waitDrained(ctx context.Context, js jetstream.JetStream, limit time.Duration, progress io.Writer) error {
	deadline := time.Now().Add(limit)
	last := time.Time{}
	for {
		cons, err := js.Consumer(ctx, streams.Webhooks, streams.ConsumerWorker)
		if err != nil {
			return fmt.Errorf("worker consumer: %w", err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("worker consumer: %w", err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(progress, "worker not drained after %s: %d pending, %d unacknowledged; verifying anyway\n",
				limit, info.NumPending, info.NumAckPending)
			return nil
		}
		if time.Since(last) > 2*time.Second {
			fmt.Fprintf(progress, "waiting for the worker: %d pending, %d unacknowledged\n", info.NumPending, info.NumAckPending)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the worker: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// queryStates reads every oracle order from the query API, 16 at a time.
func queryStates(ctx context.Context, base string, o loadgen.Oracle) (map[string]queriedState, error) {
	orders := map[string][2]string{} // "provider/order" -> provider, order
	for k := range o.Orders {
		p := strings.SplitN(k, "/", 3)
		orders[p[0]+"/"+p[1]] = [2]string{p[0], p[1]}
	}
	type answer struct {
		ProviderStatus string `json:"providerStatus"`
		Version        int64  `json:"version"`
		Items          map[string]struct {
			ProviderStatus string `json:"providerStatus"`
			Version        int64  `json:"version"`
		} `json:"items"`
	}
	client := &http.Client{Timeout: 10 * time.Second}
	out := map[string]queriedState{}
	var mu sync.Mutex
	var firstErr error
	work := make(chan [2]string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for po := range work {
				u := strings.TrimRight(base, "/") + "/v1/orders/" + url.PathEscape(po[0]) + "/" + url.PathEscape(po[1])
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				if err == nil && o.Tenant != "default" {
					req.Header.Set("X-Tenant-ID", o.Tenant)
				}
				var resp *http.Response
				if err == nil {
					resp, err = client.Do(req)
				}
				var a answer
				found := false
				if err == nil {
					switch resp.StatusCode {
					case http.StatusOK:
						found = true
						err = json.NewDecoder(resp.Body).Decode(&a)
					case http.StatusNotFound:
					default:
						err = fmt.Errorf("get %s: status %d", u, resp.StatusCode)
					}
					_ = resp.Body.Close()
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("query API: %w", err)
				}
				key := po[0] + "/" + po[1]
				if len(a.Items) > 0 { // a provider with order items: the oracle keys each item
					for id, it := range a.Items {
						out[key+"/"+id] = queriedState{found: true, providerStatus: it.ProviderStatus, version: it.Version}
					}
				} else if found {
					out[key] = queriedState{found: true, providerStatus: a.ProviderStatus, version: a.Version}
				}
				mu.Unlock()
			}
		}()
	}
	for _, po := range orders {
		work <- po
	}
	close(work)
	wg.Wait()
	return out, firstErr
}

// checkCanonical reads ORDERS and checks, for every oracle order or item, that its canonical
// events are exactly versions 1..N (N = the query API's version), each event id once.
func checkCanonical(ctx context.Context, js jetstream.JetStream, o loadgen.Oracle, states map[string]queriedState,
	uncertain map[string]bool, rep *verifyReport, progress io.Writer) error {
	stream, err := js.Stream(ctx, streams.Orders)
	if err != nil {
		return fmt.Errorf("stream %s: %w", streams.Orders, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	versions := map[string]map[int64]int{}
	eventIDs := map[string]int{}
	if info.State.Msgs > 0 {
		cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		if err != nil {
			return fmt.Errorf("read %s: %w", streams.Orders, err)
		}
		seen, lastReport := uint64(0), time.Now()
		for seen < info.State.Msgs {
			batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
			if err != nil {
				return fmt.Errorf("read %s: %w", streams.Orders, err)
			}
			n := 0
			for m := range batch.Messages() {
				n++
				meta, err := m.Metadata()
				if err != nil {
					return fmt.Errorf("read %s: %w", streams.Orders, err)
				}
				seen = meta.Sequence.Stream - info.State.FirstSeq + 1
				var ev ordersv1.OrderStatusChanged
				if err := proto.Unmarshal(m.Data(), &ev); err != nil {
					continue // not ours to judge here
				}
				key := ev.GetProvider() + "/" + ev.GetOrderId()
				if ev.GetOrderItemId() != "" {
					key += "/" + ev.GetOrderItemId()
				}
				if _, ok := o.Orders[key]; !ok || ev.GetTenantId() != o.Tenant {
					continue
				}
				eventIDs[ev.GetEventId()]++
				if versions[key] == nil {
					versions[key] = map[int64]int{}
				}
				versions[key][ev.GetVersion()]++
			}
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
				return fmt.Errorf("read %s: %w", streams.Orders, err)
			}
			if n == 0 {
				break // nothing more within the wait: the stream is read
			}
			if time.Since(lastReport) > 2*time.Second {
				fmt.Fprintf(progress, "read %d of %d canonical events\n", seen, info.State.Msgs)
				lastReport = time.Now()
			}
		}
	}
	for id, n := range eventIDs {
		if n > 1 {
			rep.add(&rep.duplicated, "duplicated: canonical event %s stored %d times", id, n)
		}
	}
	keys := make([]string, 0, len(o.Orders))
	for k := range o.Orders {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		st := states[k]
		if uncertain[k] || !st.found {
			continue
		}
		for v := int64(1); v <= st.version; v++ {
			switch n := versions[k][v]; {
			case n == 0:
				rep.add(&rep.lost, "lost: %s has no canonical event for version %d", k, v)
			case n > 1:
				rep.add(&rep.duplicated, "duplicated: %s has %d canonical events for version %d", k, n, v)
			}
		}
		for v := range versions[k] {
			if v > st.version || v < 1 {
				rep.add(&rep.wrong, "wrong state: %s has a canonical event for version %d beyond its version %d", k, v, st.version)
			}
		}
	}
	return nil
}
