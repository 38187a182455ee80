package all_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/all"
)

// contractVectors is the repository's copy of the contract's signature vectors
// (../shared/contract/signature-vectors.json), committed so the tests pass in a clone of this
// repository alone. Each provider folder keeps its own entry in testdata/signature-vector.json,
// which its signature tests read.
const contractVectors = "testdata/signature-vectors.json"

// TestContractSignatureVectors checks the contract's vectors: each is the one its provider
// folder's tests use, and the provider's verifier, looked up in the registry, accepts it and
// refuses it once the body changes.
func TestContractSignatureVectors(t *testing.T) {
	raw, err := os.ReadFile(contractVectors)
	if err != nil {
		t.Fatalf("signature vectors not found at %s: %v", contractVectors, err)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatalf("parse %s: %v", contractVectors, err)
	}
	reg := all.Registry()
	tests := []struct {
		give     string // the contract's key
		folder   string // below pkg/providers
		provider providers.Provider
		// at is when the vector was signed, read from it; zero: the scheme signs no timestamp.
		at func(v vector) time.Time
	}{
		{give: "petstore", folder: "petstore", provider: lookup(t, reg, "petstore")},
		{give: "bunjang", folder: "bunjang", provider: lookup(t, reg, "bunjang"), at: func(v vector) time.Time { return time.Unix(v.T, 0) }},
		{give: "standardwebhooks", folder: "standardwebhooks", provider: reg.Source(), at: func(v vector) time.Time {
			n, _ := strconv.ParseInt(v.Headers["webhook-timestamp"], 10, 64)
			return time.Unix(n, 0)
		}},
	}
	seen := map[string]bool{"_about": true}
	for _, tt := range tests {
		seen[tt.give] = true
		t.Run(tt.give, func(t *testing.T) {
			entry, ok := entries[tt.give]
			if !ok {
				t.Fatalf("%s has no %s vector", contractVectors, tt.give)
			}
			own, err := os.ReadFile(filepath.Join("..", tt.folder, "testdata", "signature-vector.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal(entry, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(own, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("pkg/providers/%s/testdata/signature-vector.json differs from the contract's %s vector", tt.folder, tt.give)
			}

			var v vector
			if err := json.Unmarshal(entry, &v); err != nil {
				t.Fatal(err)
			}
			if v.Secret == "" || v.Body == "" || len(v.Headers) == 0 {
				t.Fatalf("the %s vector is incomplete", tt.give)
			}
			now := time.Now()
			if tt.at != nil {
				if now = tt.at(v); now.Unix() <= 0 {
					t.Fatalf("the %s vector has no signing time", tt.give)
				}
			}
			ver, err := tt.provider.Verifier([][]byte{[]byte(v.Secret)}, 0, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			for k, val := range v.Headers {
				h.Set(k, val)
			}
			if err := ver.Verify(h, []byte(v.Body)); err != nil {
				t.Errorf("%s refuses its contract vector: %v", tt.provider.Name(), err)
			}
			changed := append(bytes.Clone([]byte(v.Body)), ' ')
			if err := ver.Verify(h, changed); !errors.Is(err, providers.ErrSignatureMismatch) {
				t.Errorf("%s with a changed body: %v, want a mismatch", tt.provider.Name(), err)
			}
		})
	}
	for k := range entries {
		if !seen[k] {
			t.Errorf("%s has a %s vector no test checks", contractVectors, k)
		}
	}
}

type vector struct {
	Secret  string            `json:"secret"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
	T       int64             `json:"t"`
}

func lookup(t *testing.T, reg *providers.Registry, name string) providers.Provider {
	t.Helper()
	p, ok := reg.Lookup(name)
	if !ok {
		t.Fatalf("no provider %s", name)
	}
	return p
}
