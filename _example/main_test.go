package main

import (
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for the login lockout.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startApp serves the example on an httptest server.
func startApp(t *testing.T, cfg config) *httptest.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return srv
}

// browser is a client with a cookie jar that does not follow redirects, so
// tests see each 303, and that remembers the CSRF token of the last page.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
	csrf   string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, client: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is what a browser got back.
type page struct {
	Status int
	Header http.Header
	Body   string
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return page{resp.StatusCode, resp.Header, string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form with the CSRF token of the last page, as a browser
// would, unless form sets csrf_token itself. Pairs are name, value.
func (b *browser) post(path string, pairs ...string) page {
	b.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		form.Add(pairs[i], pairs[i+1])
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// cookie returns the session cookie's value as the browser holds it.
func (b *browser) cookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "session" {
			return c.Value
		}
	}
	return ""
}

// setCookie gives the browser a session cookie, as a thief would.
func (b *browser) setCookie(value string) {
	u, _ := url.Parse(b.base)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: value}})
}

func (p page) redirectsTo(t *testing.T, path string) {
	t.Helper()
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != path {
		t.Fatalf("got %d to %q, want 303 to %q", p.Status, p.Header.Get("Location"), path)
	}
}

func (p page) has(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Errorf("page (status %d) does not contain %q:\n%s", p.Status, s, p.Body)
		}
	}
}

func (p page) hasNot(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(p.Body, s) {
			t.Errorf("page (status %d) contains %q and should not", p.Status, s)
		}
	}
}

func login(t *testing.T, b *browser, password string, extra ...string) page {
	t.Helper()
	b.get("/login")
	return b.post("/login", append([]string{"username", "demo", "password", password}, extra...)...)
}

func TestHomeCountsVisits(t *testing.T) {
	b := newBrowser(t, startApp(t, config{}).URL)
	b.get("/")
	b.get("/")
	p := b.get("/")
	p.has(t, `<strong id="visits">3</strong>`, "Hello, stranger!",
		html.EscapeString(`"visits": 3`), html.EscapeString(`"csrf": "(hidden)"`))
}

func TestThemeSwitches(t *testing.T) {
	b := newBrowser(t, startApp(t, config{}).URL)
	b.get("/").has(t, `data-theme="light"`)
	b.post("/theme", "theme", "dark").redirectsTo(t, "/")
	b.get("/").has(t, `data-theme="dark"`, `<strong id="theme">dark</strong>`)
	b.get("/cart").has(t, `data-theme="dark"`)
	b.post("/theme", "theme", "light").redirectsTo(t, "/")
	b.get("/").has(t, `data-theme="light"`)

	if p := b.post("/theme", "theme", "purple"); p.Status != http.StatusBadRequest {
		t.Errorf("theme purple: got %d, want 400", p.Status)
	}
}

func TestLoginWrongThenRight(t *testing.T) {
	b := newBrowser(t, startApp(t, config{}).URL)
	login(t, b, "wrong").redirectsTo(t, "/login")
	b.get("/login").has(t, "Wrong username or password. 4 attempts left.")
	b.get("/login").hasNot(t, "Wrong username")

	before := b.cookie()
	login(t, b, "demo").redirectsTo(t, "/members")
	if b.cookie() == before {
		t.Error("logging in kept the session token; want a new one")
	}
	p := b.get("/members")
	if p.Status != http.StatusOK {
		t.Fatalf("members after login: got %d, want 200", p.Status)
	}
	p.has(t, "Welcome back!", `<strong id="member">demo</strong>`, "Log out demo")
	if cc := p.Header.Values("Cache-Control"); !strings.Contains(strings.Join(cc, ","), "no-store") {
		t.Errorf("members: Cache-Control %q, want no-store", cc)
	}
	b.get("/members").hasNot(t, "Welcome back!")
}

func TestLoginKillsOldToken(t *testing.T) {
	base := startApp(t, config{}).URL
	b := newBrowser(t, base)
	b.get("/login")
	old := b.cookie()
	login(t, b, "demo").redirectsTo(t, "/members")

	thief := newBrowser(t, base)
	thief.setCookie(old)
	thief.get("/members").redirectsTo(t, "/login")
}

