package testkit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Trickle is a slow client: it sends head (request line and headers) at once over a new TCP
// connection to addr, then body one byte per gap, and returns the status, headers and body of
// the answer (read within 30s). It stops sending once the server answers or closes.
func Trickle(t testing.TB, addr, head string, body []byte, gap time.Duration) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatalf("send headers: %v", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, b := range body {
			select {
			case <-done:
				return
			case <-time.After(gap):
			}
			if _, err := conn.Write([]byte{b}); err != nil {
				return // the server closed the connection: expected once it answered
			}
		}
	}()
	defer wg.Wait()
	defer close(done)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer body: %v", err)
	}
	return resp, b
}
