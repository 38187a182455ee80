package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// legacyEncode is the first format: CRC-32C of the JSON of the whole record, the body in base64.
// Spools written by earlier releases hold it.
func legacyEncode(t *testing.T, r *record) []byte {
	t.Helper()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32(nil, crc32.Checksum(js, castagnoli)), js...)
}

// Every record reads back as it went in, in the current format and in the first one, whatever
// its strings hold; what JSON cannot carry (invalid UTF-8) is replaced as encoding/json does.
func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name string
		give record
		want record // zero: give
	}{
		{name: "typical", give: record{Subject: "webhooks.petstore.default", MsgID: "petstore:default:ev-1",
			Header: nats.Header{"Hookline-Event-Id": {"ev-1"}, "traceparent": {"00-4bf9-01"}},
			Data:   []byte(`{"eventId":"ev-1"}`), SpooledAt: at}},
		{name: "no headers, empty body", give: record{Subject: "s", MsgID: "m", Data: []byte{}, SpooledAt: at}},
		{name: "binary body", give: record{Subject: "s", MsgID: "m", Data: []byte{0, 1, 2, 0xff, '"', '\\', '\n'}, SpooledAt: at}},
		{name: "escapes", give: record{Subject: "s.\"q\"", MsgID: "a\\b\tc\r\n\x00\x1f\x7f<>&\u2028é😀",
			Header: nats.Header{"K\"ey": {"v\x01", "", "line\nbreak"}, "Nil": nil, "Empty": {}}, Data: []byte("x"), SpooledAt: at}},
		{name: "invalid UTF-8", give: record{Subject: "s", MsgID: "m\xffid", Header: nats.Header{"X": {"a\xc3"}}, Data: []byte("x"), SpooledAt: at},
			want: record{Subject: "s", MsgID: "m\ufffdid", Header: nats.Header{"X": {"a\ufffd"}}, Data: []byte("x"), SpooledAt: at}},
	}
	for _, tt := range tests {
		want := tt.want
		if want.Subject == "" {
			want = tt.give
		}
		t.Run(tt.name, func(t *testing.T) {
			v, err := encode(&tt.give)
			if err != nil {
				t.Fatal(err)
			}
			for format, val := range map[string][]byte{"current": v, "first": legacyEncode(t, &tt.give)} {
				got, err := decode(val)
				if err != nil {
					t.Fatalf("%s format: decode: %v", format, err)
				}
				if !reflect.DeepEqual(*got, want) {
					t.Errorf("%s format:\n got %#v\nwant %#v", format, *got, want)
				}
			}
			if again, _ := encode(&tt.give); string(again) != string(v) {
				t.Errorf("two encodings of one record differ")
			}
		})
	}
}

// A damaged value is an error wrapping errBadRecord, never a record.
func TestDecodeRejectsDamage(t *testing.T) {
	r := record{Subject: "webhooks.petstore.default", MsgID: "petstore:default:ev-1", Data: []byte("body"), SpooledAt: time.Unix(0, 0).UTC()}
	v, err := encode(&r)
	if err != nil {
		t.Fatal(err)
	}
	resum := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b, crc32.Checksum(b[4:], castagnoli))
		return b
	}
	tests := []struct {
		name string
		give func() []byte
		want string
	}{
		{"empty", func() []byte { return nil }, "0 bytes"},
		{"a byte flipped", func() []byte { b := append([]byte(nil), v...); b[len(b)-1] ^= 1; return b }, "checksum"},
		{"cut short", func() []byte { return append([]byte(nil), v[:len(v)-2]...) }, "checksum"},
		{"unknown format", func() []byte { b := append([]byte(nil), v...); b[4] = 7; return resum(b) }, "unknown format"},
		{"metadata length past the end", func() []byte {
			b := append([]byte(nil), v...)
			binary.BigEndian.PutUint32(b[5:], 1<<20)
			return resum(b)
		}, "metadata of"},
		{"metadata not JSON", func() []byte {
			b := append([]byte(nil), v...)
			b[headerLen] = 'x'
			return resum(b)
		}, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(tt.give())
			if !errors.Is(err, errBadRecord) || !strings.Contains(err.Error(), tt.want) || got != nil {
				t.Fatalf("decode = %v, %v; want errBadRecord saying %q", got, err, tt.want)
			}
		})
	}
}