func TestRememberMe(t *testing.T) {
	for _, tc := range []struct {
		name       string
		extra      []string
		persistent bool
	}{
		{"unticked", nil, false},
		{"ticked", []string{"remember", "on"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, startApp(t, config{}).URL)
			p := login(t, b, "demo", tc.extra...)
			p.redirectsTo(t, "/members")
			setCookie := p.Header.Get("Set-Cookie")
			if got := strings.Contains(setCookie, "Max-Age="); got != tc.persistent {
				t.Errorf("Set-Cookie %q: persistent %v, want %v", setCookie, got, tc.persistent)
			}
		})
	}
}

func TestLoginLocksOutAfterFiveFailures(t *testing.T) {
	clk := &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	b := newBrowser(t, startApp(t, config{Now: clk.Now}).URL)
	for i := 1; i <= 4; i++ {
		login(t, b, "wrong").redirectsTo(t, "/login")
	}
	login(t, b, "wrong").redirectsTo(t, "/login")
	b.get("/login").has(t, "Wrong username or password.", "login is locked for this session for 60 more seconds", "disabled")

	// Locked: even the right password is refused.
	clk.Advance(30 * time.Second)
	login(t, b, "demo").redirectsTo(t, "/login")
	b.get("/login").has(t, "login is locked for 30 more seconds")
	b.get("/members").redirectsTo(t, "/login")

	// Another session is not locked.
	other := newBrowser(t, b.base)
	login(t, other, "demo").redirectsTo(t, "/members")

	clk.Advance(31 * time.Second)
	b.get("/login").hasNot(t, `id="locked"`)
	login(t, b, "demo").redirectsTo(t, "/members")
}

func TestMembersNeedLogin(t *testing.T) {
	b := newBrowser(t, startApp(t, config{}).URL)
	b.get("/members").redirectsTo(t, "/login")
	b.get("/login").has(t, "Please log in to see the members&#39; page.")
	b.get("/login").hasNot(t, "Please log in")
}

func TestPostWithoutCSRFTokenIsRefused(t *testing.T) {
	base := startApp(t, config{}).URL
	routes := []struct {
		path string
		form []string
	}{
		{"/theme", []string{"theme", "dark"}},
		{"/login", []string{"username", "demo", "password", "demo"}},
		{"/logout", nil},
		{"/cart/add", []string{"item", "tea"}},
		{"/cart/remove", []string{"item", "tea"}},
	}
	other := newBrowser(t, base)
	other.get("/")
	for _, tc := range []struct {
		name  string
		token func(b *browser) string
		fresh bool // the browser has no session yet
	}{
		{"missing", func(*browser) string { return "" }, false},
		{"wrong", func(b *browser) string { return b.csrf[1:] + "A" }, false},
		{"another session's", func(*browser) string { return other.csrf }, false},
		{"no session", func(*browser) string { return "" }, true},
	} {
		for _, r := range routes {
			t.Run(tc.name+" "+r.path, func(t *testing.T) {
				b := newBrowser(t, base)
				if !tc.fresh {
					b.get("/")
				}
				p := b.post(r.path, append(r.form, "csrf_token", tc.token(b))...)
				if p.Status != http.StatusForbidden {
					t.Fatalf("got %d, want 403", p.Status)
				}
				p.has(t, "This form has expired")
				if !tc.fresh {
					b.get("/").has(t, `data-theme="light"`, `id="cart-count">0<`, "Hello, stranger!")
				}
			})
		}
	}
}

func TestCart(t *testing.T) {
	b := newBrowser(t, startApp(t, config{}).URL)
	b.get("/cart").has(t, "Your cart is empty.")
	b.post("/cart/add", "item", "tea").redirectsTo(t, "/cart")
	b.get("/cart").has(t, "Green tea added to your cart.")
	b.post("/cart/add", "item", "tea")
	b.post("/cart/add", "item", "croissant")
	b.get("/")
	b.post("/cart/add", "item", "jam")
	b.post("/cart/remove", "item", "jam").redirectsTo(t, "/cart")
	b.post("/cart/remove", "item", "tea")

	p := b.get("/cart")
	p.has(t, `id="cart-count">2<`, `<tr data-item="tea">`, `<tr data-item="croissant">`)
	p.hasNot(t, `<tr data-item="jam">`)
	if n := strings.Count(p.Body, `<td class="num qty">1</td>`); n != 2 {
		t.Errorf("cart has %d lines of quantity 1, want 2:\n%s", n, p.Body)
	}
	b.get("/members").redirectsTo(t, "/login") // the cart needs no login...
	b.get("/").has(t, `id="cart-count">2<`)    // ...and is there on every page

	for _, path := range []string{"/cart/add", "/cart/remove"} {
		if p := b.post(path, "item", "caviar"); p.Status != http.StatusBadRequest {
			t.Errorf("%s caviar: got %d, want 400", path, p.Status)
		}
	}
}

