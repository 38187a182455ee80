package standardwebhooks_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

// b64A is the vector's MAC.
const b64A = "w1WrBQP8U6wwD8TQWvjkr1wzz5nH1gIzex90klJ3yZY="

// vectorTime is the vector's webhook-timestamp.
func vectorTime(tb testing.TB, v sigtest.Vector) time.Time {
	tb.Helper()
	n, err := strconv.ParseInt(v.Headers[standardwebhooks.HeaderTimestamp], 10, 64)
	if err != nil {
		tb.Fatalf("standard vector timestamp: %v", err)
	}
	return time.Unix(n, 0)
}

func TestStandardVerify(t *testing.T) {
	v := sigtest.LoadVector(t)
	secret := []byte(v.Secret)
	body := []byte(v.Body)
	at := vectorTime(t, v)
	id := v.Headers[standardwebhooks.HeaderID]
	ts := v.Headers[standardwebhooks.HeaderTimestamp]
	key, err := standardwebhooks.Key(secret)
	if err != nil {
		t.Fatalf("Key(vector): %v", err)
	}
	good := sigtest.B64MAC(key, id, ".", ts, ".", v.Body)
	wrong := sigtest.B64MAC([]byte("other"), id, ".", ts, ".", v.Body)
	const tol = 300 * time.Second
	set := func(name, val string) func(http.Header) {
		return func(h http.Header) { h.Set(name, val) }
	}
	sigs := func(val string) func(http.Header) { return set(standardwebhooks.HeaderSignature, val) }

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
		{name: "flipped body byte", body: sigtest.FlipByte(body, 5), want: providers.ErrSignatureMismatch},
		{name: "wrong secret", secrets: [][]byte{[]byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("another key")))}, want: providers.ErrSignatureMismatch},
		{name: "whsec_ secret used raw would not match", secrets: [][]byte{[]byte("standard-webhooks-test-key-32byX")}, want: providers.ErrSignatureMismatch},
		{name: "rotation: second secret matches", secrets: [][]byte{[]byte("whsec_b2xk"), secret}},
		{name: "missing signature", header: func(h http.Header) { h.Del(standardwebhooks.HeaderSignature) }, want: providers.ErrMissingSignature},
		{name: "missing id", header: func(h http.Header) { h.Del(standardwebhooks.HeaderID) }, want: providers.ErrMissingSignature},
		{name: "empty id", header: set(standardwebhooks.HeaderID, ""), want: providers.ErrMissingSignature},
		{name: "missing timestamp", header: func(h http.Header) { h.Del(standardwebhooks.HeaderTimestamp) }, want: providers.ErrMissingSignature},
		{name: "expired", now: at.Add(tol + time.Second), want: providers.ErrStaleTimestamp},
		{name: "future", now: at.Add(-tol - time.Second), want: providers.ErrStaleTimestamp},
		{name: "oldest accepted", now: at.Add(tol)},
		{name: "expired and wrong secret says mismatch", now: at.Add(time.Hour), secrets: [][]byte{[]byte("x")}, want: providers.ErrSignatureMismatch},
		{name: "other id", header: set(standardwebhooks.HeaderID, id+"x"), want: providers.ErrSignatureMismatch},
		{name: "other timestamp", now: at.Add(time.Second), header: set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(at.Unix()+1, 10)), want: providers.ErrSignatureMismatch},
		{name: "timestamp not a number", header: set(standardwebhooks.HeaderTimestamp, "yesterday"), want: providers.ErrMalformedSignature},
		{name: "timestamp in RFC 3339", header: set(standardwebhooks.HeaderTimestamp, at.UTC().Format(time.RFC3339)), want: providers.ErrMalformedSignature},
		{name: "garbled base64", header: sigs("v1,!!!" + good[3:]), want: providers.ErrMalformedSignature},
		{name: "entry without comma", header: sigs("v1" + good), want: providers.ErrMalformedSignature},
		{name: "short signature", header: sigs("v1," + good[:20]), want: providers.ErrMalformedSignature},
		{name: "only other versions", header: sigs("v1a," + good + " v2," + good), want: providers.ErrMalformedSignature},
		{name: "white space only", header: sigs("   "), want: providers.ErrMissingSignature},
		{name: "too many entries", header: sigs(strings.Repeat("v1,"+wrong+" ", providers.MaxSignatureEntries) + "v1," + good), want: providers.ErrMalformedSignature},
		{name: "as many entries as allowed", header: sigs(strings.Repeat("v1,"+wrong+" ", providers.MaxSignatureEntries-1) + "v1," + good)},
		{name: "several v1, last matches", header: sigs("v1," + wrong + " v1," + good)},
		{name: "several v1, none matches", header: sigs("v1," + wrong + " v1," + wrong), want: providers.ErrSignatureMismatch},
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
			s, err := standardwebhooks.NewVerifier(secrets, tol, sigtest.FixedClock(now))
			if err != nil {
				t.Fatalf("NewVerifier: %v", err)
			}
			h := v.Header()
			if tt.header != nil {
				tt.header(h)
			}
			b := body
			if tt.body != nil {
				b = tt.body
			}
			sigtest.CheckErr(t, s.Verify(h, b), tt.want, h)
		})
	}
}

