package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const historyJSON = `{"tenantId":"default","provider":"petstore","orderId":"o-1","events":[` +
	`{"eventId":"e-1","itemId":"","kind":"applied","status":"SHIPPED","providerStatus":"shipped","version":1,"occurredAt":"2025-01-02T03:04:05Z","receivedAt":"2025-01-02T03:04:06Z","appliedAt":"2025-01-02T03:04:07Z","streamSequence":7,"canonicalEventId":"petstore:default:e-1"},` +
	`{"eventId":"e-1","itemId":"","kind":"duplicate","status":"SHIPPED","providerStatus":"shipped","version":1,"occurredAt":"2025-01-02T03:04:05Z","receivedAt":"2025-01-02T03:04:06Z","appliedAt":"2025-01-02T03:04:09Z","streamSequence":7,"canonicalEventId":""}]}`

// fakeWorker answers the history of petstore/o-1 for the default tenant or tenant t-1 and
// records the X-Tenant-ID it was sent; anything else is 404.
func fakeWorker(t *testing.T, gotTenant *string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/orders/petstore/o-1/history", func(w http.ResponseWriter, r *http.Request) {
		*gotTenant = r.Header.Get("X-Tenant-ID")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(historyJSON))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestOrdersHistory(t *testing.T) {
	var tenant string
	base := fakeWorker(t, &tenant)
	tests := []struct {
		name       string
		give       []string
		wantTenant string
		want       []string // lines of stdout, in order
	}{
		{"table", []string{"orders", "history", "petstore", "o-1", "-url", base}, "", []string{
			"order petstore/o-1 (tenant default): 2 events",
			"SEQ  KIND       EVENT  ITEM  STATUS   PROVIDER STATUS  VERSION  OCCURRED              APPLIED               CANONICAL EVENT",
			"7    applied    e-1    -     SHIPPED  shipped          1        2025-01-02T03:04:05Z  2025-01-02T03:04:07Z  petstore:default:e-1",
			"7    duplicate  e-1    -     SHIPPED  shipped          1        2025-01-02T03:04:05Z  2025-01-02T03:04:09Z  -",
		}},
		{"json with tenant", []string{"orders", "history", "-json", "petstore", "o-1", "-tenant", "t-1", "-url", base}, "t-1", []string{
			`{`, `  "tenantId": "default",`, `  "provider": "petstore",`, `  "orderId": "o-1",`, `  "events": [`, `    {`, `      "eventId": "e-1",`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := Env{Args: tt.give, Stdout: &out, Stderr: &errb, Lookup: func(string) (string, bool) { return "", false }}
			if err := Run(context.Background(), env); err != nil {
				t.Fatalf("Run = %v; stderr %s", err, errb.String())
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if len(lines) < len(tt.want) {
				t.Fatalf("stdout:\n%s\nwant at least %d lines", out.String(), len(tt.want))
			}
			for i, w := range tt.want {
				if strings.TrimRight(lines[i], " ") != w {
					t.Errorf("line %d = %q\nwant     %q", i, lines[i], w)
				}
			}
			if tenant != tt.wantTenant {
				t.Errorf("X-Tenant-ID = %q, want %q", tenant, tt.wantTenant)
			}
		})
	}
	var out bytes.Buffer
	env := Env{Args: []string{"orders", "history", "petstore", "o-2", "-url", base}, Stdout: &out, Stderr: &out,
		Lookup: func(string) (string, bool) { return "", false }}
	if err := Run(context.Background(), env); !errors.Is(err, ErrNotFound) {
		t.Fatalf("history of an unknown order = %v, want ErrNotFound", err)
	}
	env.Args = []string{"orders", "history", "petstore", "-url", base}
	if err := Run(context.Background(), env); !errors.Is(err, ErrUsage) {
		t.Fatalf("history without an order id = %v, want ErrUsage", err)
	}
}
