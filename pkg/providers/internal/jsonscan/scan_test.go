package jsonscan

import (
	"encoding/json"
	"errors"
	"testing"
)

// stringEndBytewise is the byte-at-a-time scan stringEnd replaced: the reference it must match.
func stringEndBytewise(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(v)
}

func TestStringEnd(t *testing.T) {
	tests := []struct {
		give string
		want int
	}{
		{give: `""`, want: 2},
		{give: `"abc",1`, want: 5},
		{give: `"a\"b"x`, want: 6},
		{give: `"a\\"x`, want: 5},
		{give: `"a\\\"b"`, want: 8},
		{give: `"\\\\"`, want: 6},
		{give: `"unterminated`, want: 13},
	}
	for _, tt := range tests {
		if got := stringEnd([]byte(tt.give), 0); got != tt.want {
			t.Errorf("stringEnd(%s) = %d, want %d", tt.give, got, tt.want)
		}
		if got := stringEndBytewise([]byte(tt.give), 0); got != tt.want {
			t.Errorf("reference stringEnd(%s) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestTypeIs(t *testing.T) {
	tests := []struct {
		give string
		norm string
		want bool
	}{
		{give: "order.statusChanged", norm: "orderstatuschanged", want: true},
		{give: "order.status_changed", norm: "orderstatuschanged", want: true},
		{give: "ORDER-STATUS CHANGED", norm: "orderstatuschanged", want: true},
		{give: "order.status.change", norm: "orderstatuschanged", want: false},
		{give: "order.status.changedx", norm: "orderstatuschanged", want: false},
		{give: "", norm: "orderstatuschanged", want: false},
		{give: "...", norm: "", want: true},
		{give: "payment.succeeded", norm: "orderstatuschanged", want: false},
		{give: "order.statusChanged\u212a", norm: "orderstatuschangedk", want: true}, // Kelvin sign lowercases to k
	}
	for _, tt := range tests {
		if got := TypeIs(tt.give, tt.norm); got != tt.want {
			t.Errorf("TypeIs(%q, %q) = %v, want %v", tt.give, tt.norm, got, tt.want)
		}
		if got := NormType(tt.give) == tt.norm; got != tt.want {
			t.Errorf("NormType(%q) == %q is %v, want %v", tt.give, tt.norm, got, tt.want)
		}
	}
}

func TestPickTooManyNames(t *testing.T) {
	_, _, err := Pick([]byte(`{}`), "a", "b", "c", "d", "e", "f", "g", "h", "i")
	if !errors.Is(err, ErrTooManyNames) {
		t.Fatalf("Pick of 9 names: err %v, want ErrTooManyNames", err)
	}
}

// FuzzTypeIs: TypeIs agrees with NormType for every input.
func FuzzTypeIs(f *testing.F) {
	for _, s := range []string{"order.statusChanged", "Order_Status-Changed", "x\u212a", "İ"} {
		f.Add(s, "orderstatuschanged")
	}
	f.Fuzz(func(t *testing.T, s, norm string) {
		n := NormType(norm)
		if got, want := TypeIs(s, n), NormType(s) == n; got != want {
			t.Fatalf("TypeIs(%q, %q) = %v, NormType says %v", s, n, got, want)
		}
	})
}

// FuzzStringEnd: on valid JSON strings, stringEnd agrees with the byte-at-a-time scan.
func FuzzStringEnd(f *testing.F) {
	for _, s := range []string{`"a\"b"`, `"a\\"`, `"\\\\\""`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '"' || !json.Valid(b) {
			return
		}
		if got, want := stringEnd(b, 0), stringEndBytewise(b, 0); got != want {
			t.Fatalf("stringEnd(%q) = %d, byte-wise %d", b, got, want)
		}
	})
}

func BenchmarkStringEnd(b *testing.B) {
	v := []byte(`"9f4a8b3c-2d5e-4f7a-8b9c-0d1e2f3a4b5c with a longer tail of text \" and an escape",`)
	b.Run("indexbyte", func(b *testing.B) {
		for b.Loop() {
			_ = stringEnd(v, 0)
		}
	})
	b.Run("bytewise", func(b *testing.B) {
		for b.Loop() {
			_ = stringEndBytewise(v, 0)
		}
	})
}

func BenchmarkTypeIs(b *testing.B) {
	b.ReportAllocs()
	b.Run("TypeIs", func(b *testing.B) {
		for b.Loop() {
			_ = TypeIs("order.statusChanged", "orderstatuschanged")
		}
	})
	b.Run("NormType", func(b *testing.B) {
		for b.Loop() {
			_ = NormType("order.statusChanged") == "orderstatuschanged"
		}
	})
}
