package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/webhook"
)

// flipByte returns a copy of b with byte i changed.
func flipByte(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func hexMAC(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func b64MAC(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// checkErr asserts err is nil when want is nil, else wraps want, and never echoes a signature.
func checkErr(t *testing.T, err, want error, h http.Header) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Verify() = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify() = %v, want an error wrapping %v", err, want)
	}
	for _, vals := range h {
		for _, v := range vals {
			if len(v) >= 8 && strings.Contains(err.Error(), v) {
				t.Fatalf("error %q echoes a header value", err)
			}
		}
	}
}

func TestPetstoreVerify(t *testing.T) {
	v := loadVectors(t).Petstore
	secret := []byte(v.Secret)
	body := []byte(v.Body)
	sig := v.Headers[webhook.HeaderPetstore]
	hexPart := strings.TrimPrefix(sig, "sha256=")

	tests := []struct {
		name    string
		secrets [][]byte
		body    []byte
		header  func(h http.Header)
		want    error
	}{
		{name: "vector"},
		{name: "flipped first body byte", body: flipByte(body, 0), want: webhook.ErrSignatureMismatch},
		{name: "flipped last body byte", body: flipByte(body, len(body)-1), want: webhook.ErrSignatureMismatch},
		{name: "body with trailing newline", body: append(bytes.Clone(body), '\n'), want: webhook.ErrSignatureMismatch},
		{name: "empty body", body: []byte{}, want: webhook.ErrSignatureMismatch},
		{name: "wrong secret", secrets: [][]byte{[]byte("not-the-secret")}, want: webhook.ErrSignatureMismatch},
		{name: "rotation: second secret matches", secrets: [][]byte{[]byte("old"), secret}},
		{name: "rotation: first secret matches", secrets: [][]byte{secret, []byte("new")}},
		{name: "missing header", header: func(h http.Header) { h.Del(webhook.HeaderPetstore) }, want: webhook.ErrMissingSignature},
		{name: "empty header", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, "") }, want: webhook.ErrMissingSignature},
		{name: "white space only", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, "  \t ") }, want: webhook.ErrMissingSignature},
		{name: "garbled hex", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, "sha256=zz"+hexPart[2:]) }, want: webhook.ErrMalformedSignature},
		{name: "bare hex without prefix", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, hexPart) }, want: webhook.ErrMalformedSignature},
		{name: "other algorithm", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, "sha1="+hexPart) }, want: webhook.ErrMalformedSignature},
		{name: "truncated hex", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, sig[:len(sig)-2]) }, want: webhook.ErrMalformedSignature},
		{name: "extra hex", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, sig+"00") }, want: webhook.ErrMalformedSignature},
		{name: "garbage", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, "hello world") }, want: webhook.ErrMalformedSignature},
		{name: "another body's valid signature", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, webhook.SignPetstore(secret, []byte("{}"))) }, want: webhook.ErrSignatureMismatch},
		{name: "upper-case hex and prefix", header: func(h http.Header) { h.Set(webhook.HeaderPetstore, "SHA256="+strings.ToUpper(hexPart)) }},
		{name: "surrounding white space", header: func(h http.Header) { h[http.CanonicalHeaderKey(webhook.HeaderPetstore)] = []string{" \t" + sig + " "} }},
		{name: "first of two header values is used", header: func(h http.Header) { h.Add(webhook.HeaderPetstore, "sha256="+strings.Repeat("0", 64)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secrets := tt.secrets
			if secrets == nil {
				secrets = [][]byte{secret}
			}
			p, err := webhook.NewPetstore(secrets)
			if err != nil {
				t.Fatalf("NewPetstore: %v", err)
			}
			h := v.header()
			if tt.header != nil {
				tt.header(h)
			}
			b := body
			if tt.body != nil {
				b = tt.body
			}
			checkErr(t, p.Verify(h, b), tt.want, h)
		})
	}
}

