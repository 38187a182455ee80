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

	tests := []sigtest.Case{
		{Name: "vector"},
		{Name: "raw key bytes as secret", Secrets: [][]byte{key}},
		{Name: "flipped body byte", Body: sigtest.FlipByte(body, 5), Want: providers.ErrSignatureMismatch},
		{Name: "wrong secret", Secrets: [][]byte{[]byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("another key")))}, Want: providers.ErrSignatureMismatch},
		{Name: "whsec_ secret used raw would not match", Secrets: [][]byte{[]byte("standard-webhooks-test-key-32byX")}, Want: providers.ErrSignatureMismatch},
		{Name: "rotation: second secret matches", Secrets: [][]byte{[]byte("whsec_b2xk"), secret}},
		{Name: "missing signature", Header: func(h http.Header) { h.Del(standardwebhooks.HeaderSignature) }, Want: providers.ErrMissingSignature},
		{Name: "missing id", Header: func(h http.Header) { h.Del(standardwebhooks.HeaderID) }, Want: providers.ErrMissingSignature},
		{Name: "empty id", Header: set(standardwebhooks.HeaderID, ""), Want: providers.ErrMissingSignature},
		{Name: "missing timestamp", Header: func(h http.Header) { h.Del(standardwebhooks.HeaderTimestamp) }, Want: providers.ErrMissingSignature},
		{Name: "expired", Now: at.Add(tol + time.Second), Want: providers.ErrStaleTimestamp},
		{Name: "future", Now: at.Add(-tol - time.Second), Want: providers.ErrStaleTimestamp},
		{Name: "oldest accepted", Now: at.Add(tol)},
		{Name: "expired and wrong secret says mismatch", Now: at.Add(time.Hour), Secrets: [][]byte{[]byte("x")}, Want: providers.ErrSignatureMismatch},
		{Name: "other id", Header: set(standardwebhooks.HeaderID, id+"x"), Want: providers.ErrSignatureMismatch},
		{Name: "other timestamp", Now: at.Add(time.Second), Header: set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(at.Unix()+1, 10)), Want: providers.ErrSignatureMismatch},
		{Name: "timestamp not a number", Header: set(standardwebhooks.HeaderTimestamp, "yesterday"), Want: providers.ErrMalformedSignature},
		{Name: "timestamp in RFC 3339", Header: set(standardwebhooks.HeaderTimestamp, at.UTC().Format(time.RFC3339)), Want: providers.ErrMalformedSignature},
		{Name: "garbled base64", Header: sigs("v1,!!!" + good[3:]), Want: providers.ErrMalformedSignature},
		{Name: "entry without comma", Header: sigs("v1" + good), Want: providers.ErrMalformedSignature},
		{Name: "short signature", Header: sigs("v1," + good[:20]), Want: providers.ErrMalformedSignature},
		{Name: "only other versions", Header: sigs("v1a," + good + " v2," + good), Want: providers.ErrMalformedSignature},
		{Name: "white space only", Header: sigs("   "), Want: providers.ErrMissingSignature},
		{Name: "too many entries", Header: sigs(strings.Repeat("v1,"+wrong+" ", providers.MaxSignatureEntries) + "v1," + good), Want: providers.ErrMalformedSignature},
		{Name: "as many entries as allowed", Header: sigs(strings.Repeat("v1,"+wrong+" ", providers.MaxSignatureEntries-1) + "v1," + good)},
		{Name: "several v1, last matches", Header: sigs("v1," + wrong + " v1," + good)},
		{Name: "several v1, none matches", Header: sigs("v1," + wrong + " v1," + wrong), Want: providers.ErrSignatureMismatch},
		{Name: "other versions ignored", Header: sigs("v1a,c29tZXRoaW5n v1," + good + " v2,x")},
		{Name: "unpadded base64", Header: sigs("v1," + strings.TrimRight(good, "="))},
		{Name: "white space around entries", Header: sigs(" \tv1," + wrong + "   v1," + good + "  ")},
	}
	sigtest.RunVerify(t, v, secret, body, at, tests, func(secrets [][]byte, now time.Time) (providers.Verifier, error) {
		return standardwebhooks.NewVerifier(secrets, tol, sigtest.FixedClock(now))
	})
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
