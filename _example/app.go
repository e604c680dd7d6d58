package main

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/scsession/scsession"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Session is everything the app keeps about a visitor. scsession stores it
// as JSON: adding a field needs no registration, and a handler can only put
// in it what the type allows.
type Session struct {
	User        string         `json:"user,omitempty"`
	LoggedInAt  time.Time      `json:"logged_in_at,omitzero"`
	Visits      int            `json:"visits,omitempty"` // views of the home page
	Theme       string         `json:"theme,omitempty"`  // "light" or "dark"
	Cart        map[string]int `json:"cart,omitempty"`   // product ID to quantity
	CSRF        string         `json:"csrf,omitempty"`
	Failures    int            `json:"failures,omitempty"` // failed logins since the last success or lockout
	LockedUntil time.Time      `json:"locked_until,omitzero"`
}

// config is what newApp needs; main fills it from flags and environment.
// RedisAddr, PostgresURL and CookieStore each say where the sessions live:
// at most one may be set; none is a memory store.
type config struct {
	RedisAddr   string   // -redis: host:port, nodes of a cluster, or a URL (redis.go)
	PostgresURL string   // -postgres: a pgx connection string (postgres.go)
	CookieStore bool     // -cookie-store: each session sealed in its cookie, no server store
	Secure      bool     // Secure cookies, for serving behind TLS
	Keys        [][]byte // signing (or, with CookieStore, sealing) keys, newest first; nil: one random key
	Logger      *slog.Logger
	Now         func() time.Time // the clock of the login limits; nil: time.Now
	Store       scs.Store        // for tests: instances sharing one memory store, as they would a Redis
}

// stores names the options of cfg that pick where the sessions live.
func (cfg config) stores() []string {
	var set []string
	if cfg.RedisAddr != "" {
		set = append(set, "-redis")
	}
	if cfg.PostgresURL != "" {
		set = append(set, "-postgres")
	}
	if cfg.CookieStore {
		set = append(set, "-cookie-store")
	}
	return set
}

// app is the example's http.Handler.
type app struct {
	sessions *scsession.Manager[Session]
	accounts *limiter // failed logins per account (throttle.go)
	addrs    *limiter // failed logins per client address
	pages    map[string]*template.Template
	router   chi.Router
	logger   *slog.Logger
	now      func() time.Time
	store    string // where the sessions live, for the log
	cookies  bool   // -cookie-store: no server store, so no sessions page and no API
	secure   bool   // served behind TLS: the API page's URLs are https
	close    func() error
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

// Close releases the Redis pool or client, or the PostgreSQL pool, if there
// is one.
func (a *app) Close() error { return a.close() }

func newApp(cfg config) (*app, error) {
	if set := cfg.stores(); len(set) > 1 {
		return nil, fmt.Errorf("%s: each keeps the sessions somewhere else; choose one (REDIS_ADDR and DATABASE_URL set -redis and -postgres too)", strings.Join(set, " and "))
	}
	a := &app{logger: cfg.Logger, now: cfg.Now, store: "memory", cookies: cfg.CookieStore, secure: cfg.Secure, close: func() error { return nil }}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.accounts = newLimiter(accountFailures, failureWindow, accountLockout, maxTracked, a.now)
	a.addrs = newLimiter(addrFailures, failureWindow, addrLockout, maxTracked, a.now)

	sm := scs.New()
	sm.Lifetime = 14 * 24 * time.Hour // how long "remember me" lasts
	sm.Cookie.Persist = false         // a browser-session cookie unless the user ticks "remember me"
	sm.Cookie.SameSite = http.SameSiteLaxMode
	if cfg.Secure {
		// The __Host- prefix makes browsers refuse the cookie unless it is
		// Secure, for Path=/ and without Domain: no subdomain can plant one.
		sm.Cookie.Name = "__Host-session"
		sm.Cookie.Secure = true
	}
	switch {
	case cfg.RedisAddr != "":
		r, err := openRedis(cfg.RedisAddr)
		if err != nil {
			return nil, err
		}
		sm.Store, a.store, a.close = r.store, r.name, r.close
	case cfg.PostgresURL != "":
		p, err := openPostgres(cfg.PostgresURL, a.logger)
		if err != nil {
			return nil, err
		}
		sm.Store, a.store, a.close = p.store, p.name, p.close
	case cfg.CookieStore:
		a.store = "cookies" // sm.Store is never touched
	case cfg.Store != nil:
		sm.Store = cfg.Store
	}

	keys := cfg.Keys
	if len(keys) == 0 {
		key := make([]byte, 32)
		rand.Read(key)
		keys = [][]byte{key}
	}
	opts := []scsession.Option{
		scsession.WithLogger(a.logger),
		scsession.WithSkip(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/static/") }),
	}
	if cfg.CookieStore {
		// The session is sealed in its cookie with the SESSION_KEYS. Using
		// the signing secret for sealing is safe: WithCookieStore derives
		// its AES keys from each one with HKDF, for that purpose only. A
		// cookie store can neither list nor revoke sessions, nor give API
		// clients a token: no WithUserID, no WithTokenHeader (New would
		// panic), so no sessions page and no /api.
		opts = append(opts, scsession.WithCookieStore(keys...))
	} else {
		opts = append(opts,
			scsession.WithSigningKeys(keys...),
			// Index sessions by user, for the sessions page and its sign-outs.
			scsession.WithUserID(func(s Session) string { return s.User }),
			// API clients carry the token as "Authorization: Bearer ..." (api.go).
			scsession.WithTokenHeader("Authorization"),
		)
	}
	a.sessions = scsession.New[Session](sm, opts...)

	var err error
	if a.pages, err = parsePages(); err != nil {
		a.close()
		return nil, err
	}
	a.routes()
	return a, nil
}

func (a *app) routes() {
	r := chi.NewRouter()
	r.Use(middleware.GetHead, a.sessions.LoadAndSave)

	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(static)))

	r.Group(func(r chi.Router) {
		// Two layers against cross-site forms. The standard library's
		// CrossOriginProtection refuses a POST that the browser says came
		// from another site (Sec-Fetch-Site, or an Origin that is not this
		// host); it needs no token, but it lets through requests that carry
		// neither header, as older browsers send some forms (Sec-Fetch-Site
		// reached every major browser only in 2023). The session's CSRF
		// token (checkCSRF) stops those too. Both come after LoadAndSave, so
		// that a refusal is a page of the app, in the user's theme.
		r.Use(a.crossOrigin().Handler, a.checkCSRF)
		a.pageRoutes(r)
	})
	// The API has its own rule for cross-site requests (api.go).
	r.Group(a.apiRoutes)

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusNotFound, "error", "There is no page at this address.")
	})
	a.router = r
}

