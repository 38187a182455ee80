package callbacks

import (
	"strconv"
	"strings"
)

// maxExponent bounds the exponent of a JSON number amount; the result must fit amountRe anyway
// (18 digits either side of the point), so anything past this is refused without building it.
const maxExponent = 64

// decimalFromNumber renders a JSON number as its exact decimal text, with no exponent and no float
// rounding: the exponent moves the point, and the digits written after the point stay (the scale
// is max(0, fraction digits - exponent)): "1e5" is "100000", "7.3805e2" is "738.05", "1.50e1" is
// "15.0", "1.50" stays "1.50", "25e-1" is "2.5". ok is false for text that is not a JSON number
// or whose exponent is out of range; a negative number is returned as such (the caller refuses
// it).
func decimalFromNumber(raw string) (string, bool) {
	s := raw
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	if !digits(intPart) || (frac != "" && !digits(frac)) || strings.HasSuffix(mant, ".") {
		return "", false
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return "", false // JSON has no leading zeros
	}
	if !hasExp {
		return raw, true
	}
	expText = strings.TrimPrefix(expText, "+")
	if strings.HasPrefix(expText, "-") {
		if !digits(expText[1:]) {
			return "", false
		}
	} else if !digits(expText) {
		return "", false
	}
	if len(strings.TrimLeft(strings.TrimPrefix(expText, "-"), "0")) > 3 {
		return "", false
	}
	exp, err := strconv.Atoi(expText)
	if err != nil || exp > maxExponent || exp < -maxExponent {
		return "", false
	}
	all := intPart + frac // value = all × 10^(exp - len(frac))
	point := len(intPart) + exp
	switch {
	case point <= 0:
		all = strings.Repeat("0", 1-point) + all
		point = 1
	case point > len(all):
		all += strings.Repeat("0", point-len(all))
	}
	whole, fraction := strings.TrimLeft(all[:point], "0"), all[point:]
	if whole == "" {
		whole = "0"
	}
	out := whole
	if fraction != "" {
		out += "." + fraction
	}
	if neg {
		out = "-" + out
	}
	return out, true
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