func TestParseStandardSignatures(t *testing.T) {
	a := b64A
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
		{give: "", wantErr: providers.ErrMissingSignature},
		{give: "   ", wantErr: providers.ErrMissingSignature},
		{give: "v1a,AAAA", wantErr: providers.ErrMalformedSignature},
		{give: "v1", wantErr: providers.ErrMalformedSignature},
		{give: ",", wantErr: providers.ErrMalformedSignature},
		{give: "," + a, wantErr: providers.ErrMalformedSignature},
		{give: "v1,", wantErr: providers.ErrMalformedSignature},
		{give: "v1," + a[:40], wantErr: providers.ErrMalformedSignature},
		{give: "v1," + a + "=", wantErr: providers.ErrMalformedSignature},
		{give: "v1,_" + a[1:], wantErr: providers.ErrMalformedSignature},        // URL-safe alphabet
		{give: "v1," + a[:42] + "Z=", wantErr: providers.ErrMalformedSignature}, // non-zero trailing bits
		{give: "v1," + a[:20] + "\n" + a[21:], wantErr: providers.ErrMalformedSignature},
		{give: "v1," + a + ",extra", wantErr: providers.ErrMalformedSignature},
		{give: "v1," + a + " junk", wantErr: providers.ErrMalformedSignature},
		{give: strings.Repeat("v2,x ", providers.MaxSignatureEntries) + "v1," + a, wantErr: providers.ErrMalformedSignature},
	}
	want := sigtest.MustB64(t, a)
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := standardwebhooks.ParseSignatures(tt.give)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != nil {
					t.Fatalf("ParseSignatures(%q) = %x, %v; want error %v", tt.give, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("ParseSignatures(%q) = %d macs, %v; want %d", tt.give, len(got), err, tt.want)
			}
			for i := range got {
				if !bytes.Equal(got[i], want) {
					t.Errorf("mac %d = %x, want %x", i, got[i], want)
				}
			}
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
		{name: "without secrets", give: func() error { _, err := standardwebhooks.NewVerifier(nil, time.Minute, nil); return err }, want: providers.ErrNoSecrets},
		{name: "bad whsec", give: func() error {
			_, err := standardwebhooks.NewVerifier([][]byte{[]byte(secretText)}, 0, nil)
			return err
		}, want: providers.ErrInvalidSecret},
		{name: "empty whsec", give: func() error {
			_, err := standardwebhooks.NewVerifier([][]byte{[]byte("whsec_")}, 0, nil)
			return err
		}, want: providers.ErrInvalidSecret},
		{name: "ok raw secret", give: func() error {
			_, err := standardwebhooks.NewVerifier([][]byte{[]byte("plain")}, 0, nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigtest.CheckConstructorErr(t, tt.give(), tt.want, "not-base64")
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
		{give: "whsec_not base64!", wantErr: providers.ErrInvalidSecret},
		{give: "whsec_", wantErr: providers.ErrInvalidSecret},
		{give: "", wantErr: providers.ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := standardwebhooks.Key([]byte(tt.give))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Key(%q) err = %v, want %v", tt.give, err, tt.wantErr)
				}
				if errors.Is(err, providers.ErrMalformedSignature) {
					t.Fatalf("a secret error must not look like a request error: %v", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("Key(%q) = %q, %v; want %q", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestSignMatchesVector(t *testing.T) {
	v := sigtest.LoadVector(t)
	key, err := standardwebhooks.Key([]byte(v.Secret))
	if err != nil {
		t.Fatal(err)
	}
	got := standardwebhooks.Sign(key, v.Headers[standardwebhooks.HeaderID], vectorTime(t, v), []byte(v.Body))
	if want := v.Headers[standardwebhooks.HeaderSignature]; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestSignRoundTrip(t *testing.T) {
	now := sigtest.RoundTripNow()
	clock := sigtest.FixedClock(now)
	for _, tt := range sigtest.RoundTrips() {
		t.Run(tt.Name, func(t *testing.T) {
			s, err := standardwebhooks.NewVerifier([][]byte{tt.Secret}, time.Minute, clock)
			if err != nil {
				t.Fatal(err)
			}
			key, err := standardwebhooks.Key(tt.Secret)
			if err != nil {
				t.Fatal(err)
			}
			sent := now.Add(20 * time.Second)
			h := http.Header{}
			h.Set(standardwebhooks.HeaderID, "msg_"+tt.Name)
			h.Set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(sent.Unix(), 10))
			h.Set(standardwebhooks.HeaderSignature, standardwebhooks.Sign(key, "msg_"+tt.Name, sent, tt.Body))
			if err := s.Verify(h, tt.Body); err != nil {
				t.Errorf("standard: %v", err)
			}

			// The whsec_ form of the same key verifies the same signature.
			s2, err := standardwebhooks.NewVerifier([][]byte{[]byte("whsec_" + base64.StdEncoding.EncodeToString(tt.Secret))}, time.Minute, clock)
			if err != nil {
				t.Fatal(err)
			}
			if err := s2.Verify(h, tt.Body); err != nil {
				t.Errorf("standard whsec_: %v", err)
			}
		})
	}
}

func ExampleSign() {
	key, err := standardwebhooks.Key([]byte("whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieQ=="))
	if err != nil {
		fmt.Println(err)
		return
	}
	body := []byte(`{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`)
	fmt.Println(standardwebhooks.Sign(key, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Unix(1735648123, 0), body))
	// Output: v1,w1WrBQP8U6wwD8TQWvjkr1wzz5nH1gIzex90klJ3yZY=
}
