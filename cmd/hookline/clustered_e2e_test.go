package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/pkg/testkit"
	"github.com/redis/go-redis/v9"
)

// Issue 12, what to build 2: the order query API (and the order history), `hookline replay` and
// `hookline verify` work with the worker on a Redis Cluster and on Redis Sentinel as they do on
// one Redis server (TestVerifyFindsInjectedFaults, TestDevReplayRebuildsState). REDIS_URL points
// at nothing: REDIS_CLUSTER_ADDRS and REDIS_SENTINEL_* win over it (contract section 11).
func TestClusteredRedisQueryReplayVerify(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) (env []string, flush func() error)
	}{
		{"cluster", func(t *testing.T) ([]string, func() error) {
			c := testkit.StartRedisCluster(t)
			cc := c.Client(t)
			return []string{"REDIS_CLUSTER_ADDRS=" + strings.Join(c.Addrs(), ",")}, func() error {
				return cc.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
					return n.FlushAll(ctx).Err()
				})
			}
		}},
		{"sentinel", func(t *testing.T) ([]string, func() error) {
			s := testkit.StartRedisSentinel(t)
			rdb := s.Client(t)
			return []string{"REDIS_SENTINEL_ADDRS=" + strings.Join(s.Addrs(), ","), "REDIS_SENTINEL_MASTER=" + s.Master},
				func() error { return rdb.FlushAll(context.Background()).Err() }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, flush := tt.start(t)
			d := startDev(t, "redis://127.0.0.1:1/0", env...) // nothing listens there: REDIS_URL is ignored

			// verify: a bench run checked through the query API and ORDERS.
			oracle := filepath.Join(t.TempDir(), "oracle.json")
			d.mustRun("bench", "-q", "-target", d.ingress, "-n", "160", "-c", "4", "-orders", "40", "-nats", d.nats, "-oracle", oracle)
			verify := func() (string, error) {
				return d.run("verify", "-oracle", oracle, "-url", d.worker, "-nats", d.nats, "-wait", "60s")
			}
			if out, err := verify(); err != nil || !strings.Contains(out, "0 lost, 0 duplicated, 0 wrong state") {
				t.Fatalf("verify of an untouched run: %v\n%s", err, out)
			}

			// The query API and the history of a lifecycle sent by hand.
			d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-cl", "-status", "PLACED")
			d.waitOrder("petstore", "ord-cl", func(s orderState) bool { return s.Status == "PLACED" && s.Version == 1 })
			d.mustRun("send", "petstore", "-url", d.ingress, "-order", "ord-cl", "-status", "SHIPPED")
			d.waitOrder("petstore", "ord-cl", func(s orderState) bool { return s.Status == "SHIPPED" && s.Version == 2 })
			var hist struct {
				OrderID string `json:"orderId"`
				Events  []struct {
					Kind, Status     string
					Version          int64
					CanonicalEventID string `json:"canonicalEventId"`
				} `json:"events"`
			}
			raw := d.mustRun("orders", "history", "petstore", "ord-cl", "-json", "-url", d.worker)
			if err := json.Unmarshal([]byte(raw), &hist); err != nil {
				t.Fatalf("orders history -json printed %q: %v", raw, err)
			}
			if len(hist.Events) != 2 || hist.OrderID != "ord-cl" ||
				hist.Events[0].Kind != "applied" || hist.Events[0].Status != "PLACED" || hist.Events[0].Version != 1 ||
				hist.Events[1].Kind != "applied" || hist.Events[1].Status != "SHIPPED" || hist.Events[1].Version != 2 ||
				hist.Events[1].CanonicalEventID == "" {
				t.Fatalf("history = %+v, want applied PLACED v1 then applied SHIPPED v2", hist)
			}
			// A Bunjang order: one script call writes the order and both items (one hash slot).
			d.mustRun("send", "bunjang", "-url", d.ingress, "-order", "7070", "-items", "70701,70702", "-status", "PAYMENT_RECEIVED")
			d.waitOrder("bunjang", "7070", func(s orderState) bool {
				return s.Items["70701"].Status == "APPROVED" && s.Items["70702"].Status == "APPROVED"
			})
			d.mustRun("send", "bunjang", "-url", d.ingress, "-order", "7070", "-items", "70701", "-status", "SHIPPED")
			d.waitOrder("bunjang", "7070", func(s orderState) bool { return s.Items["70701"].Status == "SHIPPED" })
			hand := [][2]string{{"petstore", "ord-cl"}, {"bunjang", "7070"}}
			before := map[[2]string]string{}
			for _, o := range hand {
				before[o] = d.mustRun("orders", "get", o[0], o[1], "-url", d.worker)
			}

			// Redis loses everything; replay rebuilds it from WEBHOOKS.
			if err := flush(); err != nil {
				t.Fatalf("flush: %v", err)
			}
			if _, err := d.run("orders", "get", "petstore", "ord-cl", "-url", d.worker); err == nil {
				t.Fatal("order still known after FLUSHALL")
			}
			if out, err := verify(); err == nil || strings.Contains(out, " 0 lost") {
				t.Fatalf("verify after FLUSHALL passed, want lost orders:\n%s", out)
			}
			if out := d.mustRun("replay", "-from", "all"); !strings.Contains(out, "replay done") {
				t.Fatalf("replay: %s", out)
			}
			// Every order is back in its final state. Versions are not compared: the live worker
			// handles events of one order concurrently (one that ran after a later one is stale),
			// while the replay follows the stream order, so it may count more transitions than ORDERS
			// holds canonical events for. The orders sent by hand, one event at a time, are
			// equal.
			if out, _ := verify(); !strings.Contains(out, " 0 duplicated, 0 wrong state") {
				t.Fatalf("verify after the replay: orders not in their final state:\n%s", out)
			}
			for _, o := range hand {
				after := d.mustRun("orders", "get", o[0], o[1], "-url", d.worker)
				if a, b := comparable(t, before[o]), comparable(t, after); a != b {
					t.Errorf("%s/%s after the replay:\n got %s\nwant %s", o[0], o[1], b, a)
				}
			}
		})
	}
}
