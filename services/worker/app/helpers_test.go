package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	ordersv1 "github.com/hookline/hookline/proto/gen/hookline/orders/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
)

// testEnv is one test's own nats-server and redis-server, and a client connection to each.
type testEnv struct {
	t     testing.TB
	nats  *testkit.NATS
	redis *testkit.Redis
	nc    *nats.Conn
	js    jetstream.JetStream
	rdb   *redis.Client
	// redisEnv, when set, replaces REDIS_URL in config (a cluster or sentinels).
	redisEnv envMap
}

func newEnv(t testing.TB, aof bool) *testEnv {
	t.Helper()
	e := newNATSEnv(t)
	if aof {
		e.redis = testkit.StartRedisAOF(t)
	} else {
		e.redis = testkit.StartRedis(t)
	}
	e.rdb = e.redis.Client(t)
	return e
}

// newNATSEnv is a test's own nats-server with the streams; the caller adds Redis.
func newNATSEnv(t testing.TB) *testEnv {
	t.Helper()
	e := &testEnv{t: t, nats: testkit.StartNATS(t)}
	e.nc, e.js = e.nats.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, e.js, streams.Options{DuplicateWindow: 2 * time.Minute, MaxAge: time.Hour}); err != nil {
		t.Fatalf("ensure streams: %v", err)
	}
	return e
}

type envMap map[string]string

func (m envMap) lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }

// config returns a worker configuration for this environment with fast retries.
func (e *testEnv) config(mut ...func(*Config)) Config {
	e.t.Helper()
	vars := envMap{
		"NATS_URL":                  e.nats.URL,
		"HOOKLINE_ADMIN_ADDR":       "127.0.0.1:0",
		EnvConcurrency:              "8",
		EnvAckWait:                  "2s",
		EnvBackoff:                  "50ms,100ms,200ms",
		EnvMaxDeliver:               "5",
		"HOOKLINE_STREAM_MAX_AGE":   "1h",
		"HOOKLINE_DUPLICATE_WINDOW": "2m",
		"HOOKLINE_LOG_LEVEL":        "info",
	}
	if e.redis != nil {
		vars["REDIS_URL"] = e.redis.URL
	}
	for k, v := range e.redisEnv {
		vars[k] = v
	}
	cfg, err := LoadConfig(vars.lookup)
	if err != nil {
		e.t.Fatalf("config: %v", err)
	}
	for _, f := range mut {
		f(&cfg)
	}
	return cfg
}

// worker is one running app.Run.
type worker struct {
	cancel context.CancelFunc
	done   chan error
	admin  string // http://host:port
}

func quietLogger(t testing.TB) *zap.Logger {
	if testing.Verbose() {
		return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	return zap.NewNop()
}

// startWorker runs the worker until the test ends (or stop).
func (e *testEnv) startWorker(cfg Config) *worker {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatalf("listen: %v", err)
	}
	cfg.AdminListener = ln
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{cancel: cancel, done: make(chan error, 1), admin: "http://" + ln.Addr().String()}
	log := quietLogger(e.t)
	go func() { w.done <- Run(ctx, cfg, log) }()
	e.t.Cleanup(func() { _ = w.stop() })
	return w
}

// stop cancels the worker and returns Run's error.
func (w *worker) stop() error {
	w.cancel()
	select {
	case err, ok := <-w.done:
		if !ok {
			return nil
		}
		close(w.done)
		return err
	case <-time.After(30 * time.Second):
		return errors.New("worker did not stop within 30s")
	}
}

// wait returns Run's error once it returns by itself.
func (w *worker) wait(t testing.TB, within time.Duration) error {
	t.Helper()
	select {
	case err := <-w.done:
		close(w.done)
		return err
	case <-time.After(within):
		t.Fatalf("worker still running after %s", within)
		return nil
	}
}

// get fetches path from the worker's admin port.
func (w *worker) get(t testing.TB, path string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

// order reads the order via the query API.
func (w *worker) order(t testing.TB, provider, orderID string) orderView {
	t.Helper()
	code, body := w.get(t, "/v1/orders/"+provider+"/"+orderID, nil)
	if code != http.StatusOK {
		t.Fatalf("GET order %s/%s = %d %s", provider, orderID, code, body)
	}
	var v orderView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("order body %s: %v", body, err)
	}
	return v
}

type orderView struct {
	TenantID       string `json:"tenantId"`
	Provider       string `json:"provider"`
	OrderID        string `json:"orderId"`
	Status         string `json:"status"`
	ProviderStatus string `json:"providerStatus"`
	Version        int64  `json:"version"`
	UpdatedAt      string `json:"updatedAt"`
	Items          map[string]struct {
		Status         string `json:"status"`
		ProviderStatus string `json:"providerStatus"`
		Version        int64  `json:"version"`
		UpdatedAt      string `json:"updatedAt"`
	} `json:"items"`
}

