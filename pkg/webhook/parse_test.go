package webhook_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/hookline/hookline/pkg/webhook"
)

const (
	hexA = "48ac1df980a770f7faab02af724bf05569f7df086cb1d503225fdcb0af879297"
	hexB = "e622bb27eec372f79c833e67f47ecd9aedbc84a038b8d7caae2856ec8cb55d95"
	b64A = "w1WrBQP8U6wwD8TQWvjkr1wzz5nH1gIzex90klJ3yZY="
)

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParsePetstoreHeader(t *testing.T) {
	tests := []struct {
		give    string
		want    string // hex
		wantErr error
	}{
		{give: "sha256=" + hexB, want: hexB},
		{give: "SHA256=" + strings.ToUpper(hexB), want: hexB},
		{give: "  sha256=" + hexB + "\t", want: hexB},
		{give: "", wantErr: webhook.ErrMissingSignature},
		{give: " ", wantErr: webhook.ErrMissingSignature},
		{give: hexB, wantErr: webhook.ErrMalformedSignature},
		{give: "sha256=", wantErr: webhook.ErrMalformedSignature},
		{give: "sha256= " + hexB, wantErr: webhook.ErrMalformedSignature},
		{give: "sha256=" + hexB[:63], wantErr: webhook.ErrMalformedSignature},
		{give: "sha256=" + hexB + "0", wantErr: webhook.ErrMalformedSignature},
		{give: "sha256=" + hexB[:63] + "x", wantErr: webhook.ErrMalformedSignature},
		{give: "sha512=" + hexB, wantErr: webhook.ErrMalformedSignature},
		{give: "sha256=" + hexB + ",sha256=" + hexB, wantErr: webhook.ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := webhook.ParsePetstoreHeader(tt.give)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != nil {
					t.Fatalf("ParsePetstoreHeader(%q) = %x, %v; want error %v", tt.give, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, mustHex(t, tt.want)) {
				t.Fatalf("ParsePetstoreHeader(%q) = %x, %v; want %s", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestParseBunjangHeader(t *testing.T) {
	tests := []struct {
		give    string
		wantT   int64
		want    []string // hex
		wantErr error
	}{
		{give: "t=1735648123,v0=" + hexA, wantT: 1735648123, want: []string{hexA}},
		{give: "t=1735648123,v0=" + hexA + ",v0=" + hexB, wantT: 1735648123, want: []string{hexA, hexB}},
		{give: "v0=" + strings.ToUpper(hexA) + ", t=0", wantT: 0, want: []string{hexA}},
		{give: " t = 42 , v0 = " + hexA + " ,", wantT: 42, want: []string{hexA}},
		{give: "t=0042,v0=" + hexA, wantT: 42, want: []string{hexA}},
		{give: "t=1,v9=zz,v0=" + hexA, wantT: 1, want: []string{hexA}},
		{give: "t=9223372036854775807,v0=" + hexA, wantT: 9223372036854775807, want: []string{hexA}},
		{give: "", wantErr: webhook.ErrMissingSignature},
		{give: " \t", wantErr: webhook.ErrMissingSignature},
		{give: ",", wantErr: webhook.ErrMalformedSignature},
		{give: "t=9223372036854775808,v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
		{give: "t=+1,v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
		{give: "t=1.5,v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
		{give: "t=,v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
		{give: "t=1,t=1,v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
		{give: "t=1", wantErr: webhook.ErrMalformedSignature},
		{give: "v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
		{give: "t=1,v0=" + hexA + ",v0=", wantErr: webhook.ErrMalformedSignature},
		{give: "t=1,=x,v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
		{give: "t=1,v0=" + hexA + ",junk", wantErr: webhook.ErrMalformedSignature},
		{give: "t=1;v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
		{give: "t=1" + strings.Repeat(",v0="+hexA, webhook.MaxSignatureEntries), wantErr: webhook.ErrMalformedSignature},
		{give: "t=1" + strings.Repeat(",x=y", webhook.MaxSignatureEntries) + ",v0=" + hexA, wantErr: webhook.ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			ts, macs, err := webhook.ParseBunjangHeader(tt.give)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || macs != nil {
					t.Fatalf("ParseBunjangHeader(%q) = %d, %x, %v; want error %v", tt.give, ts, macs, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseBunjangHeader(%q): %v", tt.give, err)
			}
			if ts != tt.wantT || len(macs) != len(tt.want) {
				t.Fatalf("ParseBunjangHeader(%q) = %d, %d macs; want %d, %d", tt.give, ts, len(macs), tt.wantT, len(tt.want))
			}
			for i := range macs {
				if !bytes.Equal(macs[i], mustHex(t, tt.want[i])) {
					t.Errorf("mac %d = %x, want %s", i, macs[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseStandardSignatures(t *testing.T) {
	a := "w1WrBQP8U6wwD8TQWvjkr1wzz5nH1gIzex90klJ3yZY="
	tests := []struct {
		give    string
		want    int // number of v1 MACs, each equal to a's decoding
		wantErr error
	}{
		{give: "v1," + a, want: 1},
		{give: "v1," + a + " v1," + a, want: 2},
		{give: "v1a,AAAA v1," + a + " v2,whatever", want: 1},
		{give: "\t v1," + a + "  ", want: 1},
		{give: "v1," + strings.TrimRight(a, "="), want: 1},
		{give: "", wantErr: webhook.ErrMissingSignature},
		{give: "   ", wantErr: webhook.ErrMissingSignature},
		{give: "v1a,AAAA", wantErr: webhook.ErrMalformedSignature},
		{give: "v1", wantErr: webhook.ErrMalformedSignature},
		{give: ",", wantErr: webhook.ErrMalformedSignature},
		{give: "," + a, wantErr: webhook.ErrMalformedSignature},
		{give: "v1,", wantErr: webhook.ErrMalformedSignature},
		{give: "v1," + a[:40], wantErr: webhook.ErrMalformedSignature},
		{give: "v1," + a + "=", wantErr: webhook.ErrMalformedSignature},
		{give: "v1,_" + a[1:], wantErr: webhook.ErrMalformedSignature},        // URL-safe alphabet
		{give: "v1," + a[:42] + "Z=", wantErr: webhook.ErrMalformedSignature}, // non-zero trailing bits
		{give: "v1," + a[:20] + "\n" + a[21:], wantErr: webhook.ErrMalformedSignature},
		{give: "v1," + a + ",extra", wantErr: webhook.ErrMalformedSignature},
		{give: "v1," + a + " junk", wantErr: webhook.ErrMalformedSignature},
		{give: strings.Repeat("v2,x ", webhook.MaxSignatureEntries) + "v1," + a, wantErr: webhook.ErrMalformedSignature},
	}
	want := mustB64(t, a)
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := webhook.ParseStandardSignatures(tt.give)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != nil {
					t.Fatalf("ParseStandardSignatures(%q) = %x, %v; want error %v", tt.give, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("ParseStandardSignatures(%q) = %d macs, %v; want %d", tt.give, len(got), err, tt.want)
			}
			for i := range got {
				if !bytes.Equal(got[i], want) {
					t.Errorf("mac %d = %x, want %x", i, got[i], want)
				}
			}
		})
	}
}
