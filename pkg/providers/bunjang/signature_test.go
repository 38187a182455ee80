package bunjang_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/internal/sigtest"
)

const (
	hexA = "48ac1df980a770f7faab02af724bf05569f7df086cb1d503225fdcb0af879297" // the vector's MAC
	hexB = "e622bb27eec372f79c833e67f47ecd9aedbc84a038b8d7caae2856ec8cb55d95"
)

// loadVector is the provider's signature vector, with its signed timestamp.
func loadVector(tb testing.TB) sigtest.Vector {
	tb.Helper()
	v := sigtest.LoadVector(tb)
	if v.T == 0 {
		tb.Fatalf("%s: the vector has no t", sigtest.VectorFile)
	}
	return v
}

func TestBunjangVerify(t *testing.T) {
	v := loadVector(t)
	secret := []byte(v.Secret)
	body := []byte(v.Body)
	sig := v.Headers[bunjang.HeaderSignature]
	ts := strconv.FormatInt(v.T, 10)
	good := sigtest.HexMAC(secret, ts, ".", v.Body)
	wrong := sigtest.HexMAC([]byte("other"), ts, ".", v.Body)
	at := time.Unix(v.T, 0)
	const tol = 300 * time.Second
	set := func(val string) func(http.Header) {
		return func(h http.Header) { h.Set(bunjang.HeaderSignature, val) }
	}

	tests := []sigtest.Case{
		{Name: "vector"},
		{Name: "flipped body byte", Body: sigtest.FlipByte(body, 10), Want: providers.ErrSignatureMismatch},
		{Name: "wrong secret", Secrets: [][]byte{[]byte("bunjang-wrong-secret")}, Want: providers.ErrSignatureMismatch},
		{Name: "rotation: second secret matches", Secrets: [][]byte{[]byte("old"), secret}},
		{Name: "missing header", Header: func(h http.Header) { h.Del(bunjang.HeaderSignature) }, Want: providers.ErrMissingSignature},
		{Name: "empty header", Header: set(""), Want: providers.ErrMissingSignature},
		{Name: "expired", Now: at.Add(tol + time.Second), Want: providers.ErrStaleTimestamp},
		{Name: "far expired", Now: at.Add(30 * 24 * time.Hour), Want: providers.ErrStaleTimestamp},
		{Name: "future", Now: at.Add(-tol - time.Second), Want: providers.ErrStaleTimestamp},
		{Name: "oldest accepted", Now: at.Add(tol)},
		{Name: "newest accepted", Now: at.Add(-tol)},
		{Name: "expired and wrong secret says mismatch", Now: at.Add(time.Hour), Secrets: [][]byte{[]byte("x")}, Want: providers.ErrSignatureMismatch},
		{Name: "garbled", Header: set("garbage"), Want: providers.ErrMalformedSignature},
		{Name: "bad timestamp", Header: set("t=abc,v0=" + good), Want: providers.ErrMalformedSignature},
		{Name: "negative timestamp", Header: set("t=-1,v0=" + good), Want: providers.ErrMalformedSignature},
		{Name: "two timestamps", Header: set("t=" + ts + ",t=" + ts + ",v0=" + good), Want: providers.ErrMalformedSignature},
		{Name: "no timestamp", Header: set("v0=" + good), Want: providers.ErrMalformedSignature},
		{Name: "no v0", Header: set("t=" + ts), Want: providers.ErrMalformedSignature},
		{Name: "only unknown scheme", Header: set("t=" + ts + ",v1=" + good), Want: providers.ErrMalformedSignature},
		{Name: "short v0", Header: set("t=" + ts + ",v0=" + good[:62]), Want: providers.ErrMalformedSignature},
		{Name: "non-hex v0", Header: set("t=" + ts + ",v0=" + "g" + good[1:]), Want: providers.ErrMalformedSignature},
		{Name: "entry without =", Header: set("t=" + ts + ",v0"), Want: providers.ErrMalformedSignature},
		{Name: "too many entries", Header: set("t=" + ts + strings.Repeat(",v0="+wrong, providers.MaxSignatureEntries-1) + ",v0=" + good), Want: providers.ErrMalformedSignature},
		{Name: "as many entries as allowed", Header: set("t=" + ts + strings.Repeat(",v0="+wrong, providers.MaxSignatureEntries-2) + ",v0=" + good)},
		{Name: "timestamp moved by one second", Now: at.Add(time.Second), Header: set("t=" + strconv.FormatInt(v.T+1, 10) + ",v0=" + good), Want: providers.ErrSignatureMismatch},
		{Name: "leading zero changes the signed string", Header: set("t=0" + ts + ",v0=" + good), Want: providers.ErrSignatureMismatch},
		{Name: "leading zero signed as sent", Header: set("t=0" + ts + ",v0=" + sigtest.HexMAC(secret, "0"+ts, ".", v.Body))},
		{Name: "several v0, last matches", Header: set("t=" + ts + ",v0=" + wrong + ",v0=" + good)},
		{Name: "several v0, first matches", Header: set("t=" + ts + ",v0=" + good + ",v0=" + wrong)},
		{Name: "several v0, none matches", Header: set("t=" + ts + ",v0=" + wrong + ",v0=" + wrong), Want: providers.ErrSignatureMismatch},
		{Name: "v0 before t", Header: set("v0=" + good + ",t=" + ts)},
		{Name: "unknown keys ignored", Header: set("t=" + ts + ",v1=abc,v0=" + good)},
		{Name: "upper-case hex", Header: set("t=" + ts + ",v0=" + strings.ToUpper(good))},
		{Name: "white space around entries", Header: set(" t = " + ts + " ,\tv0=" + good + " , ")},
		{Name: "empty entries skipped", Header: set(",t=" + ts + ",,v0=" + good + ",")},
		{Name: "vector header unchanged", Header: set(sig)},
	}
	sigtest.RunVerify(t, v, secret, body, at, tests, func(secrets [][]byte, now time.Time) (providers.Verifier, error) {
		return bunjang.NewVerifier(secrets, tol, sigtest.FixedClock(now))
	})
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
		{give: "", wantErr: providers.ErrMissingSignature},
		{give: " \t", wantErr: providers.ErrMissingSignature},
		{give: ",", wantErr: providers.ErrMalformedSignature},
		{give: "t=9223372036854775808,v0=" + hexA, wantErr: providers.ErrMalformedSignature},
		{give: "t=+1,v0=" + hexA, wantErr: providers.ErrMalformedSignature},
		{give: "t=1.5,v0=" + hexA, wantErr: providers.ErrMalformedSignature},
		{give: "t=,v0=" + hexA, wantErr: providers.ErrMalformedSignature},
		{give: "t=1,t=1,v0=" + hexA, wantErr: providers.ErrMalformedSignature},
		{give: "t=1", wantErr: providers.ErrMalformedSignature},
		{give: "v0=" + hexA, wantErr: providers.ErrMalformedSignature},
		{give: "t=1,v0=" + hexA + ",v0=", wantErr: providers.ErrMalformedSignature},
		{give: "t=1,=x,v0=" + hexA, wantErr: providers.ErrMalformedSignature},
		{give: "t=1,v0=" + hexA + ",junk", wantErr: providers.ErrMalformedSignature},
		{give: "t=1;v0=" + hexA, wantErr: providers.ErrMalformedSignature},
		{give: "t=1" + strings.Repeat(",v0="+hexA, providers.MaxSignatureEntries), wantErr: providers.ErrMalformedSignature},
		{give: "t=1" + strings.Repeat(",x=y", providers.MaxSignatureEntries) + ",v0=" + hexA, wantErr: providers.ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			ts, macs, err := bunjang.ParseHeader(tt.give)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || macs != nil {
					t.Fatalf("ParseHeader(%q) = %d, %x, %v; want error %v", tt.give, ts, macs, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHeader(%q): %v", tt.give, err)
			}
			if ts != tt.wantT || len(macs) != len(tt.want) {
				t.Fatalf("ParseHeader(%q) = %d, %d macs; want %d, %d", tt.give, ts, len(macs), tt.wantT, len(tt.want))
			}
			for i := range macs {
				if !bytes.Equal(macs[i], sigtest.MustHex(t, tt.want[i])) {
					t.Errorf("mac %d = %x, want %s", i, macs[i], tt.want[i])
				}
			}
		})
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		name string
		give func() error
		want error
	}{
		{name: "without secrets", give: func() error { _, err := bunjang.NewVerifier([][]byte{}, time.Minute, nil); return err }, want: providers.ErrNoSecrets},
		{name: "empty secret", give: func() error { _, err := bunjang.NewVerifier([][]byte{{}}, 0, nil); return err }, want: providers.ErrInvalidSecret},
		{name: "ok with defaults", give: func() error { _, err := bunjang.NewVerifier([][]byte{[]byte("s")}, 0, nil); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigtest.CheckConstructorErr(t, tt.give(), tt.want, "not-base64")
		})
	}
}

