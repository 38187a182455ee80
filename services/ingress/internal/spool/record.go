package spool

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// record is one spooled message.
type record struct {
	Subject   string      `json:"subject"`
	MsgID     string      `json:"msgId"`
	Header    nats.Header `json:"header,omitempty"`
	Data      []byte      `json:"data"`
	SpooledAt time.Time   `json:"spooledAt"`
}

func (r *record) msg() *nats.Msg {
	m := nats.NewMsg(r.Subject)
	for k, v := range r.Header {
		m.Header[k] = append([]string(nil), v...)
	}
	m.Data = r.Data
	return m
}

// meta is a record without its body: the JSON part of a formatMetaBody value.
type meta struct {
	Subject   string      `json:"subject"`
	MsgID     string      `json:"msgId"`
	Header    nats.Header `json:"header,omitempty"`
	SpooledAt time.Time   `json:"spooledAt"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A stored value is the CRC-32C (big endian) of the bytes after it, then one of two formats:
//
//   - formatMetaBody: the byte 0x01, the length of the metadata (uint32, big endian), the
//     metadata as JSON ({"subject","msgId","header","spooledAt"}, readable in the file), then the
//     body as received. Written since the body stopped going through base64.
//   - the first format, still read: the whole record as JSON, the body in base64. It starts
//     with '{', which tells them apart.
const formatMetaBody = 0x01

const headerLen = 4 + 1 + 4 // checksum, format, metadata length

var errBadRecord = errors.New("bad record")

// encode is the stored value of r (formatMetaBody). It encodes by hand, without reflection: the
// request path runs it for every spooled webhook.
func encode(r *record) ([]byte, error) {
	size := headerLen + 128 + len(r.Subject) + len(r.MsgID) + len(r.Data)
	for k, vs := range r.Header {
		size += len(k) + 6
		for _, v := range vs {
			size += len(v) + 3
		}
	}
	v := make([]byte, headerLen, size)
	v[4] = formatMetaBody
	v = append(v, `{"subject":`...)
	v = appendString(v, r.Subject)
	v = append(v, `,"msgId":`...)
	v = appendString(v, r.MsgID)
	if len(r.Header) > 0 {
		v = append(v, `,"header":{`...)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys) // the same bytes for the same record
		for i, k := range keys {
			if i > 0 {
				v = append(v, ',')
			}
			v = appendString(v, k)
			v = append(v, ':')
			vs := r.Header[k]
			if vs == nil {
				v = append(v, "null"...)
				continue
			}
			v = append(v, '[')
			for j, s := range vs {
				if j > 0 {
					v = append(v, ',')
				}
				v = appendString(v, s)
			}
			v = append(v, ']')
		}
		v = append(v, '}')
	}
	v = append(v, `,"spooledAt":"`...)
	v = r.SpooledAt.AppendFormat(v, time.RFC3339Nano)
	v = append(v, `"}`...)
	metaLen := len(v) - headerLen
	if uint64(metaLen) > 1<<32-1 {
		return nil, fmt.Errorf("encode spool record: %d bytes of metadata", metaLen)
	}
	binary.BigEndian.PutUint32(v[5:], uint32(metaLen))
	v = append(v, r.Data...)
	binary.BigEndian.PutUint32(v, crc32.Checksum(v[4:], castagnoli))
	return v, nil
}

// appendString appends s as a JSON string. A string that is not valid UTF-8 goes through
// encoding/json, which stores its invalid bytes as U+FFFD (as the first format did).
func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		js, _ := json.Marshal(s) // a string always marshals
		return append(b, js...)
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decode checks a stored value and returns its record; the record shares nothing with v (bbolt's
// bytes are valid only within their transaction).
func decode(v []byte) (*record, error) {
	if len(v) < 5 {
		return nil, fmt.Errorf("%w: %d bytes", errBadRecord, len(v))
	}
	if got, want := crc32.Checksum(v[4:], castagnoli), binary.BigEndian.Uint32(v); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", errBadRecord, got, want)
	}
	switch v[4] {
	case '{':
		var r record
		if err := json.Unmarshal(v[4:], &r); err != nil {
			return nil, fmt.Errorf("%w: %w", errBadRecord, err)
		}
		return &r, nil
	case formatMetaBody:
		if len(v) < headerLen {
			return nil, fmt.Errorf("%w: %d bytes", errBadRecord, len(v))
		}
		end := headerLen + int(binary.BigEndian.Uint32(v[5:]))
		if end > len(v) || end < headerLen {
			return nil, fmt.Errorf("%w: metadata of %d bytes in a record of %d", errBadRecord, end-headerLen, len(v))
		}
		var m meta
		if err := json.Unmarshal(v[headerLen:end], &m); err != nil {
			return nil, fmt.Errorf("%w: %w", errBadRecord, err)
		}
		return &record{Subject: m.Subject, MsgID: m.MsgID, Header: m.Header, SpooledAt: m.SpooledAt,
			Data: bytes.Clone(v[end:])}, nil
	default:
		return nil, fmt.Errorf("%w: unknown format %#02x", errBadRecord, v[4])
	}
}