func TestBunjangVerify(t *testing.T) {
	v := loadVectors(t).Bunjang
	secret := []byte(v.Secret)
	body := []byte(v.Body)
	sig := v.Headers[webhook.HeaderBunjang]
	ts := strconv.FormatInt(v.T, 10)
	good := hexMAC(secret, ts, ".", v.Body)
	wrong := hexMAC([]byte("other"), ts, ".", v.Body)
	at := time.Unix(v.T, 0)
	const tol = 300 * time.Second
	set := func(val string) func(http.Header) {
		return func(h http.Header) { h.Set(webhook.HeaderBunjang, val) }
	}

	tests := []struct {
		name    string
		secrets [][]byte
		body    []byte
		now     time.Time
		header  func(h http.Header)
		want    error
	}{
		{name: "vector"},
		{name: "flipped body byte", body: flipByte(body, 10), want: webhook.ErrSignatureMismatch},
		{name: "wrong secret", secrets: [][]byte{[]byte("bunjang-wrong-secret")}, want: webhook.ErrSignatureMismatch},
		{name: "rotation: second secret matches", secrets: [][]byte{[]byte("old"), secret}},
		{name: "missing header", header: func(h http.Header) { h.Del(webhook.HeaderBunjang) }, want: webhook.ErrMissingSignature},
		{name: "empty header", header: set(""), want: webhook.ErrMissingSignature},
		{name: "expired", now: at.Add(tol + time.Second), want: webhook.ErrStaleTimestamp},
		{name: "far expired", now: at.Add(30 * 24 * time.Hour), want: webhook.ErrStaleTimestamp},
		{name: "future", now: at.Add(-tol - time.Second), want: webhook.ErrStaleTimestamp},
		{name: "oldest accepted", now: at.Add(tol)},
		{name: "newest accepted", now: at.Add(-tol)},
		{name: "expired and wrong secret says mismatch", now: at.Add(time.Hour), secrets: [][]byte{[]byte("x")}, want: webhook.ErrSignatureMismatch},
		{name: "garbled", header: set("garbage"), want: webhook.ErrMalformedSignature},
		{name: "bad timestamp", header: set("t=abc,v0=" + good), want: webhook.ErrMalformedSignature},
		{name: "negative timestamp", header: set("t=-1,v0=" + good), want: webhook.ErrMalformedSignature},
		{name: "two timestamps", header: set("t=" + ts + ",t=" + ts + ",v0=" + good), want: webhook.ErrMalformedSignature},
		{name: "no timestamp", header: set("v0=" + good), want: webhook.ErrMalformedSignature},
		{name: "no v0", header: set("t=" + ts), want: webhook.ErrMalformedSignature},
		{name: "only unknown scheme", header: set("t=" + ts + ",v1=" + good), want: webhook.ErrMalformedSignature},
		{name: "short v0", header: set("t=" + ts + ",v0=" + good[:62]), want: webhook.ErrMalformedSignature},
		{name: "non-hex v0", header: set("t=" + ts + ",v0=" + "g" + good[1:]), want: webhook.ErrMalformedSignature},
		{name: "entry without =", header: set("t=" + ts + ",v0"), want: webhook.ErrMalformedSignature},
		{name: "too many entries", header: set("t=" + ts + strings.Repeat(",v0="+wrong, webhook.MaxSignatureEntries-1) + ",v0=" + good), want: webhook.ErrMalformedSignature},
		{name: "as many entries as allowed", header: set("t=" + ts + strings.Repeat(",v0="+wrong, webhook.MaxSignatureEntries-2) + ",v0=" + good)},
		{name: "timestamp moved by one second", now: at.Add(time.Second), header: set("t=" + strconv.FormatInt(v.T+1, 10) + ",v0=" + good), want: webhook.ErrSignatureMismatch},
		{name: "leading zero changes the signed string", header: set("t=0" + ts + ",v0=" + good), want: webhook.ErrSignatureMismatch},
		{name: "leading zero signed as sent", header: set("t=0" + ts + ",v0=" + hexMAC(secret, "0"+ts, ".", v.Body))},
		{name: "several v0, last matches", header: set("t=" + ts + ",v0=" + wrong + ",v0=" + good)},
		{name: "several v0, first matches", header: set("t=" + ts + ",v0=" + good + ",v0=" + wrong)},
		{name: "several v0, none matches", header: set("t=" + ts + ",v0=" + wrong + ",v0=" + wrong), want: webhook.ErrSignatureMismatch},
		{name: "v0 before t", header: set("v0=" + good + ",t=" + ts)},
		{name: "unknown keys ignored", header: set("t=" + ts + ",v1=abc,v0=" + good)},
		{name: "upper-case hex", header: set("t=" + ts + ",v0=" + strings.ToUpper(good))},
		{name: "white space around entries", header: set(" t = " + ts + " ,\tv0=" + good + " , ")},
		{name: "empty entries skipped", header: set(",t=" + ts + ",,v0=" + good + ",")},
		{name: "vector header unchanged", header: set(sig)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secrets := tt.secrets
			if secrets == nil {
				secrets = [][]byte{secret}
			}
			now := at
			if !tt.now.IsZero() {
				now = tt.now
			}
			b, err := webhook.NewBunjang(secrets, tol, fixedClock(now))
			if err != nil {
				t.Fatalf("NewBunjang: %v", err)
			}
			h := v.header()
			if tt.header != nil {
				tt.header(h)
			}
			bd := body
			if tt.body != nil {
				bd = tt.body
			}
			checkErr(t, b.Verify(h, bd), tt.want, h)
		})
	}
}