// crossOrigin is the app's http.CrossOriginProtection, whose refusal is a
// page of the app, or a JSON error for the API.
func (a *app) crossOrigin() *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.refuse(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused. Open this site yourself and try again.")
	}))
	return cop
}

func (a *app) pageRoutes(r chi.Router) {
	r.Get("/", a.home)
	r.Post("/theme", a.setTheme)
	r.Get("/login", a.loginForm)
	r.Post("/login", a.login)
	r.Post("/logout", a.logout)
	r.Get("/cart", a.cart)
	r.Post("/cart/add", a.cartAdd)
	r.Post("/cart/remove", a.cartRemove)
	r.Get("/api", a.apiPage)

	loggedIn := func(s Session) bool { return s.User != "" }
	r.With(a.sessions.Require(loggedIn, a.pleaseLogIn("the members' page"))).Get("/members", a.members)
	if a.cookies {
		r.Get("/sessions", a.noSessionList)
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(a.sessions.Require(loggedIn, a.pleaseLogIn("your sessions")))
		r.Get("/sessions", a.sessionList)
		r.Post("/sessions/revoke", a.revokeSession)
		r.Post("/sessions/revoke-others", a.revokeOtherSessions)
	})
}

// refuse answers a request the app will not serve: with a page, or for the
// API (a path under /api/) with a JSON error.
func (a *app) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, apiError{msg})
		return
	}
	a.render(w, r, status, "error", msg)
}

// checkCSRF refuses a POST whose csrf_token field is not the session's
// token. Every page puts the token in its forms; a page on another site
// cannot read it, so it cannot make the browser post to us, even a browser
// too old to send Sec-Fetch-Site or Origin, which CrossOriginProtection
// relies on.
func (a *app) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !a.csrfOK(w, r) {
			a.refuse(w, r, http.StatusForbidden, "This form has expired or did not come from this site. Go back, reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// csrfOK reports whether the csrf_token field of the request's form is the
// session's token. A session without a token has never been shown a form:
// refuse, rather than accept an empty field as a match.
func (a *app) csrfOK(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	want := a.sessions.Get(r.Context()).CSRF
	got := r.PostFormValue("csrf_token")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// view is what every template gets.
type view struct {
	Path        string
	S           Session
	Flashes     []scsession.Flash
	Data        any
	CookieStore bool // no sessions page: hide its links
}

// CartCount is the number of items in the cart, for the navigation bar.
func (v view) CartCount() int {
	n := 0
	for _, q := range v.S.Cart {
		n += q
	}
	return n
}

// SessionJSON is the session's data as JSON, the form the store keeps it in
// (packed), for the home page to show, without the CSRF token.
func (v view) SessionJSON() string {
	s := v.S
	if s.CSRF != "" {
		s.CSRF = "(hidden)"
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	return string(b)
}

// render writes a page. It takes the flash messages out of the session and
// gives the session a CSRF token if it has none, so it must run before
// anything else is written; the page is rendered into a buffer first so
// that a template error is a clean 500.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	ctx := r.Context()
	s := a.sessions.Get(ctx)
	if s.CSRF == "" {
		s.CSRF = rand.Text()
		token := s.CSRF
		if err := a.sessions.Update(ctx, func(s *Session) { s.CSRF = token }); err != nil {
			a.serverError(w, r, err)
			return
		}
	}
	v := view{Path: r.URL.Path, S: s, Flashes: a.sessions.Flashes(ctx), Data: data, CookieStore: a.cookies}
	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		a.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

func (a *app) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.logger.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "error", err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// redirect answers a form post with 303 See Other, so that reloading the
// next page does not post the form again.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

var pageNames = []string{"home", "login", "members", "sessions", "cart", "api", "error"}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}
