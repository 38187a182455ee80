package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"math"
	"strings"
)

// Parsing rules shared by the three schemes:
//   - Leading and trailing spaces and tabs (HTTP optional white space) around the value and
//     around each entry are ignored; hex digits may be upper or lower case.
//   - A value that is empty or only white space is ErrMissingSignature.
//   - Each MAC must be exactly 32 bytes: 64 hex digits, or 44 base64 characters (43 without the
//     padding) in the standard alphabet with zero trailing bits.
//   - A timestamp is unsigned decimal unix seconds (at most 20 digits, fitting an int64). It is
//     signed exactly as written, so leading zeros are accepted and kept in the signed string.
//   - More than MaxSignatureEntries entries make the header malformed.

var (
	b64Padded = base64.StdEncoding.Strict()
	b64Raw    = base64.RawStdEncoding.Strict()
)

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeHex32 decodes exactly 64 hex digits into dst.
func decodeHex32(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// decodeBase64_32 decodes the standard base64 of exactly 32 bytes ("...=" or without the "=").
func decodeBase64_32(dst *[sha256.Size]byte, s string) bool {
	const padded = 44 // base64.StdEncoding.EncodedLen(32)
	enc := b64Padded
	body := s
	switch len(s) {
	case padded:
		if s[padded-1] != '=' {
			return false
		}
		body = s[:padded-1]
	case padded - 1:
		enc = b64Raw
	default:
		return false
	}
	// Only alphabet characters: the decoder would silently skip \r and \n.
	for i := 0; i < len(body); i++ {
		if !isBase64Char(body[i]) {
			return false
		}
	}
	var src [padded]byte
	var out [33]byte // DecodedLen(44)
	n := copy(src[:], s)
	m, err := enc.Decode(out[:], src[:n])
	if err != nil || m != sha256.Size {
		return false
	}
	copy(dst[:], out[:m])
	return true
}

// parseUnix parses unsigned decimal unix seconds.
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parsePetstore parses "sha256=<64 hex>" (prefix case-insensitive) into dst.
func parsePetstore(v string, dst *[sha256.Size]byte) error {
	const prefix = "sha256="
	v = trimOWS(v)
	if v == "" {
		return ErrMissingSignature
	}
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return errBadPrefix
	}
	if !decodeHex32(dst, v[len(prefix):]) {
		return errBadHex
	}
	return nil
}

// bunjangSig is a parsed Bunjang header; it lives on the verifier's stack.
type bunjangSig struct {
	tRaw string // t exactly as sent: it is what was signed
	t    int64
	n    int
	macs [MaxSignatureEntries][sha256.Size]byte
}

// parseBunjang parses "t=<unix>,v0=<hex>[,v0=<hex>...]". Entries are comma-separated, in any
// order; empty entries are skipped, keys other than t and v0 are ignored (but count towards
// MaxSignatureEntries). Exactly one t and at least one v0 are required.
func parseBunjang(v string, out *bunjangSig) error {
	if trimOWS(v) == "" {
		return ErrMissingSignature
	}
	entries := 0
	haveT := false
	for rest, more := v, true; more; {
		var seg string
		seg, rest, more = strings.Cut(rest, ",")
		seg = trimOWS(seg)
		if seg == "" {
			continue
		}
		entries++
		if entries > MaxSignatureEntries {
			return errTooMany
		}
		k, val, ok := strings.Cut(seg, "=")
		k, val = trimOWS(k), trimOWS(val)
		if !ok || k == "" {
			return errBadEntry
		}
		switch k {
		case "t":
			if haveT {
				return errDupTimestamp
			}
			t, ok := parseUnix(val)
			if !ok {
				return errBadTimestamp
			}
			out.tRaw, out.t, haveT = val, t, true
		case "v0":
			if !decodeHex32(&out.macs[out.n], val) {
				return errBadHex
			}
			out.n++
		}
	}
	if !haveT {
		return errNoTimestamp
	}
	if out.n == 0 {
		return errNoV0
	}
	return nil
}

// standardSigs is a parsed webhook-signature header.
type standardSigs struct {
	n    int
	macs [MaxSignatureEntries][sha256.Size]byte
}

// parseStandard parses white-space-separated "<version>,<signature>" entries, keeping the v1
// ones. Entries of other versions (such as v1a, asymmetric) are ignored but count towards
// MaxSignatureEntries. A header without any v1 entry is malformed: there is nothing we could
// verify.
func parseStandard(v string, out *standardSigs) error {
	entries := 0
	for i := 0; i < len(v); {
		for i < len(v) && isOWS(v[i]) {
			i++
		}
		j := i
		for j < len(v) && !isOWS(v[j]) {
			j++
		}
		if j == i {
			break
		}
		entry := v[i:j]
		i = j
		entries++
		if entries > MaxSignatureEntries {
			return errTooMany
		}
		ver, sig, ok := strings.Cut(entry, ",")
		if !ok || ver == "" {
			return errBadV1Entry
		}
		if ver != "v1" {
			continue
		}
		if !decodeBase64_32(&out.macs[out.n], sig) {
			return errBadBase64
		}
		out.n++
	}
	if entries == 0 {
		return ErrMissingSignature
	}
	if out.n == 0 {
		return errNoV1
	}
	return nil
}

// ParsePetstoreHeader parses an X-Webhook-Signature value, "sha256=<hex>", into the raw 32-byte
// MAC. An empty value is ErrMissingSignature; anything else that does not parse wraps
// ErrMalformedSignature.
func ParsePetstoreHeader(v string) ([]byte, error) {
	var mac [sha256.Size]byte
	if err := parsePetstore(v, &mac); err != nil {
		return nil, err
	}
	return mac[:], nil
}

// ParseBunjangHeader parses an X-Bun-Webhook-Signature value into its timestamp and the raw
// 32-byte MACs of its v0 entries. An empty value is ErrMissingSignature; anything else that does
// not parse wraps ErrMalformedSignature.
func ParseBunjangHeader(v string) (t int64, macs [][]byte, err error) {
	var sig bunjangSig
	if err := parseBunjang(v, &sig); err != nil {
		return 0, nil, err
	}
	return sig.t, copyMACs(sig.macs[:sig.n]), nil
}

// ParseStandardSignatures parses a webhook-signature value into the raw 32-byte MACs of its v1
// entries; entries of other versions are ignored. An empty value is ErrMissingSignature; a value
// with no v1 entry, a v1 entry that is not base64 of 32 bytes, or more than MaxSignatureEntries
// entries wraps ErrMalformedSignature.
func ParseStandardSignatures(v string) ([][]byte, error) {
	var sigs standardSigs
	if err := parseStandard(v, &sigs); err != nil {
		return nil, err
	}
	return copyMACs(sigs.macs[:sigs.n]), nil
}

func copyMACs(in [][sha256.Size]byte) [][]byte {
	out := make([][]byte, len(in))
	for i := range in {
		out[i] = append([]byte(nil), in[i][:]...)
	}
	return out
}
