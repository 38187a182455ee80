package callbacks

import (
	"math/big"
	"testing"
)

func TestDecimalFromNumber(t *testing.T) {
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{"738.05", "738.05", true},
		{"1.50", "1.50", true},
		{"0", "0", true},
		{"1e5", "100000", true},
		{"1E5", "100000", true},
		{"1e+5", "100000", true},
		{"7.3805e2", "738.05", true},
		{"7.3805E+2", "738.05", true},
		{"73805e-2", "738.05", true},
		{"1.50e1", "15.0", true},
		{"25e-1", "2.5", true},
		{"1e-2", "0.01", true},
		{"0.5e1", "5", true},
		{"0e5", "0", true},
		{"0e-3", "0.000", true},
		{"1e0", "1", true},
		{"123456789012345678e0", "123456789012345678", true},
		{"0.1000000000000000055511151231257827e1", "1.000000000000000055511151231257827", true}, // no float rounding
		{"-1e5", "-100000", true},
		{"1e64", "1" + "0000000000000000000000000000000000000000000000000000000000000000", true},
		{"1e65", "", false},
		{"1e-65", "", false},
		{"1e0000000000000000000000005", "100000", true},
		{"1e99999999999999999999", "", false},
		{"1e", "", false},
		{"1e+", "", false},
		{"1.", "", false},
		{".5", "", false},
		{"01", "", false},
		{"1x", "", false},
		{"1e5.5", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := decimalFromNumber(tt.give)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("decimalFromNumber(%q) = %q, %v; want %q, %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
			if !ok {
				return
			}
			in, ok1 := new(big.Rat).SetString(tt.give)
			out, ok2 := new(big.Rat).SetString(got)
			if !ok1 || !ok2 || in.Cmp(out) != 0 {
				t.Fatalf("%q rendered as %q is not the same number", tt.give, got)
			}
		})
	}
}

func TestParseBodyAmount(t *testing.T) {
	body := func(amount string) string {
		return `{"amount": ` + amount + `, "currency": "USD", "timestamp": "1", "callbackUrl": "https://93.184.216.34/"}`
	}
	tests := []struct {
		give string
		want string // "" means refused
	}{
		{`1e5`, "100000"},
		{`7.3805e2`, "738.05"},
		{`738.05`, "738.05"},
		{`0`, "0"},
		{`2.5E0`, "2.5"},
		{`"738.05"`, "738.05"},
		{`"1e5"`, ""}, // strings stay plain decimals
		{`-1e5`, ""},
		{`-0`, ""},
		{`1e19`, ""},  // 20 integer digits: over the cap
		{`1e-19`, ""}, // 19 fraction digits: over the cap
		{`1e400`, ""},
		{`true`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			cb, err := parseBody([]byte(body(tt.give)))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("amount %s accepted as %q, want refused", tt.give, cb.Amount)
				}
				return
			}
			if err != nil || cb.Amount != tt.want {
				t.Fatalf("amount %s = %q, %v; want %q", tt.give, cb.Amount, err, tt.want)
			}
		})
	}
}
