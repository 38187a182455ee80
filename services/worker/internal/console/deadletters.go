package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hookline/hookline/pkg/dlq"
	"github.com/hookline/hookline/pkg/streams"
	"go.uber.org/zap"
)

// listLimit bounds the dead letters one list page shows.
const listLimit = 500

// letterRow is one dead letter as the pages show it.
type letterRow struct {
	Seq                                uint64
	Stored                             string
	Original, Provider, Tenant, Reason string
	Deliveries, Event, Error           string
	Headers                            []Header
	Body                               string
}

func row(d dlq.Letter) letterRow {
	return letterRow{Seq: d.Msg.Sequence, Stored: stamp(d.Msg.Time), Original: d.Original, Provider: d.Provider,
		Tenant: d.Tenant, Reason: d.Reason, Deliveries: d.Deliveries(), Event: d.Event(),
		Error: d.Msg.Header.Get(streams.HeaderDLQError)}
}

// filterForm is the hookline dlq filters as form or query values: provider, tenant, reason and
// seq (space- or comma-separated sequences).
type filterForm struct{ Provider, Tenant, Reason, Seq string }

func readFilter(v url.Values) (filterForm, dlq.Filter, error) {
	ff := filterForm{Provider: strings.TrimSpace(v.Get("provider")), Tenant: strings.TrimSpace(v.Get("tenant")),
		Reason: strings.TrimSpace(v.Get("reason")), Seq: strings.TrimSpace(v.Get("seq"))}
	f := dlq.Filter{Provider: ff.Provider, Tenant: ff.Tenant, Reason: ff.Reason, Seqs: map[uint64]bool{}}
	for _, s := range strings.FieldsFunc(ff.Seq, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return ff, f, fmt.Errorf("%q is not a DLQ sequence number", s)
		}
		f.Seqs[n] = true
	}
	return ff, f, nil
}

// Query is the filter as a query string.
func (ff filterForm) Query() string {
	v := url.Values{}
	for k, s := range map[string]string{"provider": ff.Provider, "tenant": ff.Tenant, "reason": ff.Reason, "seq": ff.Seq} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

type dlqData struct {
	Filter    filterForm
	Letters   []letterRow
	Truncated bool
	Error     string
	Notice    string
	Action    string // confirm: replay or purge
	Seqs      string // confirm: the sequences listed, which the action is limited to
}

var errEnough = errors.New("enough dead letters listed")

func (c *Console) letters(r *http.Request, f dlq.Filter, full bool) ([]letterRow, bool, error) {
	stream, err := c.o.JS.Stream(r.Context(), streams.DLQ)
	if err != nil {
		return nil, false, fmt.Errorf("stream %s: %w", streams.DLQ, err)
	}
	var out []letterRow
	err = dlq.Each(r.Context(), stream, f, nil, func(d dlq.Letter) error {
		if len(out) == listLimit {
			return errEnough
		}
		lr := row(d)
		if full {
			lr.Headers, lr.Body = MaskHeaders(d.Msg.Header), prettyBody(d.Msg.Data)
		}
		out = append(out, lr)
		return nil
	})
	if errors.Is(err, errEnough) {
		return out, true, nil
	}
	return out, false, err
}

func (c *Console) dlqList(w http.ResponseWriter, r *http.Request, ss *session) {
	ff, f, err := readFilter(r.URL.Query())
	d := dlqData{Filter: ff, Notice: r.URL.Query().Get("done")}
	if err != nil {
		d.Error = err.Error()
		c.render(w, http.StatusBadRequest, "dlq", ss, d)
		return
	}
	if d.Letters, d.Truncated, err = c.letters(r, f, false); err != nil {
		c.o.Log.Warn("console dlq list", zap.Error(err))
		d.Error = "could not read the DLQ"
	}
	c.render(w, http.StatusOK, "dlq", ss, d)
}

func (c *Console) dlqShow(w http.ResponseWriter, r *http.Request, ss *session) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		c.render(w, http.StatusNotFound, "error", ss, errorPage{Title: "Not found", Message: "No such dead letter."})
		return
	}
	letters, _, err := c.letters(r, dlq.Filter{Seqs: map[uint64]bool{seq: true}}, true)
	switch {
	case err != nil:
		c.o.Log.Warn("console dlq show", zap.Error(err))
		c.render(w, http.StatusServiceUnavailable, "error", ss, errorPage{Title: "Unavailable", Message: "Could not read the DLQ."})
	case len(letters) == 0:
		c.render(w, http.StatusNotFound, "error", ss, errorPage{Title: "Not found", Message: fmt.Sprintf("Dead letter %d is not in the DLQ (replayed or purged).", seq)})
	default:
		c.render(w, http.StatusOK, "dlqshow", ss, letters[0])
	}
}

// dlqConfirm lists what an action would touch and asks for confirmation.
func (c *Console) dlqConfirm(w http.ResponseWriter, r *http.Request, ss *session) {
	ff, f, err := readFilter(r.URL.Query())
	d := dlqData{Filter: ff, Action: r.URL.Query().Get("action")}
	if d.Action != "replay" && d.Action != "purge" {
		c.render(w, http.StatusNotFound, "error", ss, errorPage{Title: "Not found", Message: "No such action."})
		return
	}
	if err != nil {
		d.Error = err.Error()
		c.render(w, http.StatusBadRequest, "dlq", ss, d)
		return
	}
	if d.Letters, d.Truncated, err = c.letters(r, f, false); err != nil {
		c.o.Log.Warn("console dlq confirm", zap.Error(err))
		d.Error = "could not read the DLQ"
	}
	seqs := make([]string, len(d.Letters))
	for i, l := range d.Letters {
		seqs[i] = strconv.FormatUint(l.Seq, 10)
	}
	d.Seqs = strings.Join(seqs, " ")
	c.render(w, http.StatusOK, "confirm", ss, d)
}

// dlqAct replays or purges what the posted filter selects (the page guard checked CSRF).
func (c *Console) dlqAct(w http.ResponseWriter, r *http.Request, ss *session) {
	action := r.PathValue("action")
	if action != "replay" && action != "purge" {
		c.render(w, http.StatusNotFound, "error", ss, errorPage{Title: "Not found", Message: "No such action."})
		return
	}
	if err := r.ParseForm(); err != nil {
		c.render(w, http.StatusBadRequest, "error", ss, errorPage{Title: "Bad request", Message: "Could not read the form."})
		return
	}
	ff, f, err := readFilter(r.PostForm)
	if err != nil {
		c.render(w, http.StatusBadRequest, "error", ss, errorPage{Title: "Bad request", Message: err.Error()})
		return
	}
	if r.PostFormValue("confirm") != "yes" || len(f.Seqs) == 0 {
		http.Redirect(w, r, "/console/dlq/confirm?action="+action+"&"+ff.Query(), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	stream, err := c.o.JS.Stream(ctx, streams.DLQ)
	if err != nil {
		c.o.Log.Warn("console dlq "+action, zap.Error(err))
		c.render(w, http.StatusServiceUnavailable, "error", ss, errorPage{Title: "Unavailable", Message: "Could not reach the DLQ."})
		return
	}
	n := 0
	err = dlq.Each(ctx, stream, f, nil, func(d dlq.Letter) error {
		var err error
		if action == "replay" {
			err = dlq.Replay(ctx, c.o.JS, stream, d)
		} else {
			err = dlq.Delete(ctx, stream, d)
		}
		if err == nil {
			n++
		}
		return err
	})
	verb := map[string]string{"replay": "replayed", "purge": "purged"}[action]
	if err != nil {
		c.o.Log.Warn("console dlq "+action, zap.Int("done", n), zap.Error(err))
		c.render(w, http.StatusServiceUnavailable, "error", ss, errorPage{Title: "Stopped",
			Message: fmt.Sprintf("%d dead letters %s, then the DLQ could not be updated; the rest are still there.", n, verb)})
		return
	}
	c.o.Log.Info("console dlq "+action, zap.Int("count", n), zap.String("provider", f.Provider), zap.String("tenant", f.Tenant), zap.String("reason", f.Reason))
	http.Redirect(w, r, "/console/dlq?done="+url.QueryEscape(fmt.Sprintf("%d dead letters %s", n, verb)), http.StatusSeeOther)
}
