package main

import (
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scsession/scsession/internal/sessiontest"
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

// startApp serves the example on an httptest server, after the setup
// functions have had their way with it.
func startApp(t *testing.T, cfg config, setup ...func(*app)) *httptest.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(a)
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
	agent  string // the User-Agent header; empty: Go's
	addr   string // the client address the app sees (startAppWithAddrs); empty: the real one
	header http.Header
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
	if b.agent != "" {
		req.Header.Set("User-Agent", b.agent)
	}
	if b.addr != "" {
		req.Header.Set(testAddrHeader, b.addr)
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
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
		{"/sessions/revoke", []string{"id", "x"}},
		{"/sessions/revoke-others", nil},
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

// User-Agents of the devices in the sessions tests.
const (
	chromeLinux    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// newDevice is a browser of its own, with its own cookies and User-Agent.
func newDevice(t *testing.T, base, agent string) *browser {
	b := newBrowser(t, base)
	b.agent = agent
	return b
}

// listed is a row of the sessions page, as a test reads it.
type listed struct {
	ID, Device string
	Current    bool
}

var sessionRowHTML = regexp.MustCompile(`<tr data-session="([^"]*)"( class="current")?>\s*<td title="[^"]*">([^<]*)`)

// sessionList opens the sessions page and reads its rows.
func (b *browser) sessionList() []listed {
	b.t.Helper()
	p := b.get("/sessions")
	if p.Status != http.StatusOK {
		b.t.Fatalf("GET /sessions: got %d, want 200", p.Status)
	}
	var rows []listed
	for _, m := range sessionRowHTML.FindAllStringSubmatch(p.Body, -1) {
		rows = append(rows, listed{ID: html.UnescapeString(m[1]), Device: strings.TrimSpace(html.UnescapeString(m[3])), Current: m[2] != ""})
	}
	return rows
}

// idOf is the ID of the session listed for the device.
func idOf(t *testing.T, rows []listed, device string) string {
	t.Helper()
	for _, r := range rows {
		if r.Device == device {
			return r.ID
		}
	}
	t.Fatalf("no session of %q in %+v", device, rows)
	return ""
}

// loggedIn checks whether b is still logged in, by asking for the members'
// page.
func loggedIn(t *testing.T, b *browser) bool {
	t.Helper()
	switch p := b.get("/members"); p.Status {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	default:
		t.Fatalf("GET /members: got %d", p.Status)
		return false
	}
}

// threeDevices logs demo in on a laptop, a desktop and a phone.
func threeDevices(t *testing.T, base string) (laptop, desktop, phone *browser) {
	t.Helper()
	laptop, desktop, phone = newDevice(t, base, chromeLinux), newDevice(t, base, firefoxWindows), newDevice(t, base, safariIPhone)
	for _, b := range []*browser{laptop, desktop, phone} {
		login(t, b, "demo").redirectsTo(t, "/members")
	}
	return laptop, desktop, phone
}

func TestSessionsPageListsDevices(t *testing.T) {
	base := startApp(t, config{}).URL
	_, desktop, _ := threeDevices(t, base)

	rows := desktop.sessionList()
	devices := map[string]bool{}
	for _, r := range rows {
		devices[r.Device] = r.Current
	}
	want := map[string]bool{"Chrome on Linux": false, "Firefox on Windows": true, "Safari on iPhone": false}
	if len(rows) != 3 || !maps.Equal(devices, want) {
		t.Errorf("the desktop's sessions page lists %+v; want the three devices, the desktop as current", rows)
	}
	p := desktop.get("/sessions")
	p.has(t, `id="this-device">This device<`, "Log out everywhere else", "just now", `href="/sessions" aria-current="page">Sessions<`)
	if n := strings.Count(p.Body, `>Sign out</button>`); n != 2 {
		t.Errorf("the page has %d sign-out buttons, want 2 (none for this device)", n)
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}

	stranger := newBrowser(t, base)
	stranger.get("/sessions").redirectsTo(t, "/login")
	stranger.get("/login").has(t, "Please log in to see your sessions.")
	stranger.get("/").hasNot(t, `href="/sessions"`)
}

func TestRevokeSession(t *testing.T) {
	laptop, desktop, phone := threeDevices(t, startApp(t, config{}).URL)
	phoneID := idOf(t, laptop.sessionList(), "Safari on iPhone")

	laptop.post("/sessions/revoke", "id", phoneID).redirectsTo(t, "/sessions")
	laptop.get("/sessions").has(t, "Signed out Safari on iPhone.")
	if rows := laptop.sessionList(); len(rows) != 2 {
		t.Errorf("after signing out the phone the page lists %+v; want the laptop and the desktop", rows)
	}
	phone.get("/members").redirectsTo(t, "/login")
	phone.get("/").has(t, "Hello, stranger!")
	if !loggedIn(t, desktop) || !loggedIn(t, laptop) {
		t.Error("signing out the phone signed out another device too")
	}

	// The phone's ID, once more, as from a page opened before.
	laptop.post("/sessions/revoke", "id", phoneID).redirectsTo(t, "/sessions")
	laptop.get("/sessions").has(t, "That session is not one of yours, or it has ended already.")
}

func TestRevokeOtherSessions(t *testing.T) {
	laptop, desktop, phone := threeDevices(t, startApp(t, config{}).URL)
	laptop.get("/sessions")
	laptop.post("/sessions/revoke-others").redirectsTo(t, "/sessions")
	p := laptop.get("/sessions")
	p.has(t, "Signed out 2 other sessions.", "This is your only session.")
	p.hasNot(t, "Log out everywhere else")
	if rows := laptop.sessionList(); len(rows) != 1 || !rows[0].Current || rows[0].Device != "Chrome on Linux" {
		t.Errorf("after logging out everywhere else the page lists %+v; want only this device", rows)
	}
	if loggedIn(t, desktop) || loggedIn(t, phone) {
		t.Error("a device is still logged in after 'log out everywhere else'")
	}
	if !loggedIn(t, laptop) {
		t.Error("'log out everywhere else' logged out the device that asked")
	}

	laptop.post("/sessions/revoke-others").redirectsTo(t, "/sessions")
	laptop.get("/sessions").has(t, "There were no other sessions to sign out.")
}

// TestRevokeRefusesForeignIDs posts IDs that are not among the user's other
// sessions: another user's, made up, empty, and the caller's own.
func TestRevokeRefusesForeignIDs(t *testing.T) {
	// The example has one account; this test's app has a way in for another.
	loginAs := func(a *app) {
		a.router.Post("/test/login-as", func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if err := a.sessions.RenewToken(ctx); err != nil {
				a.serverError(w, r, err)
				return
			}
			user := r.PostFormValue("user")
			if err := a.sessions.Update(ctx, func(s *Session) { s.User = user }); err != nil {
				a.serverError(w, r, err)
				return
			}
			redirect(w, r, "/sessions")
		})
	}
	base := startApp(t, config{}, loginAs).URL
	alice := newDevice(t, base, firefoxWindows)
	alice.get("/")
	alice.post("/test/login-as", "user", "alice").redirectsTo(t, "/sessions")
	aliceRows := alice.sessionList()
	if len(aliceRows) != 1 || !aliceRows[0].Current {
		t.Fatalf("alice's sessions page lists %+v; want her one session", aliceRows)
	}

	laptop, phone := newDevice(t, base, chromeLinux), newDevice(t, base, safariIPhone)
	login(t, laptop, "demo")
	login(t, phone, "demo")
	laptopID := idOf(t, laptop.sessionList(), "Chrome on Linux")
	for _, tc := range []struct{ name, id, flash string }{
		{"another user's", aliceRows[0].ID, "That session is not one of yours"},
		{"made up", "abc123", "That session is not one of yours"},
		{"empty", "", "That session is not one of yours"},
		{"the caller's own", laptopID, "use Log out to end it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			laptop.post("/sessions/revoke", "id", tc.id).redirectsTo(t, "/sessions")
			laptop.get("/sessions").has(t, tc.flash)
			if !loggedIn(t, alice) || !loggedIn(t, phone) || !loggedIn(t, laptop) {
				t.Error("a session was signed out")
			}
		})
	}
	if rows := alice.sessionList(); len(rows) != 1 {
		t.Errorf("alice's sessions page lists %+v; want her one session, not demo's", rows)
	}
}

func TestRevokeNeedsCSRFToken(t *testing.T) {
	laptop, _, phone := threeDevices(t, startApp(t, config{}).URL)
	phoneID := idOf(t, laptop.sessionList(), "Safari on iPhone")
	for _, token := range []string{"", "forged"} {
		if p := laptop.post("/sessions/revoke", "id", phoneID, "csrf_token", token); p.Status != http.StatusForbidden {
			t.Errorf("revoke with token %q: got %d, want 403", token, p.Status)
		}
		if p := laptop.post("/sessions/revoke-others", "csrf_token", token); p.Status != http.StatusForbidden {
			t.Errorf("revoke-others with token %q: got %d, want 403", token, p.Status)
		}
	}
	if !loggedIn(t, phone) || len(laptop.sessionList()) != 3 {
		t.Error("a sign-out without the CSRF token went through")
	}
}

// TestRevokeOnOneInstanceLogsOutOnAnother signs devices out from one
// instance while they use another: same Redis, same signing keys.
func TestRevokeOnOneInstanceLogsOutOnAnother(t *testing.T) {
	addr := startRedis(t)
	keys := [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
	a := startApp(t, config{RedisAddr: addr, Keys: keys}).URL
	b := startApp(t, config{RedisAddr: addr, Keys: keys}).URL

	laptop, phone, desktop := newDevice(t, a, chromeLinux), newDevice(t, b, safariIPhone), newDevice(t, b, firefoxWindows)
	for _, d := range []*browser{laptop, phone, desktop} {
		login(t, d, "demo").redirectsTo(t, "/members")
	}
	rows := laptop.sessionList()
	if len(rows) != 3 {
		t.Fatalf("instance A lists %+v; want the sessions made on both instances", rows)
	}
	laptop.post("/sessions/revoke", "id", idOf(t, rows, "Safari on iPhone")).redirectsTo(t, "/sessions")
	phone.get("/members").redirectsTo(t, "/login")
	if !loggedIn(t, desktop) {
		t.Fatal("signing out the phone on A signed out the desktop on B")
	}

	login(t, phone, "demo").redirectsTo(t, "/members")
	phone.base = a // the phone now comes through A, the laptop through B
	laptop.base = b
	laptop.get("/sessions")
	laptop.post("/sessions/revoke-others").redirectsTo(t, "/sessions")
	laptop.get("/sessions").has(t, "Signed out 2 other sessions.")
	if loggedIn(t, phone) || loggedIn(t, desktop) {
		t.Error("a device is still logged in after 'log out everywhere else' on the other instance")
	}
	if rows := laptop.sessionList(); len(rows) != 1 || !rows[0].Current {
		t.Errorf("after logging out everywhere else instance B lists %+v; want only this device", rows)
	}
}

func TestDeviceLabels(t *testing.T) {
	for _, tc := range []struct{ agent, want string }{
		{chromeLinux, "Chrome on Linux"},
		{firefoxWindows, "Firefox on Windows"},
		{safariIPhone, "Safari on iPhone"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on macOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera on Windows"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome on iPhone"},
		{"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1", "Safari on iPad"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"curl/8.5.0", "curl"},
		{"Wget/1.21.4", "Wget"},
		{"Go-http-client/1.1", "Go program"},
		{"Mozilla/5.0 (X11; Linux x86_64)", "Browser on Linux"},
		{"ExampleBot/2.0 (+https://example.com/bot)", "ExampleBot"},
		{"AVeryLongNameOfAProgramThatGoesOnAndOn/1", "AVeryLongNameOfAProgramT…"},
		{"", "Unknown device"},
		{"   ", "Unknown device"},
	} {
		if got := device(tc.agent); got != tc.want {
			t.Errorf("device(%q) = %q, want %q", tc.agent, got, tc.want)
		}
	}
}

func TestWhen(t *testing.T) {
	now := time.Date(2025, 3, 3, 9, 41, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{-5 * time.Second, "just now"},
		{0, "just now"},
		{59 * time.Second, "just now"},
		{90 * time.Second, "a minute ago"},
		{5*time.Minute + 30*time.Second, "5 minutes ago"},
		{59 * time.Minute, "59 minutes ago"},
		{2 * time.Hour, "today, 07:41"},
		{10 * time.Hour, "Sun 2 Mar, 23:41"},
		{40 * 24 * time.Hour, "Wed 22 Jan, 09:41"},
	} {
		if got := when(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("when(now - %v) = %q, want %q", tc.ago, got, tc.want)
		}
	}
}

// startRedis runs a redis-server of the test's own on a free loopback port.
// Without redis-server it skips, except in CI (CI=true).
func startRedis(t *testing.T) string {
	t.Helper()
	return sessiontest.StartRedis(t).Addr
}
