package app

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/pkg/streams"
	"github.com/hookline/hookline/services/worker/internal/console"
)

const consoleToken = "test-console-token"

func withConsole(c *Config) { c.Worker.ConsoleToken = config.NewSecret([]byte(consoleToken)) }

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// do sends a request to the worker's admin port: form (if any) is posted.
func (w *worker) do(t testing.TB, method, path string, form url.Values, hdr map[string]string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.admin+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, string(b)
}

// login posts the token and returns the session cookie.
func (w *worker) login(t testing.TB) *http.Cookie {
	t.Helper()
	resp, _ := w.do(t, http.MethodPost, "/console/login", url.Values{"token": {consoleToken}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d, want 303", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			return c
		}
	}
	t.Fatal("login set no session cookie")
	return nil
}

// TestIntegrationConsoleOff: without HOOKLINE_CONSOLE_TOKEN the console is not there.
func TestIntegrationConsoleOff(t *testing.T) {
	e := newEnv(t, false)
	w := e.startWorker(e.config())
	for _, path := range []string{"/console/", "/console/login", "/console/api/overview", "/console/dlq"} {
		if resp, _ := w.do(t, http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + consoleToken}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without a console token: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := w.do(t, http.MethodPost, "/console/login", url.Values{"token": {""}}, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /console/login without a console token: %d, want 404", resp.StatusCode)
	}
}

// TestIntegrationConsoleAuth: the API answers 401 and pages redirect to the login page unless the
// request carries the token or a live session.
func TestIntegrationConsoleAuth(t *testing.T) {
	e := newEnv(t, false)
	w := e.startWorker(e.config(withConsole))
	good := w.login(t)
	forged := &http.Cookie{Name: console.CookieName, Value: "not-a-session"}

	tests := []struct {
		name     string
		path     string
		hdr      map[string]string
		cookie   *http.Cookie
		want     int
		wantLoc  string
		wantBody string
	}{
		{name: "api without auth", path: "/console/api/overview", want: 401, wantBody: "unauthorized"},
		{name: "api wrong token", path: "/console/api/overview", hdr: map[string]string{"Authorization": "Bearer wrong"}, want: 401},
		{name: "api token prefix", path: "/console/api/overview", hdr: map[string]string{"Authorization": "Bearer " + consoleToken[:5]}, want: 401},
		{name: "api basic scheme", path: "/console/api/overview", hdr: map[string]string{"Authorization": "Basic " + consoleToken}, want: 401},
		{name: "api forged cookie", path: "/console/api/overview", cookie: forged, want: 401},
		{name: "api unknown route", path: "/console/api/nope", want: 401},
		{name: "api wrong token beats good cookie", path: "/console/api/overview", hdr: map[string]string{"Authorization": "Bearer wrong"}, cookie: good, want: 401},
		{name: "page without auth", path: "/console/", want: 303, wantLoc: "/console/login"},
		{name: "order page without auth", path: "/console/orders?provider=petstore&order=1", want: 303, wantLoc: "/console/login"},
		{name: "dlq page wrong token", path: "/console/dlq", hdr: map[string]string{"Authorization": "Bearer wrong"}, want: 303, wantLoc: "/console/login"},
		{name: "dlq page forged cookie", path: "/console/dlq/1", cookie: forged, want: 303, wantLoc: "/console/login"},
		{name: "api bearer", path: "/console/api/overview", hdr: map[string]string{"Authorization": "Bearer " + consoleToken}, want: 200, wantBody: `"streams"`},
		{name: "api session", path: "/console/api/overview", cookie: good, want: 200, wantBody: `"lag"`},
		{name: "page session", path: "/console/", cookie: good, want: 200, wantBody: "rate-chart"},
		{name: "page bearer", path: "/console/dlq", hdr: map[string]string{"Authorization": "Bearer " + consoleToken}, want: 200, wantBody: "dead-letters"},
		{name: "login page", path: "/console/login", want: 200, wantBody: `name="token"`},
		{name: "unknown page without auth", path: "/console/nope", want: 303, wantLoc: "/console/login"},
		{name: "unknown nested page forged cookie", path: "/console/orders/x/y", cookie: forged, want: 303, wantLoc: "/console/login"},
		{name: "unknown page session", path: "/console/nope", cookie: good, want: 404, wantBody: "No such console page"},
		{name: "static asset", path: "/console/static/app.js", want: 200, wantBody: "rate-chart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cookies []*http.Cookie
			if tt.cookie != nil {
				cookies = append(cookies, tt.cookie)
			}
			resp, body := w.do(t, http.MethodGet, tt.path, nil, tt.hdr, cookies...)
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s: %d, want %d: %s", tt.path, resp.StatusCode, tt.want, body)
			}
			if loc := resp.Header.Get("Location"); tt.wantLoc != "" && loc != tt.wantLoc {
				t.Fatalf("GET %s: Location %q, want %q", tt.path, loc, tt.wantLoc)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Fatalf("GET %s: body lacks %q: %.300s", tt.path, tt.wantBody, body)
			}
			if strings.Contains(body, consoleToken) {
				t.Fatalf("GET %s: the answer shows the console token", tt.path)
			}
		})
	}

	t.Run("cookie attributes", func(t *testing.T) {
		if !good.HttpOnly || good.SameSite != http.SameSiteStrictMode || good.Path != console.Prefix {
			t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Strict, Path=%s", good, console.Prefix)
		}
	})
	t.Run("wrong login", func(t *testing.T) {
		resp, body := w.do(t, http.MethodPost, "/console/login", url.Values{"token": {"wrong"}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(body, "login-error") {
			t.Fatalf("wrong token login: %d cookies %v", resp.StatusCode, resp.Cookies())
		}
	})
	t.Run("login by JSON body or bearer header", func(t *testing.T) {
		post := func(body, contentType, auth string) *http.Response {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, w.admin+"/console/login", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return resp
		}
		session := func(resp *http.Response) *http.Cookie {
			for _, c := range resp.Cookies() {
				if c.Name == console.CookieName && c.Value != "" {
					return c
				}
			}
			return nil
		}
		for _, tt := range []struct {
			name, body, contentType, auth string
			want                          int
		}{
			{"json", `{"token":"` + consoleToken + `"}`, "application/json", "", http.StatusSeeOther},
			{"json with charset", `{"token":"` + consoleToken + `"}`, "application/json; charset=utf-8", "", http.StatusSeeOther},
			{"bearer header", "", "", "Bearer " + consoleToken, http.StatusSeeOther},
			{"json wrong token", `{"token":"wrong"}`, "application/json", "", http.StatusUnauthorized},
			{"json not an object", `"` + consoleToken + `"`, "application/json", "", http.StatusUnauthorized},
			{"bearer wrong token", "", "", "Bearer wrong", http.StatusUnauthorized},
			{"empty form", "token=", "application/x-www-form-urlencoded", "", http.StatusUnauthorized},
		} {
			t.Run(tt.name, func(t *testing.T) {
				resp := post(tt.body, tt.contentType, tt.auth)
				if resp.StatusCode != tt.want {
					t.Fatalf("login: %d, want %d", resp.StatusCode, tt.want)
				}
				c := session(resp)
				if tt.want != http.StatusSeeOther {
					if c != nil {
						t.Fatalf("refused login set a session cookie %+v", c)
					}
					return
				}
				if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
					t.Fatalf("session cookie %+v, want HttpOnly and SameSite=Strict", c)
				}
				if resp, _ := w.do(t, http.MethodGet, "/console/api/overview", nil, nil, c); resp.StatusCode != http.StatusOK {
					t.Fatalf("API with the session: %d, want 200", resp.StatusCode)
				}
			})
		}
	})
	t.Run("logout ends the session", func(t *testing.T) {
		c := w.login(t)
		csrf := csrfOf(t, w, c)
		resp, _ := w.do(t, http.MethodPost, "/console/logout", url.Values{"csrf": {csrf}}, nil, c)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
			t.Fatalf("logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := w.do(t, http.MethodGet, "/console/api/overview", nil, nil, c); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("API with the logged-out cookie: %d, want 401", resp.StatusCode)
		}
		if resp, _ := w.do(t, http.MethodGet, "/console/api/overview", nil, nil, good); resp.StatusCode != http.StatusOK {
			t.Fatalf("another session after a logout: %d, want 200", resp.StatusCode)
		}
	})
}