func TestStandardVerify(t *testing.T) {
	v := loadVectors(t).Standard
	secret := []byte(v.Secret)
	body := []byte(v.Body)
	at := v.standardTime(t)
	id := v.Headers[webhook.HeaderStandardID]
	ts := v.Headers[webhook.HeaderStandardTimestamp]
	key, err := webhook.StandardKey(secret)
	if err != nil {
		t.Fatalf("StandardKey(vector): %v", err)
	}
	good := b64MAC(key, id, ".", ts, ".", v.Body)
	wrong := b64MAC([]byte("other"), id, ".", ts, ".", v.Body)
	const tol = 300 * time.Second
	set := func(name, val string) func(http.Header) {
		return func(h http.Header) { h.Set(name, val) }
	}
	sigs := func(val string) func(http.Header) { return set(webhook.HeaderStandardSignature, val) }

	tests := []struct {
		name    string
		secrets [][]byte
		body    []byte
		now     time.Time
		header  func(h http.Header)
		want    error
	}{
		{name: "vector"},
		{name: "raw key bytes as secret", secrets: [][]byte{key}},
		{name: "flipped body byte", body: flipByte(body, 5), want: webhook.ErrSignatureMismatch},
		{name: "wrong secret", secrets: [][]byte{[]byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("another key")))}, want: webhook.ErrSignatureMismatch},
		{name: "whsec_ secret used raw would not match", secrets: [][]byte{[]byte("standard-webhooks-test-key-32byX")}, want: webhook.ErrSignatureMismatch},
		{name: "rotation: second secret matches", secrets: [][]byte{[]byte("whsec_b2xk"), secret}},
		{name: "missing signature", header: func(h http.Header) { h.Del(webhook.HeaderStandardSignature) }, want: webhook.ErrMissingSignature},
		{name: "missing id", header: func(h http.Header) { h.Del(webhook.HeaderStandardID) }, want: webhook.ErrMissingSignature},
		{name: "empty id", header: set(webhook.HeaderStandardID, ""), want: webhook.ErrMissingSignature},
		{name: "missing timestamp", header: func(h http.Header) { h.Del(webhook.HeaderStandardTimestamp) }, want: webhook.ErrMissingSignature},
		{name: "expired", now: at.Add(tol + time.Second), want: webhook.ErrStaleTimestamp},
		{name: "future", now: at.Add(-tol - time.Second), want: webhook.ErrStaleTimestamp},
		{name: "oldest accepted", now: at.Add(tol)},
		{name: "expired and wrong secret says mismatch", now: at.Add(time.Hour), secrets: [][]byte{[]byte("x")}, want: webhook.ErrSignatureMismatch},
		{name: "other id", header: set(webhook.HeaderStandardID, id+"x"), want: webhook.ErrSignatureMismatch},
		{name: "other timestamp", now: at.Add(time.Second), header: set(webhook.HeaderStandardTimestamp, strconv.FormatInt(at.Unix()+1, 10)), want: webhook.ErrSignatureMismatch},
		{name: "timestamp not a number", header: set(webhook.HeaderStandardTimestamp, "yesterday"), want: webhook.ErrMalformedSignature},
		{name: "timestamp in RFC 3339", header: set(webhook.HeaderStandardTimestamp, at.UTC().Format(time.RFC3339)), want: webhook.ErrMalformedSignature},
		{name: "garbled base64", header: sigs("v1,!!!" + good[3:]), want: webhook.ErrMalformedSignature},
		{name: "entry without comma", header: sigs("v1" + good), want: webhook.ErrMalformedSignature},
		{name: "short signature", header: sigs("v1," + good[:20]), want: webhook.ErrMalformedSignature},
		{name: "only other versions", header: sigs("v1a," + good + " v2," + good), want: webhook.ErrMalformedSignature},
		{name: "white space only", header: sigs("   "), want: webhook.ErrMissingSignature},
		{name: "too many entries", header: sigs(strings.Repeat("v1,"+wrong+" ", webhook.MaxSignatureEntries) + "v1," + good), want: webhook.ErrMalformedSignature},
		{name: "as many entries as allowed", header: sigs(strings.Repeat("v1,"+wrong+" ", webhook.MaxSignatureEntries-1) + "v1," + good)},
		{name: "several v1, last matches", header: sigs("v1," + wrong + " v1," + good)},
		{name: "several v1, none matches", header: sigs("v1," + wrong + " v1," + wrong), want: webhook.ErrSignatureMismatch},
		{name: "other versions ignored", header: sigs("v1a,c29tZXRoaW5n v1," + good + " v2,x")},
		{name: "unpadded base64", header: sigs("v1," + strings.TrimRight(good, "="))},
		{name: "white space around entries", header: sigs(" \tv1," + wrong + "   v1," + good + "  ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secrets := tt.secrets
			if secrets == nil {
				secrets = [][]byte{secret}
			}
			now := at
			if !tt.now.IsZero() {
				now = tt.now
			}
			s, err := webhook.NewStandard(secrets, tol, fixedClock(now))
			if err != nil {
				t.Fatalf("NewStandard: %v", err)
			}
			h := v.header()
			if tt.header != nil {
				tt.header(h)
			}
			b := body
			if tt.body != nil {
				b = tt.body
			}
			checkErr(t, s.Verify(h, b), tt.want, h)
		})
	}
}

