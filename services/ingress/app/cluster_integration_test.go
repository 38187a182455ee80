package app_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

// Issue 12 acceptance 1 (ingress half): on a real 3-node cluster with R3 streams, the WEBHOOKS
// stream leader is killed while webhooks keep coming. Publishes during the election wait for
// the new leader: every webhook answered 2xx is in the stream exactly once, a webhook answered
// 503 at most once, nothing is stored twice, and the ingress goes on storing after the failover.
func TestIngressClusterStreamLeaderKilledUnderLoad(t *testing.T) {
	c := testkit.StartNATSCluster(t, 3)
	in := startIngress(t, c, map[string]string{
		"HOOKLINE_STREAM_REPLICAS": "3",
		"HOOKLINE_PUBLISH_TIMEOUT": "20s", // longer than an election after a kill -9 (2.9: up to ~10s)
	})
	in.client.Timeout = time.Minute
	testkit.Eventually(t, 30*time.Second, "/readyz 200", func() bool { return getStatus(t, in.admin+"/readyz") == 200 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := in.js.Stream(ctx, streams.Webhooks)
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.Config.Replicas != 3 {
		t.Fatalf("WEBHOOKS has %d replicas, want 3", info.Config.Replicas)
	}

	const senders, total, killAfter = 8, 600, 150
	var (
		mu     sync.Mutex
		status = map[string]int{} // Nats-Msg-Id → answer
		next   atomic.Int64
		done   atomic.Int64
		wg     sync.WaitGroup
	)
	killed := make(chan struct{})
	for range senders {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				if i > total-100 {
					<-killed // the last hundred go after the failover
				}
				id := fmt.Sprintf("cl-%d", i)
				resp, _ := in.do(petstore(id, ""))
				mu.Lock()
				status[streams.WebhookMsgID("petstore", "default", id)] = resp.StatusCode
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	testkit.Eventually(t, 30*time.Second, "load under way", func() bool { return done.Load() >= killAfter })
	leader := c.WaitForLeader(in.js, streams.Webhooks, "", 10*time.Second)
	c.KillServer(leader)
	t.Logf("killed WEBHOOKS leader %s after %d answers", leader, done.Load())
	newLeader := c.WaitForLeader(in.js, streams.Webhooks, leader, 30*time.Second)
	close(killed)
	wg.Wait()
	c.Restart(leader)
	t.Logf("new leader %s", newLeader)

	stored := map[string]int{}
	for _, m := range in.messages() {
		stored[m.Header.Get(jetstream.MsgIDHeader)]++
	}
	var ok, unavailable int
	for id, code := range status {
		switch code {
		case 200:
			ok++
			if stored[id] != 1 {
				t.Errorf("%s answered 200, stored %d times", id, stored[id])
			}
		case 503:
			unavailable++
			if stored[id] > 1 {
				t.Errorf("%s answered 503, stored %d times", id, stored[id])
			}
		default:
			t.Errorf("%s answered %d", id, code)
		}
	}
	for id, n := range stored {
		if _, sent := status[id]; !sent || n != 1 {
			t.Errorf("stream holds %s %d times (sent: %v)", id, n, sent)
		}
	}
	t.Logf("%d answered 200, %d answered 503, %d stored", ok, unavailable, len(stored))
	// The publish timeout (20s) outlasts the election: a 503 means a publish gave up at the
	// first "no responders" instead of waiting (before the retries, about 1 in 75 did).
	if unavailable > 0 {
		t.Errorf("%d webhooks answered 503: publishes did not wait out the election", unavailable)
	}
}