func TestSignMatchesVector(t *testing.T) {
	v := loadVector(t)
	if got, want := bunjang.Sign([]byte(v.Secret), time.Unix(v.T, 0), []byte(v.Body)), v.Headers[bunjang.HeaderSignature]; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestSignRoundTrip(t *testing.T) {
	now := sigtest.RoundTripNow()
	for _, tt := range sigtest.RoundTrips() {
		t.Run(tt.Name, func(t *testing.T) {
			b, err := bunjang.NewVerifier([][]byte{tt.Secret}, time.Minute, sigtest.FixedClock(now))
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set(bunjang.HeaderSignature, bunjang.Sign(tt.Secret, now.Add(-30*time.Second), tt.Body))
			if err := b.Verify(h, tt.Body); err != nil {
				t.Errorf("bunjang: %v", err)
			}
		})
	}
}

// An ingress maps verifier errors to the contract's answers: stale timestamps to 401
// stale_timestamp, everything else to 401 invalid_signature.
func ExampleVerifier_Verify() {
	secret := []byte("bunjang-test-secret")
	sent := time.Unix(1735648123, 0)
	v, err := bunjang.NewVerifier([][]byte{secret}, 300*time.Second, func() time.Time { return sent.Add(10 * time.Minute) })
	if err != nil {
		fmt.Println(err)
		return
	}
	body := []byte(`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A"}`)
	h := http.Header{}
	h.Set(bunjang.HeaderSignature, bunjang.Sign(secret, sent, body))

	err = v.Verify(h, body)
	switch {
	case err == nil:
		fmt.Println("204")
	case errors.Is(err, providers.ErrStaleTimestamp):
		fmt.Println("401 stale_timestamp")
	default:
		fmt.Println("401 invalid_signature")
	}
	// Output: 401 stale_timestamp
}
