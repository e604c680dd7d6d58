package storetest

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
)

// cart is the session of the application that Run serves on the store.
type cart struct {
	User string
	Cart []string
}

// app is a small web shop on the store under test, served by a
// scsession.Manager: a cart, a login, a logout, and the user's sessions.
type app struct {
	m      *scsession.Manager[cart]
	store  scs.Store
	url    string
	cookie string   // the session cookie's name
	gates  sync.Map // gate id → *gate, for /slow
}

// gate holds a /slow request after it has read its session.
type gate struct{ loaded, release chan struct{} }

// wait bounds every wait of the app and its clients.
const wait = 10 * time.Second

// newApp serves an app on st; indexed gives it WithUserID, which needs a
// store with a user index.
func newApp(t *testing.T, st scs.Store, indexed bool) *app {
	sm := scs.New()
	sm.Store = st
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "storetest: the session could not be loaded or saved: "+err.Error(), http.StatusInternalServerError)
	}
	opts := []scsession.Option{scsession.WithLogger(slog.New(slog.DiscardHandler))}
	if indexed {
		opts = append(opts, scsession.WithUserID(func(c cart) string { return c.User }))
	}
	a := &app{m: scsession.New[cart](sm, opts...), store: st, cookie: sm.Cookie.Name}
	m := a.m
	fail := func(w http.ResponseWriter, err error) bool {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return err != nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(m.Get(r.Context()))
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		item := r.FormValue("item")
		if fail(w, m.Update(r.Context(), func(c *cart) { c.Cart = append(c.Cart, item) })) {
			return
		}
		time.Sleep(2 * time.Millisecond) // the page's own work, while other requests save
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("user")
		ctx := r.Context()
		if fail(w, m.Update(ctx, func(c *cart) { c.User = user })) || fail(w, m.RenewToken(ctx)) {
			return
		}
		m.Flash(ctx, "info", "Welcome, "+user)
	})
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		for _, f := range m.Flashes(r.Context()) {
			fmt.Fprintln(w, f.Message)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		fail(w, m.Destroy(r.Context()))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		g, ok := a.gates.Load(r.FormValue("gate"))
		if !ok {
			http.Error(w, "no such gate", http.StatusBadRequest)
			return
		}
		m.Get(r.Context())
		close(g.(*gate).loaded)
		select {
		case <-g.(*gate).release:
		case <-time.After(wait):
		}
		fail(w, m.Update(r.Context(), func(c *cart) { c.Cart = append(c.Cart, "slow") }))
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		infos, err := m.Sessions(r.Context(), m.Get(r.Context()).User)
		if !fail(w, err) {
			json.NewEncoder(w).Encode(infos)
		}
	})
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		fail(w, m.Revoke(r.Context(), r.FormValue("id")))
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := m.RevokeOthers(r.Context())
		if !fail(w, err) {
			fmt.Fprint(w, n)
		}
	})
	srv := httptest.NewServer(m.LoadAndSave(mux))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// whileReading sends c's GET /slow, runs meanwhile once that request has
// read its session, then lets it change the session and save it.
func (a *app) whileReading(t *testing.T, c *client, meanwhile func()) {
	t.Helper()
	id := key()
	g := &gate{loaded: make(chan struct{}), release: make(chan struct{})}
	a.gates.Store(id, g)
	defer a.gates.Delete(id)
	done := make(chan response, 1)
	go func() { done <- c.send(http.MethodGet, "/slow?gate="+id, "") }()
	select {
	case <-g.loaded:
	case r := <-done:
		t.Fatalf("GET /slow ended before it read its session: %s", r)
	case <-time.After(wait):
		t.Fatalf("GET /slow did not read its session within %v", wait)
	}
	meanwhile()
	close(g.release)
	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("GET /slow, which saves after the concurrent request: %s", r)
		}
	case <-time.After(wait):
		t.Fatalf("GET /slow did not finish within %v", wait)
	}
}

// client is a browser in miniature: a cookie jar, no redirects followed.
type client struct {
	t   *testing.T
	app *app
	jar *cookiejar.Jar
	hc  *http.Client
}

func (a *app) client(t *testing.T) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, app: a, jar: jar, hc: &http.Client{
		Jar:           jar,
		Timeout:       wait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is what a client got; err is the transport's.
type response struct {
	method, path string
	status       int
	body         string
	err          error
}

func (r response) String() string {
	if r.err != nil {
		return fmt.Sprintf("%s %s: %v", r.method, r.path, r.err)
	}
	return fmt.Sprintf("%s %s: %d %s", r.method, r.path, r.status, strings.TrimSpace(r.body))
}

// send sends a request, with the jar's cookie or, if cookie is set, with
// that session cookie instead. It is safe to call from any goroutine.
func (c *client) send(method, path, cookie string) response {
	r := response{method: method, path: path}
	req, err := http.NewRequest(method, c.app.url+path, nil)
	if err != nil {
		r.err = err
		return r
	}
	hc := c.hc
	if cookie != "" {
		hc = &http.Client{Timeout: wait, CheckRedirect: c.hc.CheckRedirect}
		req.AddCookie(&http.Cookie{Name: c.app.cookie, Value: cookie})
	}
	resp, err := hc.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r.status, r.body, r.err = resp.StatusCode, string(b), err
	return r
}

// do sends a request and stops the test unless it gets a 200.
func (c *client) do(method, path string) string {
	c.t.Helper()
	r := c.send(method, path, "")
	if r.err != nil || r.status != http.StatusOK {
		c.t.Fatalf("%s", r)
	}
	return r.body
}

// session returns the session the client's cookie reads, or with token set,
// the one that session cookie reads.
func (c *client) session(token string) cart {
	c.t.Helper()
	r := c.send(http.MethodGet, "/", token)
	if r.err != nil || r.status != http.StatusOK {
		c.t.Fatalf("%s", r)
	}
	var s cart
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		c.t.Fatalf("GET /: %v in %q", err, r.body)
	}
	return s
}

// token returns the client's session token, "" without one.
func (c *client) token() string {
	u, _ := url.Parse(c.app.url)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == c.app.cookie {
			return ck.Value
		}
	}
	return ""
}

// login logs the client in as user.
func (c *client) login(user string) {
	c.t.Helper()
	c.do(http.MethodPost, "/login?user="+url.QueryEscape(user))
}

// sessions returns the sessions of the client's user, as Sessions lists them.
func (c *client) sessions() []scsession.SessionInfo {
	c.t.Helper()
	var infos []scsession.SessionInfo
	if err := json.Unmarshal([]byte(c.do(http.MethodGet, "/sessions")), &infos); err != nil {
		c.t.Fatalf("GET /sessions: %v", err)
	}
	return infos
}

// own returns the ID of the client's own session among its user's sessions.
func (c *client) own() string {
	c.t.Helper()
	for _, info := range c.sessions() {
		if info.Current {
			return info.ID
		}
	}
	c.t.Fatalf("Sessions does not list the session of the request that asked (none is Current): its index entry, added at login, was lost (%s)", indexRule)
	return ""
}
