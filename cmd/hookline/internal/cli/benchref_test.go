package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/testkit"
)

func TestBenchTargetReference(t *testing.T) {
	const petSecret, bunSecret = "ref-petstore-secret", "ref-bunjang-secret"
	n := testkit.StartNATS(t)
	_, js := n.Conn(t)
	port := testkit.FreePort(t)
	vars := map[string]string{"HOOKLINE_PETSTORE_SECRETS": petSecret, "HOOKLINE_BUNJANG_SECRETS": bunSecret}
	env := Env{
		Args:   []string{"-mode", "reference", "-addr", "127.0.0.1:" + strconv.Itoa(port), "-nats", n.URL},
		Stdout: io.Discard, Stderr: io.Discard,
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
	}
	testkit.RunInBackground(t, func(ctx context.Context) error { return runBenchTarget(ctx, env) })
	base := "http://127.0.0.1:" + strconv.Itoa(port) + "/webhooks/"
	testkit.Eventually(t, 10*time.Second, "reference target listening", func() bool {
		resp, err := http.Post(base+"petstore", "application/json", nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})

	body := []byte(`{"id":"evt-1","order_id":"o-1","status":"paid"}`)
	tests := []struct {
		name       string
		provider   string
		header     string
		value      string
		wantStatus int
		wantStored uint64 // messages in BENCHREF after the request
	}{
		{"petstore signed", "petstore", petstore.HeaderSignature, petstore.Sign([]byte(petSecret), body), http.StatusAccepted, 1},
		{"bunjang signed", "bunjang", bunjang.HeaderSignature, bunjang.Sign([]byte(bunSecret), time.Now(), body), http.StatusAccepted, 2},
		{"wrong secret", "petstore", petstore.HeaderSignature, petstore.Sign([]byte("other"), body), http.StatusUnauthorized, 2},
		{"no signature", "bunjang", "X-Other", "x", http.StatusUnauthorized, 2},
		{"unknown provider", "acme", petstore.HeaderSignature, petstore.Sign([]byte(petSecret), body), http.StatusNotFound, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, base+tt.provider, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(tt.header, tt.value)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := js.Stream(ctx, benchRefStream)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != tt.wantStored {
				t.Fatalf("%s holds %d messages, want %d", benchRefStream, info.State.Msgs, tt.wantStored)
			}
		})
	}
}

func TestBenchTargetUnknownMode(t *testing.T) {
	env := Env{Args: []string{"-mode", "fast"}, Stdout: io.Discard, Stderr: io.Discard,
		Lookup: func(string) (string, bool) { return "", false }}
	if err := runBenchTarget(context.Background(), env); !errors.Is(err, ErrUsage) {
		t.Fatalf("err = %v, want ErrUsage", err)
	}
}
