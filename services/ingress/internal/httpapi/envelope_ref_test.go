package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/envelope"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

// The reference parsers: the envelope rules written a second time, independently of the scanner,
// decoding with encoding/json into structs. The provider parsers must reach the same outcome on
// every input except where they deliberately differ: duplicate keys are refused (encoding/json
// takes the last) and keys match exactly (encoding/json folds case); comparable skips those. What
// encoding/json does not check (UTF-8, lone surrogate escapes, ids' spelling) the reference
// checks itself on the raw field.

// refStrict reports whether raw (a JSON string) is valid UTF-8 without an escaped lone
// surrogate, which encoding/json would silently turn into U+FFFD.
func refStrict(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	hexAt := func(i int) (uint64, bool) {
		if i+4 > len(raw) {
			return 0, false
		}
		v, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
		return v, err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		v, _ := hexAt(i + 1)
		i += 4
		switch {
		case v >= 0xDC00 && v <= 0xDFFF:
			return false
		case v >= 0xD800 && v <= 0xDBFF:
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return false
			}
			w, _ := hexAt(i + 3)
			if w < 0xDC00 || w > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

var errRef = errors.New("reference: malformed")

// refString: absent or null is "", a string must be strict, anything else is an error.
func refString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if raw[0] != '"' || !refStrict(raw) || json.Unmarshal(raw, &s) != nil {
		return "", errRef
	}
	return s, nil
}

var refInteger = regexp.MustCompile(`^(0|-?[1-9][0-9]*)$`)

// refID: a string used verbatim (no surrounding spaces) or an integer, at most 256 bytes.
func refID(raw json.RawMessage, integerOnly bool) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	s := string(raw)
	if raw[0] == '"' {
		var err error
		if s, err = refString(raw); err != nil || strings.TrimSpace(s) != s || (integerOnly && !refInteger.MatchString(s)) {
			return "", errRef
		}
	} else if !refInteger.MatchString(s) {
		return "", errRef
	}
	if len(s) > 256 {
		return "", errRef
	}
	return s, nil
}

// refTime: only its validity matters here (a string must be strict).
func refTime(raw json.RawMessage) error {
	if len(raw) > 0 && raw[0] == '"' {
		_, err := refString(raw)
		return err
	}
	return nil
}

func refObject(raw json.RawMessage) (bool, error) {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return false, nil
	case raw[0] != '{':
		return false, errRef
	}
	return true, nil
}