func TestLogout(t *testing.T) {
	base := startApp(t, config{}).URL
	b := newBrowser(t, base)
	login(t, b, "demo")
	b.get("/members")
	b.post("/cart/add", "item", "coffee")
	b.post("/theme", "theme", "dark")
	loggedIn := b.cookie()

	b.get("/members")
	b.post("/logout").redirectsTo(t, "/")
	p := b.get("/")
	p.has(t, "You have been logged out.", "Hello, stranger!", `id="cart-count">0<`, `data-theme="dark"`)
	b.get("/").hasNot(t, "logged out")
	b.get("/members").redirectsTo(t, "/login")

	// The logged-in session is gone from the store, not just from the browser.
	again := newBrowser(t, base)
	again.setCookie(loggedIn)
	again.get("/members").redirectsTo(t, "/login")
}

func TestSecureCookies(t *testing.T) {
	b := newBrowser(t, startApp(t, config{Secure: true}).URL)
	c := b.get("/").Header.Get("Set-Cookie")
	if !strings.HasPrefix(c, "__Host-session=") || !strings.Contains(c, "; Secure") || !strings.Contains(c, "Path=/;") {
		t.Errorf("Set-Cookie %q: want a Secure __Host-session cookie for Path=/", c)
	}
}

func TestStaticFilesHaveNoSession(t *testing.T) {
	b := newBrowser(t, startApp(t, config{}).URL)
	p := b.get("/static/style.css")
	if p.Status != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("got %d %q", p.Status, p.Header.Get("Content-Type"))
	}
	if c := p.Header.Get("Set-Cookie"); c != "" {
		t.Errorf("static file set a cookie: %q", c)
	}
}

func TestNotFound(t *testing.T) {
	b := newBrowser(t, startApp(t, config{}).URL)
	if p := b.get("/nowhere"); p.Status != http.StatusNotFound {
		t.Errorf("got %d, want 404", p.Status)
	}
}

func TestParseKeys(t *testing.T) {
	k32 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	k48 := base64.RawURLEncoding.EncodeToString(make([]byte, 48))
	for _, tc := range []struct {
		in   string
		keys int
		err  string
	}{
		{"", 0, ""},
		{k32, 1, ""},
		{k32 + ", " + k48, 2, ""},
		{base64.StdEncoding.EncodeToString(make([]byte, 16)), 0, "key 1 is 16 bytes"},
		{k32 + ",not base64!", 0, "key 2 is not base64"},
	} {
		keys, err := parseKeys(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseKeys(%q): error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(keys) != tc.keys {
			t.Errorf("parseKeys(%q) = %d keys, %v; want %d keys", tc.in, len(keys), err, tc.keys)
		}
	}
}

// TestTwoInstancesShareRedis logs in on one instance and uses the session on
// another: same Redis, same signing keys.
func TestTwoInstancesShareRedis(t *testing.T) {
	addr := startRedis(t)
	keys := [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
	a := startApp(t, config{RedisAddr: addr, Keys: keys})
	b := startApp(t, config{RedisAddr: addr, Keys: keys})

	br := newBrowser(t, a.URL)
	login(t, br, "demo").redirectsTo(t, "/members")
	br.base = b.URL // cookies are per host, not per port: the same browser
	br.get("/members").has(t, "Welcome back!")
	br.post("/cart/add", "item", "tea")
	br.base = a.URL
	br.get("/cart").has(t, "Green tea added to your cart.", `<tr data-item="tea">`)
	br.post("/logout").redirectsTo(t, "/")
	br.base = b.URL
	br.get("/members").redirectsTo(t, "/login")

	if _, err := newApp(config{RedisAddr: "127.0.0.1:1"}); err == nil {
		t.Error("newApp with an unreachable Redis: no error")
	}
}

// startRedis runs a redis-server of the test's own on a free loopback port.
// Without redis-server it skips, except in CI (CI=true).
func startRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed: apt-get install -y redis-server")
		}
		t.Skip("redis-server is not installed; to run this test: apt-get install -y redis-server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start within 10s: %v", addr, err)
		}
	}
}