func TestConstructors(t *testing.T) {
	const secretText = "whsec_%%%not-base64%%%"
	tests := []struct {
		name string
		give func() error
		want error
	}{
		{name: "petstore without secrets", give: func() error { _, err := webhook.NewPetstore(nil); return err }, want: webhook.ErrNoSecrets},
		{name: "bunjang without secrets", give: func() error { _, err := webhook.NewBunjang([][]byte{}, time.Minute, nil); return err }, want: webhook.ErrNoSecrets},
		{name: "standard without secrets", give: func() error { _, err := webhook.NewStandard(nil, time.Minute, nil); return err }, want: webhook.ErrNoSecrets},
		{name: "petstore empty secret", give: func() error { _, err := webhook.NewPetstore([][]byte{[]byte("a"), {}}); return err }, want: webhook.ErrInvalidSecret},
		{name: "bunjang empty secret", give: func() error { _, err := webhook.NewBunjang([][]byte{{}}, 0, nil); return err }, want: webhook.ErrInvalidSecret},
		{name: "standard bad whsec", give: func() error { _, err := webhook.NewStandard([][]byte{[]byte(secretText)}, 0, nil); return err }, want: webhook.ErrInvalidSecret},
		{name: "standard empty whsec", give: func() error { _, err := webhook.NewStandard([][]byte{[]byte("whsec_")}, 0, nil); return err }, want: webhook.ErrInvalidSecret},
		{name: "petstore ok", give: func() error { _, err := webhook.NewPetstore([][]byte{[]byte("s")}); return err }},
		{name: "bunjang ok with defaults", give: func() error { _, err := webhook.NewBunjang([][]byte{[]byte("s")}, 0, nil); return err }},
		{name: "standard ok raw secret", give: func() error { _, err := webhook.NewStandard([][]byte{[]byte("plain")}, 0, nil); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), "not-base64") {
				t.Fatalf("error %q leaks the secret", err)
			}
		})
	}
}

