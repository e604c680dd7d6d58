package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/scsession/scsession/internal/sessiontest"
)

// TestBrowserFlow is what a first-time user does: log in wrong then right,
// fill a cart across pages, switch theme, log out, press back.
func TestBrowserFlow(t *testing.T) {
	userFlow(t, newUser(t, newBrowser(t), startApp(t, nil)))
}

// TestBrowserFlowTwoInstancesOnRedis is the same flow with every page view
// alternating between two instances that share a Redis and signing keys, as
// behind a load balancer. Cookies ignore the port, so both instances see the
// same cookie.
func TestBrowserFlowTwoInstancesOnRedis(t *testing.T) {
	ctx := newBrowser(t)
	redis := startRedis(t)
	keys := "SESSION_KEYS=" + base64.StdEncoding.EncodeToString([]byte("e2e-new-key-0123456789abcdefghij")) +
		"," + base64.StdEncoding.EncodeToString([]byte("e2e-old-key-0123456789abcdefghij"))
	env := []string{keys, "REDIS_ADDR=" + redis}
	a, b := startApp(t, env), startApp(t, env)
	userFlow(t, newUser(t, ctx, a, b))
}

// TestBrowserFlowTwoInstancesOnACluster is the same flow with the two
// instances on a Redis Cluster of the test's own (3 masters, 3 replicas),
// given as a list of its nodes: the example then uses goredisstore.
func TestBrowserFlowTwoInstancesOnACluster(t *testing.T) {
	ctx := newBrowser(t)
	cluster := sessiontest.StartCluster(t)
	keys := "SESSION_KEYS=" + base64.StdEncoding.EncodeToString([]byte("e2e-new-key-0123456789abcdefghij"))
	env := []string{keys, "REDIS_ADDR=" + strings.Join(cluster.Addrs(), ",")}
	a, b := startApp(t, env), startApp(t, env)
	userFlow(t, newUser(t, ctx, a, b))
}

// TestBrowserFlowTwoInstancesOnPostgres is the same flow with the two
// instances on one PostgreSQL of the test's own (DATABASE_URL): the example
// then uses pgxstore.
func TestBrowserFlowTwoInstancesOnPostgres(t *testing.T) {
	ctx := newBrowser(t)
	pg := sessiontest.StartPostgres(t)
	keys := "SESSION_KEYS=" + base64.StdEncoding.EncodeToString([]byte("e2e-new-key-0123456789abcdefghij"))
	env := []string{keys, "DATABASE_URL=" + pg.URL()}
	a, b := startApp(t, env), startApp(t, env)
	userFlow(t, newUser(t, ctx, a, b))
}

// TestBrowserFlowCookieStore is a short flow with -cookie-store, on two
// instances with the same key and nothing between them but the cookie:
// log in, fill the cart, log out, and find no sessions page and no API.
func TestBrowserFlowCookieStore(t *testing.T) {
	ctx := newBrowser(t)
	env := []string{"SESSION_KEYS=" + base64.StdEncoding.EncodeToString([]byte("e2e-cookie-key-0123456789abcdefg"))}
	u := newUser(t, ctx, startApp(t, env, "-cookie-store"), startApp(t, env, "-cookie-store"))
	u.visit("/login")
	u.fill("#username", "demo")
	u.fill("#password", "demo")
	u.submit("#login")
	u.at("/members")
	u.sees("Welcome back!", "You are signed in as demo")
	u.doesNotSee("See where else you are logged in")
	u.rows(`nav a[href="/sessions"]`, 0)
	u.shot("logged-in")

	u.visit("/")
	u.sees("Hello, demo!")
	u.submit("#add-special")
	u.at("/cart")
	u.sees("Croissant added to your cart.")
	u.submit("#add-tea")
	u.cartCount("2")
	u.visit("/cart")
	u.cartCount("2")
	u.sees("Green tea\t€3.50\t1", "Croissant\t€1.80\t1")
	u.shot("cart")

	u.visit("/sessions")
	u.sees("cannot list where you are logged in")
	u.visit("/api")
	u.sees("so it has no API")
	u.shot("no-api")

	u.visit("/members")
	u.submit("#logout")
	u.at("/")
	u.sees("You have been logged out.", "Hello, stranger!")
	u.cartCount("0")
	u.visit("/members")
	u.at("/login")
	u.shot("logged-out")
}