// metric sums the samples of a counter whose labels include every given label.
func (w *worker) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	code, body := w.get(t, "/metrics", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// inbound is one webhook as the ingress stores it.
type inbound struct {
	provider, tenant, eventID, eventType string
	body                                 []byte
	receivedAt                           time.Time
	msgID                                string // Nats-Msg-Id; default <provider>:<tenant>:<eventId>
	order                                string // the order the body is about
}

func (in inbound) msg() *nats.Msg {
	tenant := in.tenant
	if tenant == "" {
		tenant = config.DefaultTenant
	}
	m := nats.NewMsg(streams.WebhookSubject(in.provider, tenant))
	m.Data = in.body
	id := in.msgID
	if id == "" {
		id = streams.WebhookMsgID(in.provider, tenant, in.eventID)
	}
	m.Header.Set(streams.HeaderMsgID, id)
	m.Header.Set(streams.HeaderProvider, in.provider)
	m.Header.Set(streams.HeaderTenant, tenant)
	m.Header.Set(streams.HeaderEventID, in.eventID)
	m.Header.Set(streams.HeaderEventType, in.eventType)
	at := in.receivedAt
	if at.IsZero() {
		at = time.Now()
	}
	m.Header.Set(streams.HeaderReceivedAt, at.UTC().Format(streams.ReceivedAtLayout))
	return m
}

// petstoreStatus is a Petstore order.statusChanged webhook.
func petstoreStatus(eventID, orderID, status string, at time.Time) inbound {
	body := fmt.Sprintf(`{"eventId":%q,"eventType":"order.statusChanged","timestamp":%q,"data":{"order":{"id":%q,"status":%q,"totalAmount":"10.00"},"previousStatus":"PLACED","newStatus":%q,"changedAt":%q,"changedBy":"system"}}`,
		eventID, at.Format(time.RFC3339Nano), orderID, status, status, at.Format(time.RFC3339Nano))
	return inbound{provider: "petstore", eventID: eventID, eventType: "order.statusChanged", body: []byte(body), order: orderID}
}

// petstorePayment is a Petstore payment.succeeded webhook.
func petstorePayment(eventID, orderID string, at time.Time) inbound {
	body := fmt.Sprintf(`{"eventId":%q,"eventType":"payment.succeeded","timestamp":%q,"data":{"payment":{"id":"pay-%s","amount":10.5,"currency":"USD"},"order":{"id":%q}}}`,
		eventID, at.Format(time.RFC3339Nano), eventID, orderID)
	return inbound{provider: "petstore", eventID: eventID, eventType: "payment.succeeded", body: []byte(body), order: orderID}
}

type bunjangItem struct {
	id     int
	status string
}

// bunjangStatus is a Bunjang order.status.changed webhook; the ULID carries the time.
func bunjangStatus(ulid string, orderID int, items ...bunjangItem) inbound {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = fmt.Sprintf(`{"orderItemId":%d,"pid":503344,"orderStatus":%q}`, it.id, it.status)
	}
	body := fmt.Sprintf(`{"eventId":%q,"eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":%d,"orderItems":[%s]}}`,
		ulid, orderID, strings.Join(parts, ","))
	return inbound{provider: "bunjang", eventID: ulid, eventType: "order.status.changed", body: []byte(body), order: strconv.Itoa(orderID)}
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid encodes ms and a 16-character suffix taken from n.
func ulid(at time.Time, n uint64) string {
	var b [26]byte
	ms := uint64(at.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := 25; i >= 10; i-- {
		b[i] = crockford[n&31]
		n >>= 5
	}
	return string(b[:])
}

// publish stores msgs in WEBHOOKS, in order, and waits for every PubAck.
func (e *testEnv) publish(msgs ...*nats.Msg) {
	e.t.Helper()
	for len(msgs) > 500 {
		e.publish(msgs[:500]...)
		msgs = msgs[500:]
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := e.js.PublishMsgAsync(m)
		if err != nil {
			e.t.Fatalf("publish: %v", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			e.t.Fatalf("publish: %v", err)
		case <-time.After(30 * time.Second):
			e.t.Fatalf("publish: no PubAck")
		}
	}
}

func (e *testEnv) consumerInfo() *jetstream.ConsumerInfo {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := e.js.Consumer(ctx, streams.Webhooks, streams.ConsumerWorker)
	if err != nil {
		return nil
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil
	}
	return info
}

func (e *testEnv) streamMsgs(name string) uint64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, name)
	if err != nil {
		e.t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.t.Fatalf("stream %s info: %v", name, err)
	}
	return info.State.Msgs
}

// allAcked reports whether every WEBHOOKS message was delivered and acked (or termed).
func (e *testEnv) allAcked() bool {
	info := e.consumerInfo()
	if info == nil {
		return false
	}
	return info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= e.lastSeq(streams.Webhooks)
}

func (e *testEnv) lastSeq(name string) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, name)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.LastSeq
}

// eventually polls cond until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// canonical reads every canonical event in ORDERS, with its headers.
func (e *testEnv) canonical() []canonicalMsg {
	e.t.Helper()
	want := e.streamMsgs(streams.Orders)
	if want == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := e.js.OrderedConsumer(ctx, streams.Orders, jetstream.OrderedConsumerConfig{})
	if err != nil {
		e.t.Fatalf("ordered consumer: %v", err)
	}
	var out []canonicalMsg
	for uint64(len(out)) < want {
		batch, err := c.Fetch(int(min(want-uint64(len(out)), 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			e.t.Fatalf("fetch ORDERS: %v", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ev ordersv1.OrderStatusChanged
			if err := proto.Unmarshal(m.Data(), &ev); err != nil {
				e.t.Fatalf("canonical event: %v", err)
			}
			out = append(out, canonicalMsg{ev: &ev, subject: m.Subject(), header: m.Headers(), data: m.Data()})
		}
		if err := batch.Error(); err != nil && n == 0 {
			e.t.Fatalf("fetch ORDERS: %v", err)
		}
	}
	return out
}

type canonicalMsg struct {
	ev      *ordersv1.OrderStatusChanged
	subject string
	header  nats.Header
	data    []byte
}

// errCrash is what a crash hook returns: the handler stops where it is.
var errCrash = errors.New("simulated crash")

// crashOnce closes the worker's NATS connection and stops the handler, the first time only: the
// process "dies" at that point, nothing after it (publish, mark, ack) happens.
func crashOnce() func(nc *nats.Conn) error {
	var once sync.Once
	return func(nc *nats.Conn) error {
		crashed := false
		once.Do(func() {
			nc.Close()
			crashed = true
		})
		if crashed {
			return errCrash
		}
		return nil
	}
}