func refHeaderValue(s string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

func refEventID(s string) bool {
	return s != "" && len(s) <= 256 && strings.TrimSpace(s) == s && refHeaderValue(s)
}

func refKind(typ string) envelope.Kind {
	n := strings.NewReplacer(".", "", "_", "", "-", "", " ", "").Replace(strings.ToLower(typ))
	switch n {
	case "orderstatuschanged":
		return envelope.KindStatusChanged
	case "paymentsucceeded":
		return envelope.KindPaymentSucceeded
	}
	return envelope.KindOther
}

type refPetstoreEnvelope struct {
	EventID   json.RawMessage `json:"eventId"`
	ID        json.RawMessage `json:"id"`
	EventType json.RawMessage `json:"eventType"`
	Timestamp json.RawMessage `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

type refPetstoreData struct {
	Order     json.RawMessage `json:"order"`
	OrderID   json.RawMessage `json:"orderId"`
	NewStatus json.RawMessage `json:"newStatus"`
	Status    json.RawMessage `json:"status"`
	ChangedAt json.RawMessage `json:"changedAt"`
	Payment   json.RawMessage `json:"payment"`
}

// refParsePetstore returns the envelope (id, type, kind, order, changes) or an error.
func refParsePetstore(body []byte) (envelope.Envelope, error) {
	var env refPetstoreEnvelope
	if err := json.Unmarshal(body, &env); err != nil || bytes.TrimSpace(body)[0] != '{' {
		return envelope.Envelope{}, errRef
	}
	id, err1 := refString(env.EventID)
	legacy, err2 := refString(env.ID)
	typ, err3 := refString(env.EventType)
	ts, err4 := refString(env.Timestamp)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return envelope.Envelope{}, err
	}
	if id == "" {
		id = legacy
	}
	at, err := time.Parse(time.RFC3339, ts)
	isObject, objErr := refObject(env.Data)
	if !refEventID(id) || typ == "" || !refHeaderValue(typ) || err != nil || objErr != nil {
		return envelope.Envelope{}, errRef
	}
	out := envelope.Envelope{EventID: id, EventType: typ, Kind: refKind(typ), Timestamp: at}
	if out.Kind == envelope.KindOther {
		return out, nil
	}
	var d refPetstoreData
	if !isObject || json.Unmarshal(env.Data, &d) != nil {
		return envelope.Envelope{}, errRef
	}
	var order, payment struct {
		ID      json.RawMessage `json:"id"`
		Status  json.RawMessage `json:"status"`
		OrderID json.RawMessage `json:"orderId"`
		PaidAt  json.RawMessage `json:"paidAt"`
	}
	if ok, err := refObject(d.Order); err != nil {
		return envelope.Envelope{}, err
	} else if ok {
		_ = json.Unmarshal(d.Order, &order)
		order.OrderID, order.PaidAt = nil, nil // not read
	}
	ids := []json.RawMessage{order.ID, d.OrderID}
	var times []json.RawMessage
	if out.Kind == envelope.KindPaymentSucceeded {
		if ok, err := refObject(d.Payment); err != nil {
			return envelope.Envelope{}, err
		} else if ok {
			_ = json.Unmarshal(d.Payment, &payment)
		}
		ids = append(ids, payment.OrderID)
		times = []json.RawMessage{d.ChangedAt, payment.PaidAt}
		out.Changes = []envelope.Change{{Status: "APPROVED"}}
	} else {
		times = []json.RawMessage{d.ChangedAt}
		var st string
		for _, raw := range []json.RawMessage{d.NewStatus, d.Status, order.Status} {
			s, err := refString(raw)
			if err != nil {
				return envelope.Envelope{}, err
			}
			if s = strings.TrimSpace(s); st == "" {
				st = s
			}
		}
		if st == "" {
			return envelope.Envelope{}, errRef
		}
		out.Changes = []envelope.Change{{Status: st}}
	}
	for _, raw := range times {
		if err := refTime(raw); err != nil {
			return envelope.Envelope{}, err
		}
	}
	for _, raw := range ids {
		s, err := refID(raw, false)
		if err != nil {
			return envelope.Envelope{}, err
		}
		if out.OrderID == "" {
			out.OrderID = s
		}
	}
	if out.OrderID == "" {
		return envelope.Envelope{}, errRef
	}
	return out, nil
}

type refBunjangEnvelope struct {
	EventID        json.RawMessage `json:"eventId"`
	EventType      json.RawMessage `json:"eventType"`
	PayloadVersion json.RawMessage `json:"payloadVersion"`
	Data           json.RawMessage `json:"data"`
}

// refULID: 26 characters of the ULID spec's alphabet (either case), the first at most 7.
var refULID = regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$`)

// refParseBunjang returns the envelope or an error.
func refParseBunjang(body []byte) (envelope.Envelope, error) {
	var env refBunjangEnvelope
	if err := json.Unmarshal(body, &env); err != nil || bytes.TrimSpace(body)[0] != '{' {
		return envelope.Envelope{}, errRef
	}
	id, err1 := refString(env.EventID)
	typ, err2 := refString(env.EventType)
	_, err3 := refString(env.PayloadVersion)
	isObject, err4 := refObject(env.Data)
	if errors.Join(err1, err2, err3, err4) != nil || !refULID.MatchString(id) || typ == "" || !refHeaderValue(typ) || !isObject {
		return envelope.Envelope{}, errRef
	}
	var d struct {
		OrderID    json.RawMessage   `json:"orderId"`
		OrderItems []json.RawMessage `json:"orderItems"`
	}
	if json.Unmarshal(env.Data, &d) != nil {
		return envelope.Envelope{}, errRef
	}
	out := envelope.Envelope{EventID: id, EventType: typ}
	if refKind(typ) == envelope.KindStatusChanged {
		out.Kind = envelope.KindStatusChanged
	}
	var err error
	if out.OrderID, err = refID(d.OrderID, true); err != nil || out.OrderID == "" || len(d.OrderItems) == 0 {
		return envelope.Envelope{}, errRef
	}
	seen := map[string]bool{}
	for _, raw := range d.OrderItems {
		var it struct {
			OrderItemID json.RawMessage `json:"orderItemId"`
			OrderStatus json.RawMessage `json:"orderStatus"`
		}
		if ok, err := refObject(raw); err != nil || !ok {
			return envelope.Envelope{}, errRef
		}
		_ = json.Unmarshal(raw, &it)
		itemID, err := refID(it.OrderItemID, true)
		if err != nil || itemID == "" || seen[itemID] {
			return envelope.Envelope{}, errRef
		}
		seen[itemID] = true
		st, err := refString(it.OrderStatus)
		if st = strings.TrimSpace(st); err != nil || st == "" {
			return envelope.Envelope{}, errRef
		}
		out.Changes = append(out.Changes, envelope.Change{ItemID: itemID, Status: st})
	}
	return out, nil
}

type refStandardEnvelope struct {
	Type      json.RawMessage `json:"type"`
	Timestamp json.RawMessage `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// refParseStandard returns the envelope or an error.
func refParseStandard(body []byte, webhookID string) (envelope.Envelope, error) {
	var env refStandardEnvelope
	if err := json.Unmarshal(body, &env); err != nil || bytes.TrimSpace(body)[0] != '{' {
		return envelope.Envelope{}, errRef
	}
	typ, err := refString(env.Type)
	if err != nil || !refEventID(webhookID) || !refHeaderValue(typ) {
		return envelope.Envelope{}, errRef
	}
	out := envelope.Envelope{EventID: webhookID, EventType: typ}
	if refKind(typ) != envelope.KindStatusChanged {
		return out, nil
	}
	out.Kind = envelope.KindStatusChanged
	var d struct {
		OrderID   json.RawMessage `json:"orderId"`
		Status    json.RawMessage `json:"status"`
		NewStatus json.RawMessage `json:"newStatus"`
		ChangedAt json.RawMessage `json:"changedAt"`
	}
	if ok, err := refObject(env.Data); err != nil || !ok {
		return envelope.Envelope{}, errRef
	}
	_ = json.Unmarshal(env.Data, &d)
	st1, err1 := refString(d.Status)
	st2, err2 := refString(d.NewStatus)
	out.OrderID, err = refID(d.OrderID, false)
	if errors.Join(err, err1, err2, refTime(d.ChangedAt), refTime(env.Timestamp)) != nil || out.OrderID == "" {
		return envelope.Envelope{}, errRef
	}
	st := strings.TrimSpace(st1)
	if st == "" {
		st = strings.TrimSpace(st2)
	}
	if st == "" {
		return envelope.Envelope{}, errRef
	}
	out.Changes = []envelope.Change{{Status: st}}
	return out, nil
}

// outcome is what a caller sees: accepted (with what was read), 401 stale, or 400.
func outcome(ev event, err error) string {
	switch {
	case err == nil:
		return "ok " + ev.ID + " " + ev.Type
	case errors.Is(err, errStaleEnvelope):
		return "stale"
	default:
		return "malformed"
	}
}

// envOutcome is outcome for a whole envelope (times left out: the reference reads only their
// validity).
func envOutcome(env envelope.Envelope, err error) string {
	if err != nil {
		return "malformed"
	}
	return fmt.Sprintf("ok %q %q kind=%d order=%q changes=%q", env.EventID, env.EventType, env.Kind, env.OrderID, env.Changes)
}

var envelopeKeys = []string{"eventId", "id", "eventType", "timestamp", "data", "payloadVersion",
	"orderId", "orderItems", "orderItemId", "orderStatus", "type", "order", "newStatus", "status",
	"changedAt", "payment", "paidAt"}

// comparable reports whether body avoids the deliberate differences: no object with a key twice,
// and no key equal to one of ours but for case.
func comparable(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return true // invalid JSON: both parsers must say malformed
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			case '[':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
		default:
			if top != nil && top.object && top.expect {
				k, _ := t.(string)
				if top.keys[k] {
					return false
				}
				top.keys[k] = true
				for _, name := range envelopeKeys {
					if k != name && strings.EqualFold(k, name) {
						return false
					}
				}
				top.expect = false
			} else if top != nil && top.object {
				top.expect = true
			}
		}
	}
}

func FuzzEnvelopeMatchesReference(f *testing.F) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := now.Add(-time.Hour).Format(time.RFC3339)
	for _, seed := range []string{
		`{"eventId":"e1","eventType":"order.statusChanged","timestamp":"` + ts + `","data":{"order":{"id":"o"},"newStatus":"SHIPPED"}}`,
		`{"id":"e2","eventType":"payment.succeeded","timestamp":"` + ts + `","data":null}`,
		`{"eventId":"e3","eventType":"t","timestamp":"2020-01-01T00:00:00Z"}`,
		`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":100,"orderItems":[{"orderItemId":1001,"pid":5,"orderStatus":"SHIPPED"}]}}`,
		`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"e","data":{"orderId":"7","orderItems":[{"orderItemId":"1","orderStatus":"S"},null]}}`,
		`{"type":"order.status.changed","data":{"orderId":"A-1","status":"SHIPPED"}}`,
		`{"event\u0049d":"x","eventType":"a\u002eb","timestamp":"` + ts + `"}`,
		`[1,2,3]`, `null`, `{"eventId":5}`, `{"data":[]}`, ` { } `,
		"{\"eventId\":\"e\",\"eventType\":\"order.statusChanged\",\"timestamp\":\"" + ts + "\",\"data\":{\"orderId\":\"o\xff\",\"newStatus\":\"S\"}}",
		`{"eventId":"e","eventType":"order.statusChanged","timestamp":"` + ts + `","data":{"orderId":"o\ud800","newStatus":"S"}}`,
		`{"eventId":" e","eventType":"payment.succeeded","timestamp":"` + ts + `","data":{"order":{"id":4.5}}}`,
		`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7A","eventType":"order.status.changed","data":{"orderId":1e2,"orderItems":[{"orderItemId":1,"orderStatus":"S"},{"orderItemId":"1","orderStatus":"T"}]}}`,
		`{"eventId":"01K0AZRPB4N36H9NMDJRMYXM7I","eventType":"x","data":{"orderId":"-0","orderItems":[{"orderItemId":1,"orderStatus":" S "}]}}`,
		`{"type":"order.status.changed","timestamp":"\ud83d\ude00","data":{"orderId":7,"newStatus":"PLACED","changedAt":1700000000}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !comparable(body) {
			t.Skip("duplicate or case-folded key: the parsers differ on purpose")
		}
		check := func(name string, got, want string) {
			if got != want {
				t.Fatalf("%s(%q): scanner %q, reference %q", name, body, got, want)
			}
		}
		ref, refErr := refParsePetstore(body)
		check("petstore", envOutcome(petstore.Parse(body)), envOutcome(ref, refErr))
		wantIngress := "malformed"
		if refErr == nil {
			wantIngress = "ok " + ref.EventID + " " + ref.EventType
			if age := now.Sub(ref.Timestamp); age > 72*time.Hour || age < -72*time.Hour {
				wantIngress = "stale"
			}
		}
		check("ingress petstore", outcome(parsePetstore(body, now, 72*time.Hour)), wantIngress)
		check("bunjang", envOutcome(bunjang.Parse(body)), envOutcome(refParseBunjang(body)))
		check("standard", envOutcome(standardwebhooks.Parse(body, "msg_1")), envOutcome(refParseStandard(body, "msg_1")))
	})
}