func userFlow(t *testing.T, u *user) {
	u.visit("/members")
	u.at("/login")
	u.sees("Please log in to see the members' page.")
	u.shot("members-denied")

	u.fill("#username", "demo")
	u.fill("#password", "not-the-password")
	u.submit("#login")
	u.at("/login")
	u.sees("Wrong username or password. 4 attempts left.")
	u.doesNotSee("Please log in")
	u.shot("login-wrong")

	u.visit("/login")
	u.doesNotSee("Wrong username", "Please log in")

	u.fill("#username", "demo")
	u.fill("#password", "demo")
	u.check("#remember")
	u.submit("#login")
	u.at("/members")
	u.sees("Welcome back!", "Members only", "You are signed in as demo")
	u.shot("login-right")

	u.visit("/members")
	u.sees("Members only")
	u.doesNotSee("Welcome back!")

	u.visit("/sessions")
	u.sees("Your sessions", "Chrome on Linux This device\tjust now\tjust now", "This is your only session.")
	u.rows("#sessions tbody tr", 1)
	u.shot("sessions")

	u.visit("/")
	u.sees("Hello, demo!")
	u.submit("#add-special")
	u.at("/cart")
	u.sees("Croissant added to your cart.")
	u.cartCount("1")
	u.submit("#add-tea")
	u.submit("#more-tea")
	u.submit("#add-jam")
	u.submit("#remove-jam")
	u.cartCount("3")
	u.sees("Green tea\t€3.50\t2", "Croissant\t€1.80\t1")
	u.doesNotSee("Apricot jam\t")
	u.shot("cart-filled")

	u.visit("/members")
	u.sees("Your cart holds 3 items.")
	u.visit("/cart")
	u.cartCount("3")
	u.sees("Green tea\t€3.50\t2", "Croissant\t€1.80\t1")
	u.doesNotSee("added to your cart")

	u.visit("/")
	u.sees("Hello, demo!", `"tea": 2`)
	u.shot("home")
	u.submit("#theme-dark")
	u.at("/")
	u.sees("Current theme: dark")
	u.background("rgb(20, 23, 28)")
	u.shot("theme-dark")
	u.visit("/cart")
	u.background("rgb(20, 23, 28)")

	u.visit("/members")
	u.submit("#logout")
	u.at("/")
	u.sees("You have been logged out.", "Hello, stranger!", "Current theme: dark") // the app keeps the theme
	u.cartCount("0")
	u.shot("logged-out")

	// Back to the members' page: no-store makes the browser ask again, and
	// the server sends it to the login page.
	u.back()
	u.at("/login")
	u.sees("Please log in to see the members' page.")
	u.doesNotSee("Members only", "signed in as")
	u.shot("back-after-logout")
}

// TestBrowserLockoutAndForgedForm shows the pages a user meets when things
// go wrong: a login locked after five wrong passwords, and a form whose CSRF
// token was tampered with.
func TestBrowserLockoutAndForgedForm(t *testing.T) {
	u := newUser(t, newBrowser(t), startApp(t, nil))
	u.visit("/login")
	for range 5 {
		u.fill("#username", "demo")
		u.fill("#password", "guess")
		u.submit("#login")
	}
	u.sees("Wrong username or password.", "login is locked for this session for 60 more seconds")
	if disabled := u.eval("the button", `String(document.querySelector("#login").disabled)`); disabled != "true" {
		u.fail("the login button is not disabled")
	}
	u.shot("locked")

	u.visit("/")
	u.run("forge the token", chromedp.SetValue(chromedp.CSS(`form[action="/cart/add"] input[name="csrf_token"]`), "forged"))
	u.submitFor("#add-special", 403)
	u.sees("This form has expired or did not come from this site.")
	u.shot("forged-form")
	u.visit("/")
	u.cartCount("0")
}