// csrfOf reads the session's CSRF token from a page's hidden field.
func csrfOf(t testing.TB, w *worker, c *http.Cookie) string {
	t.Helper()
	_, body := w.do(t, http.MethodGet, "/console/dlq", nil, nil, c)
	const marker = `name="csrf" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no CSRF field on the page: %.300s", body)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestIntegrationConsoleCSRF: a cookie session's POST without its CSRF token is refused and
// changes nothing; with it, the dead letter is purged.
func TestIntegrationConsoleCSRF(t *testing.T) {
	e := newEnv(t, false)
	w := e.startWorker(e.config(withConsole))
	poison := inbound{provider: "petstore", eventID: "bad-1", eventType: "order.statusChanged", body: []byte(`{"eventId":"bad-1","data":`)}
	e.publish(poison.msg())
	eventually(t, 30*time.Second, "the poison message dead-lettered", func() bool { return e.streamMsgs(streams.DLQ) == 1 })
	c := w.login(t)
	other := w.login(t)
	csrf := csrfOf(t, w, c)

	purge := func(token string) url.Values {
		v := url.Values{"confirm": {"yes"}, "seq": {"1"}}
		if token != "" {
			v.Set("csrf", token)
		}
		return v
	}
	for _, tt := range []struct {
		name string
		give url.Values
	}{
		{"no token", purge("")},
		{"wrong token", purge("forged")},
		{"another session's token", purge(csrfOf(t, w, other))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := w.do(t, http.MethodPost, "/console/dlq/purge", tt.give, nil, c)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("purge: %d, want 403", resp.StatusCode)
			}
			if n := e.streamMsgs(streams.DLQ); n != 1 {
				t.Fatalf("DLQ holds %d after a refused purge, want 1", n)
			}
		})
	}
	if resp, _ := w.do(t, http.MethodPost, "/console/logout", url.Values{}, nil, c); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: %d, want 403", resp.StatusCode)
	}
	// Without confirm=yes the action only leads to the confirmation page.
	resp, _ := w.do(t, http.MethodPost, "/console/dlq/purge", url.Values{"csrf": {csrf}, "seq": {"1"}}, nil, c)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/dlq/confirm?action=purge") || e.streamMsgs(streams.DLQ) != 1 {
		t.Fatalf("unconfirmed purge: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = w.do(t, http.MethodPost, "/console/dlq/purge", purge(csrf), nil, c)
	if resp.StatusCode != http.StatusSeeOther || e.streamMsgs(streams.DLQ) != 0 {
		t.Fatalf("confirmed purge with the CSRF token: %d, DLQ holds %d, want 303 and 0", resp.StatusCode, e.streamMsgs(streams.DLQ))
	}
}
