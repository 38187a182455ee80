package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/pkg/admin"
	"go.uber.org/zap"
)

// CookieName is the session cookie.
const CookieName = "hookline_console"

// csrfField is the hidden form field carrying the session's CSRF token.
const csrfField = "csrf"

// session is one login: a random id in an HttpOnly, SameSite=Strict cookie, and the CSRF token
// its forms carry. Bearer requests get a session without an id: they carry no ambient
// credentials, so they need no CSRF token.
type session struct {
	id, csrf string
	expires  time.Time
	bearer   bool
}

type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*session
}

func newSessions(ttl time.Duration) *sessions { return &sessions{ttl: ttl, m: map[string]*session{}} }

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(now time.Time) *session {
	ss := &session{id: randomToken(), csrf: randomToken(), expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, old := range s.m {
		if now.After(old.expires) {
			delete(s.m, id)
		}
	}
	s.m[ss.id] = ss
	return ss
}

func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[id]
	if ss == nil {
		return nil
	}
	if now.After(ss.expires) {
		delete(s.m, id)
		return nil
	}
	return ss
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// tokenOK compares in constant time (the digests have equal length whatever was sent).
func (c *Console) tokenOK(got string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(c.o.Token)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// authenticate returns the request's session: a bearer token, else the session cookie; nil if
// neither is valid.
func (c *Console) authenticate(r *http.Request) *session {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if ok && c.tokenOK(tok) {
			return &session{bearer: true}
		}
		return nil // a wrong Authorization header is refused even with a valid cookie
	}
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	return c.sessions.get(ck.Value, time.Now())
}

type handlerFunc func(http.ResponseWriter, *http.Request, *session)

// page guards an HTML route: without auth it redirects to the login page; a POST needs the
// session's CSRF token.
func (c *Console) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := c.authenticate(r)
		if ss == nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !ss.bearer {
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue(csrfField)), []byte(ss.csrf)) != 1 {
				c.render(w, http.StatusForbidden, "error", ss, errorPage{Title: "Refused", Message: "The form's CSRF token does not match this session. Reload the page and try again."})
				return
			}
		}
		h(w, r, ss)
	})
}

// api guards a JSON route: 401 without auth.
func (c *Console) api(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := c.authenticate(r)
		if ss == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hookline-console"`)
			writeJSON(w, http.StatusUnauthorized, problem{Code: "unauthorized", Message: "a console token or session is required"})
			return
		}
		h(w, r, ss)
	})
}

type loginData struct{ Failed bool }

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.authenticate(r) != nil {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	c.render(w, http.StatusOK, "login", nil, loginData{})
}

// loginBody bounds what a login reads: a token is short.
const loginBody = 16 << 10

// loginToken is the token a login posts: the form's token field (the login page), a JSON body
// {"token": "..."} (a script), or else an Authorization: Bearer header.
func loginToken(r *http.Request) (token string, jsonBody bool) {
	r.Body = http.MaxBytesReader(nil, r.Body, loginBody)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var b struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err == nil && b.Token != "" {
			return b.Token, true
		}
		jsonBody = true
	} else if v := r.PostFormValue("token"); v != "" {
		return v, false
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return tok, jsonBody
	}
	return "", jsonBody
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	token, jsonBody := loginToken(r)
	if token == "" || !c.tokenOK(token) {
		c.o.Log.Warn("console login refused")
		if jsonBody {
			writeJSON(w, http.StatusUnauthorized, problem{Code: "unauthorized", Message: "wrong console token"})
			return
		}
		c.render(w, http.StatusUnauthorized, "login", nil, loginData{Failed: true})
		return
	}
	ss := c.sessions.create(time.Now())
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: ss.id, Path: Prefix, Expires: ss.expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, ss *session) {
	if ss.id != "" {
		c.sessions.remove(ss.id)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

type problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) { admin.WriteJSON(w, status, v) }

type errorPage struct{ Title, Message string }

// view is what every page template gets.
type view struct {
	Nav  string
	CSRF string
	Data any
}

func (c *Console) render(w http.ResponseWriter, status int, name string, ss *session, data any) {
	v := view{Nav: name, Data: data}
	if ss != nil {
		v.CSRF = ss.csrf
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.pages[name].Execute(w, v); err != nil {
		c.o.Log.Warn("console render", zap.String("page", name), zap.Error(err))
	}
}
