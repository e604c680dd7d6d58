package main

import (
	"net/http"
	"strings"
	"testing"
)

// startCookieApp is the example with -cookie-store and a fixed key, so that
// two of them open each other's cookies.
func startCookieApp(t *testing.T) string {
	t.Helper()
	return startApp(t, config{CookieStore: true, Keys: [][]byte{[]byte("cookie-key-0123456789abcdefghijk")}}).URL
}

func TestCookieStoreLoginCartLogout(t *testing.T) {
	b := newBrowser(t, startCookieApp(t))
	login(t, b, "wrong").redirectsTo(t, "/login")
	b.get("/login").has(t, "Wrong username or password. 4 attempts left.")
	login(t, b, "demo").redirectsTo(t, "/members")
	p := b.get("/members")
	p.has(t, "Welcome back!", "Members only")
	p.hasNot(t, `href="/sessions"`) // no sessions page to link to
	if c := b.cookie(); c == "" || strings.Contains(c, "demo") {
		t.Errorf("the cookie %q: want the session sealed, not readable", c)
	}

	b.post("/cart/add", "item", "tea").redirectsTo(t, "/cart")
	b.get("/cart").has(t, "Green tea added to your cart.", `<tr data-item="tea">`)
	b.post("/theme", "theme", "dark")
	b.post("/logout").redirectsTo(t, "/")
	b.get("/").has(t, "You have been logged out.", "Hello, stranger!", `id="cart-count">0<`, `data-theme="dark"`)
	b.get("/members").redirectsTo(t, "/login")
}

// TestCookieStoreHasNoSessionsPageNorAPI: what a cookie store cannot do
// is explained, not half done.
func TestCookieStoreHasNoSessionsPageNorAPI(t *testing.T) {
	base := startCookieApp(t)
	b := newBrowser(t, base)
	login(t, b, "demo")
	p := b.get("/sessions")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /sessions: %d", p.Status)
	}
	p.has(t, `id="no-session-list"`, "cannot list where you are logged in")
	p.hasNot(t, `<table id="sessions">`)
	if p := b.post("/sessions/revoke-others"); p.Status != http.StatusNotFound {
		t.Errorf("POST /sessions/revoke-others: %d, want 404", p.Status)
	}
	b.get("/api").has(t, `id="api-unavailable"`)

	c := newAPIClient(t, base)
	for _, path := range []string{"/api/login", "/api/cart", "/api/logout"} {
		if msg := c.do(http.MethodPost, path, `{"username":"demo","password":"demo"}`).error(t, http.StatusNotImplemented); !strings.Contains(msg, "-cookie-store") {
			t.Errorf("POST %s: %q, want it to say why", path, msg)
		}
	}
	c.do(http.MethodGet, "/api/cart", nil).error(t, http.StatusNotImplemented)
}

// TestCookieStoreInstancesShareSessionsByKey: two instances with the same
// key open each other's cookies, with no store between them.
func TestCookieStoreInstancesShareSessionsByKey(t *testing.T) {
	a, other := startCookieApp(t), startCookieApp(t)
	b := newBrowser(t, a)
	login(t, b, "demo").redirectsTo(t, "/members")
	b.base = other
	b.get("/members").has(t, "Welcome back!")
}

// TestCookieStoreLogoutCannotEndACopiedCookie is what a cookie store
// gives up: logging out expires the browser's cookie, but a copy taken
// before still opens, until it expires. The server keeps nothing to
// forget.
func TestCookieStoreLogoutCannotEndACopiedCookie(t *testing.T) {
	base := startCookieApp(t)
	b := newBrowser(t, base)
	login(t, b, "demo")
	b.get("/members")
	copied := b.cookie()
	b.post("/logout").redirectsTo(t, "/")
	thief := newBrowser(t, base)
	thief.setCookie(copied)
	if !loggedIn(t, thief) {
		t.Fatal("the copied cookie no longer opens: has the cookie store learnt to revoke? Then the sessions page can come back")
	}
}

func TestOneStoreOnly(t *testing.T) {
	for _, cfg := range []config{
		{RedisAddr: "127.0.0.1:1", PostgresURL: "postgres://127.0.0.1:1/x"},
		{RedisAddr: "127.0.0.1:1", CookieStore: true},
		{PostgresURL: "postgres://127.0.0.1:1/x", CookieStore: true},
	} {
		_, err := newApp(cfg)
		if err == nil || !strings.Contains(err.Error(), "choose one") {
			t.Errorf("%v: %v, want an error asking to choose one store", cfg.stores(), err)
		}
	}
}