// TestBrowserSessions signs other devices out from the sessions page: two
// more devices (plain HTTP clients) log in as demo next to the browser.
func TestBrowserSessions(t *testing.T) {
	app := startApp(t, nil)
	firefox := loginElsewhere(t, app, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0")
	iphone := loginElsewhere(t, app, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")

	u := newUser(t, newBrowser(t), app)
	u.visit("/login")
	u.fill("#username", "demo")
	u.fill("#password", "demo")
	u.submit("#login")
	u.visit("/sessions")
	u.rows("#sessions tbody tr", 3)
	u.sees("Chrome on Linux", "This device", "Firefox on Windows", "Safari on iPhone", "Log out everywhere else")
	u.shot("three-devices")

	u.submit(`button[aria-label="Sign out Safari on iPhone"]`)
	u.at("/sessions")
	u.sees("Signed out Safari on iPhone.", "Firefox on Windows")
	u.rows("#sessions tbody tr", 2)
	if iphone.loggedIn() {
		u.fail("the iPhone is still logged in after being signed out")
	}
	if !firefox.loggedIn() {
		u.fail("signing out the iPhone signed out Firefox too")
	}
	u.shot("signed-out-one")

	u.submit("#revoke-others")
	u.sees("Signed out 1 other session.", "This is your only session.")
	u.rows("#sessions tbody tr", 1)
	if firefox.loggedIn() {
		u.fail("Firefox is still logged in after 'log out everywhere else'")
	}
	u.shot("only-this-device")
	u.visit("/members")
	u.sees("Members only")
}

// device is another device of the user's, a plain HTTP client with its own
// cookies and User-Agent.
type device struct {
	t      *testing.T
	base   string
	agent  string
	client *http.Client
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginElsewhere logs demo in on a device of its own.
func loginElsewhere(t *testing.T, base, agent string) *device {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &device{t: t, base: base, agent: agent, client: &http.Client{Jar: jar, Timeout: stepTimeout}}
	m := csrfField.FindStringSubmatch(d.get("/login"))
	if m == nil {
		t.Fatal("the login page has no CSRF token")
	}
	form := url.Values{"csrf_token": {m[1]}, "username": {"demo"}, "password": {"demo"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	d.do(req)
	if !d.loggedIn() {
		t.Fatalf("logging in with %q failed", agent)
	}
	return d
}

// loggedIn says whether the members' page opens, or sends the device to
// the login page.
func (d *device) loggedIn() bool {
	d.t.Helper()
	return strings.Contains(d.get("/members"), "Members only")
}

func (d *device) get(path string) string {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.base+path, nil)
	return d.do(req)
}

func (d *device) do(req *http.Request) string {
	d.t.Helper()
	req.Header.Set("User-Agent", d.agent)
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return string(body)
}

// user is a person at the browser. Each method is one bounded step; a step
// that fails saves a screenshot of what the user saw and ends the test.
type user struct {
	t     *testing.T
	ctx   context.Context
	apps  []string // the app's instances, taken in turn by visit
	next  int
	shots string
	n     int
}

const stepTimeout = 15 * time.Second

func newUser(t *testing.T, ctx context.Context, apps ...string) *user {
	dir := filepath.Join("screenshots", t.Name())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &user{t: t, ctx: ctx, apps: apps, shots: dir}
}

func (u *user) run(what string, action chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, action); err != nil {
		u.fail("%s: %v", what, err)
	}
}

func (u *user) fail(format string, args ...any) {
	u.t.Helper()
	u.shot("FAILED")
	u.t.Fatalf(format, args...)
}

// visit opens path on the next instance of the app.
func (u *user) visit(path string) {
	u.t.Helper()
	base := u.apps[u.next%len(u.apps)]
	u.next++
	u.run("open "+base+path, chromedp.Navigate(base+path))
}

// submit clicks a form's button and waits for the page it leads to, which
// must come with status 200 (after any redirect).
func (u *user) submit(button string) {
	u.t.Helper()
	u.submitFor(button, 200)
}

func (u *user) submitFor(button string, status int64) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		u.fail("click %s: %v", button, err)
	}
	if resp.Status != status {
		u.fail("click %s: the page came with status %d, want %d", button, resp.Status, status)
	}
}

func (u *user) fill(field, text string) {
	u.t.Helper()
	u.run("type into "+field, chromedp.SendKeys(chromedp.CSS(field), text))
}

func (u *user) check(box string) {
	u.t.Helper()
	u.run("tick "+box, chromedp.Click(chromedp.CSS(box)))
}

func (u *user) back() {
	u.t.Helper()
	u.run("go back", chromedp.NavigateBack())
}

func (u *user) eval(what, js string) string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		u.fail("reading %s: %v", what, err)
	}
	return s
}

// at checks the path of the page the browser shows.
func (u *user) at(path string) {
	u.t.Helper()
	if got := u.eval("the location", "location.pathname"); got != path {
		u.fail("the browser is at %s, want %s", got, path)
	}
}

// sees checks that each text is on the page, as the user reads it
// (innerText: table cells are separated by tabs).
func (u *user) sees(texts ...string) {
	u.t.Helper()
	page := u.eval("the page", "document.body.innerText")
	for _, s := range texts {
		if !strings.Contains(page, s) {
			u.fail("the page does not show %q; it shows:\n%s", s, page)
		}
	}
}

func (u *user) doesNotSee(texts ...string) {
	u.t.Helper()
	page := u.eval("the page", "document.body.innerText")
	for _, s := range texts {
		if strings.Contains(page, s) {
			u.fail("the page shows %q and should not; it shows:\n%s", s, page)
		}
	}
}

// rows checks how many elements match selector.
func (u *user) rows(selector string, want int) {
	u.t.Helper()
	got := u.eval("the rows", fmt.Sprintf("String(document.querySelectorAll(%q).length)", selector))
	if got != strconv.Itoa(want) {
		u.fail("the page has %s rows of %s, want %d", got, selector, want)
	}
}

func (u *user) cartCount(want string) {
	u.t.Helper()
	if got := u.eval("the cart badge", `document.querySelector("#cart-count").innerText`); got != want {
		u.fail("the cart badge shows %q, want %q", got, want)
	}
}

// background checks the page's background colour, to see the theme applied.
func (u *user) background(want string) {
	u.t.Helper()
	if got := u.eval("the background", "getComputedStyle(document.body).backgroundColor"); got != want {
		u.fail("the page background is %s, want %s", got, want)
	}
}

// shot saves what the user sees as screenshots/<test>/<nn>-<name>.png and
// returns the file's name.
func (u *user) shot(name string) string {
	u.t.Helper()
	u.n++
	ctx, cancel := context.WithTimeout(u.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		u.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	file := filepath.Join(u.shots, fmt.Sprintf("%02d-%s.png", u.n, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		u.t.Error(err)
	}
	return file
}