func TestStandardKey(t *testing.T) {
	tests := []struct {
		give    string
		want    []byte
		wantErr error
	}{
		{give: "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ==", want: []byte("standard-webhooks-test-key-32by")},
		{give: "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ", want: []byte("standard-webhooks-test-key-32by")},
		{give: "whsec_AAEC/w==", want: []byte{0, 1, 2, 255}},
		{give: "plain-secret", want: []byte("plain-secret")},
		{give: "WHSEC_abc", want: []byte("WHSEC_abc")},
		{give: "whsec_not base64!", wantErr: webhook.ErrInvalidSecret},
		{give: "whsec_", wantErr: webhook.ErrInvalidSecret},
		{give: "", wantErr: webhook.ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := webhook.StandardKey([]byte(tt.give))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("StandardKey(%q) err = %v, want %v", tt.give, err, tt.wantErr)
				}
				if errors.Is(err, webhook.ErrMalformedSignature) {
					t.Fatalf("a secret error must not look like a request error: %v", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("StandardKey(%q) = %q, %v; want %q", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestSignMatchesVectors(t *testing.T) {
	vs := loadVectors(t)
	if got, want := webhook.SignPetstore([]byte(vs.Petstore.Secret), []byte(vs.Petstore.Body)), vs.Petstore.Headers[webhook.HeaderPetstore]; got != want {
		t.Errorf("SignPetstore = %q, want %q", got, want)
	}
	if got, want := webhook.SignBunjang([]byte(vs.Bunjang.Secret), time.Unix(vs.Bunjang.T, 0), []byte(vs.Bunjang.Body)), vs.Bunjang.Headers[webhook.HeaderBunjang]; got != want {
		t.Errorf("SignBunjang = %q, want %q", got, want)
	}
	key, err := webhook.StandardKey([]byte(vs.Standard.Secret))
	if err != nil {
		t.Fatal(err)
	}
	got := webhook.SignStandard(key, vs.Standard.Headers[webhook.HeaderStandardID], vs.Standard.standardTime(t), []byte(vs.Standard.Body))
	if want := vs.Standard.Headers[webhook.HeaderStandardSignature]; got != want {
		t.Errorf("SignStandard = %q, want %q", got, want)
	}
}

func TestSignRoundTrip(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := fixedClock(now)
	tests := []struct {
		name   string
		secret []byte
		body   []byte
	}{
		{name: "json", secret: []byte("s3cr3t"), body: []byte(`{"eventId":"x"}`)},
		{name: "empty body", secret: []byte("k"), body: nil},
		{name: "binary secret and body", secret: []byte{0, 255, 10, 13}, body: []byte{0, 1, 2, '.', 0xff}},
		{name: "long secret", secret: bytes.Repeat([]byte("k"), 200), body: bytes.Repeat([]byte("b"), 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := webhook.NewPetstore([][]byte{tt.secret})
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set(webhook.HeaderPetstore, webhook.SignPetstore(tt.secret, tt.body))
			if err := p.Verify(h, tt.body); err != nil {
				t.Errorf("petstore: %v", err)
			}

			b, err := webhook.NewBunjang([][]byte{tt.secret}, time.Minute, clock)
			if err != nil {
				t.Fatal(err)
			}
			h = http.Header{}
			h.Set(webhook.HeaderBunjang, webhook.SignBunjang(tt.secret, now.Add(-30*time.Second), tt.body))
			if err := b.Verify(h, tt.body); err != nil {
				t.Errorf("bunjang: %v", err)
			}

			s, err := webhook.NewStandard([][]byte{tt.secret}, time.Minute, clock)
			if err != nil {
				t.Fatal(err)
			}
			key, err := webhook.StandardKey(tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			sent := now.Add(20 * time.Second)
			h = http.Header{}
			h.Set(webhook.HeaderStandardID, "msg_"+tt.name)
			h.Set(webhook.HeaderStandardTimestamp, strconv.FormatInt(sent.Unix(), 10))
			h.Set(webhook.HeaderStandardSignature, webhook.SignStandard(key, "msg_"+tt.name, sent, tt.body))
			if err := s.Verify(h, tt.body); err != nil {
				t.Errorf("standard: %v", err)
			}

			// The whsec_ form of the same key verifies the same signature.
			s2, err := webhook.NewStandard([][]byte{[]byte("whsec_" + base64.StdEncoding.EncodeToString(tt.secret))}, time.Minute, clock)
			if err != nil {
				t.Fatal(err)
			}
			if err := s2.Verify(h, tt.body); err != nil {
				t.Errorf("standard whsec_: %v", err)
			}
		})
	}
}

// TestVerifyConcurrent exercises the pooled MAC states from many goroutines (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	secrets := [][]byte{[]byte("a"), []byte("b")}
	p, err := webhook.NewPetstore(secrets)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 8)
	for g := range 8 {
		go func() {
			var firstErr error
			for i := range 200 {
				body := []byte(strconv.Itoa(g*1000 + i))
				h := http.Header{}
				h.Set(webhook.HeaderPetstore, webhook.SignPetstore(secrets[i%2], body))
				if err := p.Verify(h, body); err != nil && firstErr == nil {
					firstErr = err
				}
				h.Set(webhook.HeaderPetstore, webhook.SignPetstore([]byte("c"), body))
				if err := p.Verify(h, body); !errors.Is(err, webhook.ErrSignatureMismatch) && firstErr == nil {
					firstErr = errors.New("wrong secret accepted")
				}
			}
			errc <- firstErr
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
