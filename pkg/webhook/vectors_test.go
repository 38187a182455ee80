package webhook_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// vectorsPath is the repository's copy of the contract's signature vectors (testdata/, so the
// tests pass in a clone of this repository alone).
const vectorsPath = "testdata/signature-vectors.json"

type vector struct {
	Secret  string            `json:"secret"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
	T       int64             `json:"t"`
}

type vectors struct {
	Petstore vector `json:"petstore"`
	Bunjang  vector `json:"bunjang"`
	Standard vector `json:"standardwebhooks"`
}

func loadVectors(tb testing.TB) vectors {
	tb.Helper()
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		tb.Fatalf("signature vectors not found at %s: %v", vectorsPath, err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("parse %s: %v", vectorsPath, err)
	}
	if v.Petstore.Body == "" || v.Bunjang.Body == "" || v.Standard.Body == "" || v.Bunjang.T == 0 {
		tb.Fatalf("%s: a vector is incomplete", vectorsPath)
	}
	return v
}

// header builds an http.Header the way net/http does (canonical keys).
func (v vector) header() http.Header {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return h
}

// standardTime is the Standard vector's webhook-timestamp.
func (v vector) standardTime(tb testing.TB) time.Time {
	tb.Helper()
	n, err := strconv.ParseInt(v.Headers["webhook-timestamp"], 10, 64)
	if err != nil {
		tb.Fatalf("standard vector timestamp: %v", err)
	}
	return time.Unix(n, 0)
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }
