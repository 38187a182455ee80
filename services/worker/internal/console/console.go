// Package console serves the worker's web console on its admin port at /console/ (contract
// section 12): an overview of traffic, outcomes, lag and streams with a live rate chart; an
// order's timeline with the webhooks behind it; and the dead letters, with replay and purge
// through pkg/dlq, the same code as `hookline dlq`. Pages are server-rendered from embedded
// templates and assets; nothing is loaded from the network.
//
// Every page and API needs `Authorization: Bearer <token>` or the session cookie that posting the
// token to /console/login sets; the API answers 401 to anything else, pages redirect to the login
// page. Posted forms carry the session's CSRF token.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/hookline/hookline/services/worker/internal/query"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Prefix is where the console is mounted.
const Prefix = "/console/"

// Env is the variable holding the console token; empty leaves the console off.
const Env = "HOOKLINE_CONSOLE_TOKEN"

// ErrNoToken is returned by New without a token.
var ErrNoToken = errors.New("console: no token")

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are what the console reads from.
type Options struct {
	// Token is what a request must present (bearer) or post to /console/login.
	Token []byte
	// JS reads the streams and consumers and replays dead letters.
	JS jetstream.JetStream
	// Metrics is gathered for the worker's outcome counters.
	Metrics prometheus.Gatherer
	// Orders reads an order's current state.
	Orders OrderReader
	// History reads an order's history (see HistoryReader).
	History HistoryReader
	Log     *zap.Logger

	// SampleEvery is how often the overview is sampled for the rate chart (default 2s), Keep how
	// many samples the ring buffer holds (default 300: ten minutes).
	SampleEvery time.Duration
	Keep        int
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
}

// Console is the console's handler; Run samples the overview for the rate chart.
type Console struct {
	o        Options
	mux      *http.ServeMux
	pages    map[string]*template.Template
	sessions *sessions
	samples  *ring
}

var _ http.Handler = (*Console)(nil)

// New returns the console, or ErrNoToken when opts.Token is empty.
func New(opts Options) (*Console, error) {
	if len(opts.Token) == 0 {
		return nil, ErrNoToken
	}
	if opts.SampleEvery <= 0 {
		opts.SampleEvery = 2 * time.Second
	}
	if opts.Keep <= 0 {
		opts.Keep = 300
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{o: opts, mux: http.NewServeMux(), pages: pages,
		sessions: newSessions(opts.SessionTTL), samples: newRing(opts.Keep)}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /console/login", c.loginPage)
	c.mux.HandleFunc("POST /console/login", c.login)
	c.mux.Handle("POST /console/logout", c.page(c.logout))
	c.mux.Handle("GET /console/{$}", c.page(c.overview))
	c.mux.Handle("GET /console/orders", c.page(c.orderPage))
	c.mux.Handle("GET /console/dlq", c.page(c.dlqList))
	c.mux.Handle("GET /console/dlq/{seq}", c.page(c.dlqShow))
	c.mux.Handle("GET /console/dlq/confirm", c.page(c.dlqConfirm))
	c.mux.Handle("POST /console/dlq/{action}", c.page(c.dlqAct))
	c.mux.Handle("GET /console/api/overview", c.api(c.overviewAPI))
	c.mux.Handle("/console/api/", c.api(func(w http.ResponseWriter, _ *http.Request, _ *session) {
		writeJSON(w, http.StatusNotFound, problem{Code: "not_found", Message: "no such console API"})
	}))
	// Any other console URL is a page: without auth it too goes to the login page (contract
	// section 12), so nothing under /console/ answers an anonymous request with anything else.
	c.mux.Handle("/console/", c.page(func(w http.ResponseWriter, _ *http.Request, ss *session) {
		c.render(w, http.StatusNotFound, "error", ss, errorPage{Title: "Not found", Message: "No such console page."})
	}))
	return c, nil
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"stamp": stamp, "kindClass": kindClass, "statusName": query.StatusName}
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "overview", "order", "dlq", "dlqshow", "confirm", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// ServeHTTP serves the console's routes, and security headers on every answer.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

// Run samples the overview every SampleEvery until ctx ends.
func (c *Console) Run(ctx context.Context) {
	t := time.NewTicker(c.o.SampleEvery)
	defer t.Stop()
	for {
		c.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}
