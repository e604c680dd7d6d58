package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
)

// apiClient is a program using the API: an http.Client with no cookie jar,
// which keeps the token it was last sent and carries it in the header.
type apiClient struct {
	t      *testing.T
	base   string
	client *http.Client
	token  string
	addr   string // the client address the app sees (startAppWithAddrs)
}

func newAPIClient(t *testing.T, base string) *apiClient {
	return &apiClient{t: t, base: base, client: &http.Client{Timeout: 10 * time.Second}}
}

// answer is what the API sent back.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

// decode reads the answer's JSON into v.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if ct := a.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %q", ct, a.Body)
	}
	if err := json.Unmarshal([]byte(a.Body), v); err != nil {
		t.Fatalf("%v: %q", err, a.Body)
	}
}

// error is the message of an error answer, after checking its status.
func (a answer) error(t *testing.T, status int) string {
	t.Helper()
	if a.Status != status {
		t.Fatalf("got %d %q, want %d", a.Status, a.Body, status)
	}
	var e apiError
	a.decode(t, &e)
	if e.Error == "" {
		t.Fatalf("an error without a message: %q", a.Body)
	}
	return e.Error
}

// do sends body (a string of JSON, or url.Values as a form) with the
// client's token, if it has one.
func (c *apiClient) do(method, path string, body any) answer {
	c.t.Helper()
	var r io.Reader
	var ctype string
	switch b := body.(type) {
	case string:
		r, ctype = strings.NewReader(b), "application/json"
	case url.Values:
		r, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.addr != "" {
		req.Header.Set(testAddrHeader, c.addr)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" && len(resp.Header.Values("Set-Cookie")) > 0 {
		c.t.Errorf("%s %s with the token header was sent a cookie: %q", method, path, resp.Header.Values("Set-Cookie"))
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// login logs in as demo and keeps the token.
func (c *apiClient) login() {
	c.t.Helper()
	a := c.do(http.MethodPost, "/api/login", `{"username":"demo","password":"demo"}`)
	if a.Status != http.StatusOK {
		c.t.Fatalf("login: got %d %q", a.Status, a.Body)
	}
	var got struct{ Token string }
	a.decode(c.t, &got)
	if got.Token == "" {
		c.t.Fatalf("login answered no token: %q", a.Body)
	}
	c.token = got.Token
}

// cart reads the cart, which must be there.
func (c *apiClient) cart() apiCartBody {
	c.t.Helper()
	a := c.do(http.MethodGet, "/api/cart", nil)
	if a.Status != http.StatusOK {
		c.t.Fatalf("GET /api/cart: got %d %q", a.Status, a.Body)
	}
	var cart apiCartBody
	a.decode(c.t, &cart)
	return cart
}

func (c apiCartBody) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", c.User)
	for _, it := range c.Items {
		fmt.Fprintf(&b, " %s=%d", it.ID, it.Quantity)
	}
	fmt.Fprintf(&b, " (%d)", c.Count)
	return b.String()
}

func TestAPIClientLogsInShopsAndLogsOut(t *testing.T) {
	c := newAPIClient(t, startApp(t, config{}).URL)
	if msg := c.do(http.MethodGet, "/api/cart", nil).error(t, http.StatusUnauthorized); !strings.Contains(msg, "Authorization: Bearer") {
		t.Errorf("without a token: %q, want it to say how to send one", msg)
	}
	c.login()

	a := c.do(http.MethodPost, "/api/cart", `{"item":"tea"}`)
	var cart apiCartBody
	a.decode(t, &cart)
	if got := cart.String(); got != "demo: tea=1 (1)" {
		t.Errorf("after adding tea: %s", got)
	}
	if v, ok := a.Header["Authorization"]; ok {
		t.Errorf("the token did not change, but the answer carries Authorization %q", v)
	}
	c.do(http.MethodPost, "/api/cart", url.Values{"item": {"croissant"}}) // form values work too
	c.do(http.MethodPost, "/api/cart", `{"item":"tea"}`)
	if got := c.cart().String(); got != "demo: tea=2 croissant=1 (3)" {
		t.Errorf("the cart read back: %s", got)
	}
	if msg := c.do(http.MethodPost, "/api/cart", `{"item":"caviar"}`).error(t, http.StatusBadRequest); !strings.Contains(msg, "tea, coffee") {
		t.Errorf("an unknown item: %q, want the list of items", msg)
	}
	c.do(http.MethodPost, "/api/cart", `["tea"]`).error(t, http.StatusBadRequest)

	a = c.do(http.MethodPost, "/api/logout", nil)
	if a.Status != http.StatusOK {
		t.Fatalf("logout: got %d %q", a.Status, a.Body)
	}
	if v, ok := a.Header["Authorization"]; !ok || v[0] != "" {
		t.Errorf("after logout the Authorization header is %q, want an empty one telling the client to drop its token", v)
	}
	if msg := c.do(http.MethodGet, "/api/cart", nil).error(t, http.StatusUnauthorized); !strings.Contains(msg, "log in again") {
		t.Errorf("the token after logout: %q", msg)
	}
	c.do(http.MethodPost, "/api/logout", nil).error(t, http.StatusUnauthorized)
}

func TestAPITokenInTheURLIsNotAccepted(t *testing.T) {
	c := newAPIClient(t, startApp(t, config{}).URL)
	c.login()
	c.do(http.MethodPost, "/api/cart", `{"item":"jam"}`)
	token := c.token
	c.token = ""
	for _, q := range []string{"token", "access_token", "session", "Authorization"} {
		path := "/api/cart?" + q + "=" + url.QueryEscape(token)
		c.do(http.MethodGet, path, nil).error(t, http.StatusUnauthorized)
		c.do(http.MethodGet, "/api/cart?"+q+"="+url.QueryEscape("Bearer "+token), nil).error(t, http.StatusUnauthorized)
	}
	c.token = token
	if got := c.cart().String(); got != "demo: jam=1 (1)" {
		t.Errorf("the header still works: %s", got)
	}
}

// TestAPITokenRotatesWithTheSigningKeys is a rolling change of key: an
// instance that signs with a new key answers a token signed with the old
// one with the same token signed anew, in the Authorization header.
func TestAPITokenRotatesWithTheSigningKeys(t *testing.T) {
	store := memstore.New() // shared, as a Redis would be
	oldKey, newKey := []byte("old-key-0123456789abcdefghijklmn"), []byte("new-key-0123456789abcdefghijklmn")
	old := startApp(t, config{Store: store, Keys: [][]byte{oldKey}})
	rotated := startApp(t, config{Store: store, Keys: [][]byte{newKey, oldKey}})

	c := newAPIClient(t, old.URL)
	c.login()
	c.do(http.MethodPost, "/api/cart", `{"item":"coffee"}`)
	signedOld := c.token
	c.base = rotated.URL
	a := c.do(http.MethodGet, "/api/cart", nil)
	renewed, ok := strings.CutPrefix(a.Header.Get("Authorization"), "Bearer ")
	id, _, _ := strings.Cut(signedOld, ".")
	if !ok || renewed == signedOld || !strings.HasPrefix(renewed, id+".") {
		t.Fatalf("the rotated instance answered Authorization %q to %q; want Bearer and the same token, signed with the new key", a.Header.Get("Authorization"), signedOld)
	}
	c.token = renewed
	if got := c.cart().String(); got != "demo: coffee=1 (1)" {
		t.Errorf("with the re-signed token: %s", got)
	}
	c.base = old.URL // the old instance does not know the new key
	c.do(http.MethodGet, "/api/cart", nil).error(t, http.StatusUnauthorized)
}

func TestAPILoginRefusesWrongPasswords(t *testing.T) {
	c := newAPIClient(t, startApp(t, config{}).URL)
	for _, body := range []any{
		`{"username":"demo","password":"guess"}`,
		`{"username":"demo"}`,
		url.Values{"username": {"demo"}, "password": {"Demo"}},
	} {
		a := c.do(http.MethodPost, "/api/login", body)
		if msg := a.error(t, http.StatusUnauthorized); msg != "Wrong username or password." {
			t.Errorf("%v: %q", body, msg)
		}
		if c := a.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("a failed login saved a session: %q", c)
		}
	}
	c.do(http.MethodPost, "/api/login", `{"username":`).error(t, http.StatusBadRequest)
	a := c.do(http.MethodPost, "/api/login", url.Values{"username": {"demo"}, "password": {"demo"}})
	if a.Status != http.StatusOK || !strings.Contains(a.Body, `"token":`) {
		t.Errorf("a login with form values: %d %q", a.Status, a.Body)
	}
}

// TestAPILoginIsThrottledWithTheForms: the API's failures count against
// the same account and address limits as the login form's, both ways.
func TestAPILoginIsThrottledWithTheForms(t *testing.T) {
	base := startAppWithAddrs(t, config{})
	t.Run("account", func(t *testing.T) {
		for i := range accountFailures - 1 {
			c := newAPIClient(t, base.URL)
			c.addr = fmt.Sprintf("192.0.2.%d:1234", i+1)
			c.do(http.MethodPost, "/api/login", `{"username":"demo","password":"guess"}`).error(t, http.StatusUnauthorized)
		}
		b := freshBrowser(t, base.URL, "192.0.2.100:1234")
		loginAs(t, b, "demo", "guess") // the tenth, by the form
		b.get("/login").has(t, "Too many failed attempts for this account")

		c := newAPIClient(t, base.URL)
		c.addr = "198.51.100.7:1234"
		a := c.do(http.MethodPost, "/api/login", `{"username":"demo","password":"demo"}`)
		if msg := a.error(t, http.StatusTooManyRequests); !strings.Contains(msg, "for this account") {
			t.Errorf("the right password on a locked account: %q", msg)
		}
		if s := a.Header.Get("Retry-After"); s != fmt.Sprint(int(accountLockout.Seconds())) {
			t.Errorf("Retry-After %q, want %v in seconds", s, accountLockout)
		}
	})
	t.Run("address", func(t *testing.T) {
		c := newAPIClient(t, base.URL)
		c.addr = "203.0.113.9:1234"
		for i := range addrFailures {
			c.do(http.MethodPost, "/api/login", fmt.Sprintf(`{"username":"user%d","password":"guess"}`, i)).error(t, http.StatusUnauthorized)
		}
		if msg := c.do(http.MethodPost, "/api/login", `{"username":"other","password":"x"}`).error(t, http.StatusTooManyRequests); !strings.Contains(msg, "network address") {
			t.Errorf("from a locked address: %q", msg)
		}
		b := freshBrowser(t, base.URL, c.addr)
		b.get("/login").has(t, "login is locked")
	})
}

// TestAPINeedsNoCSRFTokenWithTheHeader: a request with the bearer token
// needs no CSRF token, and CrossOriginProtection lets a program through.
// One with the browser's cookie alone does not get past the CSRF check, and
// with the CSRF token it gets a 401: the API takes the header only.
func TestAPINeedsNoCSRFTokenWithTheHeader(t *testing.T) {
	base := startApp(t, config{}).URL
	b := newBrowser(t, base)
	login(t, b, "demo").redirectsTo(t, "/members")
	b.get("/cart")

	// The browser's cookie alone, as a forged cross-site form would send it.
	for _, tc := range []struct {
		name   string
		form   []string
		status int
	}{
		{"without the CSRF token", []string{"csrf_token", "", "item", "tea"}, http.StatusForbidden},
		{"with a wrong one", []string{"csrf_token", "forged", "item", "tea"}, http.StatusForbidden},
		{"with the CSRF token", []string{"item", "tea"}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/cart", "/api/logout", "/api/login"} {
				p := b.post(path, append(tc.form, "username", "demo", "password", "demo")...)
				want := tc.status
				if path == "/api/login" && want == http.StatusUnauthorized {
					want = http.StatusOK // a same-site login: the cookie's session logs in again
				}
				if p.Status != want {
					t.Errorf("POST %s with the cookie %s: got %d %q, want %d", path, tc.name, p.Status, p.Body, want)
				}
			}
		})
	}
	b.get("/cart").has(t, `id="cart-count">0<`, "Log out demo") // the cookie kept up to date

	// The header, from a program, and from the browser beside its cookie.
	c := newAPIClient(t, base)
	c.login()
	c.do(http.MethodPost, "/api/cart", `{"item":"jam"}`)
	b.header = http.Header{"Authorization": {"Bearer " + c.token}}
	p := b.post("/api/cart", "csrf_token", "", "item", "tea")
	b.header = nil
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `"jam"`) || !strings.Contains(p.Body, `"tea"`) {
		t.Errorf("with the header and no CSRF token: %d %q, want the header's cart, with tea added", p.Status, p.Body)
	}
	b.get("/cart").has(t, `id="cart-count">0<`)
	if got := c.cart().String(); got != "demo: tea=1 jam=1 (2)" {
		t.Errorf("the program's cart: %s", got)
	}

	// A browser that says the request came from another site is refused,
	// header or not: the API answers no CORS preflight, so no page of
	// another site can send the header anyway.
	b.header = http.Header{"Authorization": {"Bearer " + c.token}, "Sec-Fetch-Site": {"cross-site"}}
	p = b.post("/api/cart", "item", "tea")
	b.header = nil
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, `"error"`) {
		t.Errorf("a cross-site request: %d %q, want a 403 JSON error", p.Status, p.Body)
	}
}

// TestAPILoginFromANewClientNeedsNoCSRFToken: a client that has never been
// shown a page has no CSRF token to send, and no session to protect.
func TestAPILoginFromANewClientNeedsNoCSRFToken(t *testing.T) {
	base := startApp(t, config{})
	b := newBrowser(t, base.URL)
	p := b.post("/api/login", "csrf_token", "", "username", "demo", "password", "demo")
	if p.Status != http.StatusOK {
		t.Fatalf("got %d %q", p.Status, p.Body)
	}
	// Once it has been shown a page, it is a browser with a session: a login
	// must carry the CSRF token, against login CSRF.
	b = newBrowser(t, base.URL)
	b.get("/")
	if p := b.post("/api/login", "csrf_token", "", "username", "demo", "password", "demo"); p.Status != http.StatusForbidden {
		t.Fatalf("a login with a session's cookie but no CSRF token: got %d %q", p.Status, p.Body)
	}
}

func TestAPIPageShowsCurl(t *testing.T) {
	srv := startApp(t, config{})
	b := newBrowser(t, srv.URL)
	p := b.get("/")
	p.has(t, `<a href="/api" id="api-link">`)
	p = b.get("/api")
	p.has(t, "curl -s "+srv.URL+"/api/login", `/api/cart -H "Authorization: Bearer $TOKEN"`, "-X POST "+srv.URL+"/api/logout", "<code>croissant</code>")
	p.hasNot(t, "api-unavailable")
}

func TestAPIUnknownEndpoint(t *testing.T) {
	c := newAPIClient(t, startApp(t, config{}).URL)
	c.do(http.MethodGet, "/api/nothing", nil).error(t, http.StatusNotFound)
}

// The example asks the library (ViaHeader) whether the
// token came in the header, so its CSRF rule cannot drift from
// headerToken's: whatever the library takes as the header token skips the
// CSRF check, and whatever it does not (another scheme, no space) leaves
// the request to the cookie and so to the CSRF check. A cookie alone,
// without the CSRF token and with no Origin or Sec-Fetch-Site (a browser
// too old for CrossOriginProtection), changes nothing through the API.
func TestCookieNeverDrivesTheAPIWithoutCSRF(t *testing.T) {
	base := startApp(t, config{}).URL
	b := newBrowser(t, base)
	login(t, b, "demo").redirectsTo(t, "/members")
	b.get("/cart")
	cookie := b.cookie()

	for _, auth := range []string{"", "Basic ZGVtbzpkZW1v", "Bearer", "Bearertoken", "Token abc"} {
		for _, path := range []string{"/api/login", "/api/cart", "/api/logout"} {
			b.header = nil
			if auth != "" {
				b.header = http.Header{"Authorization": {auth}}
			}
			p := b.post(path, "csrf_token", "", "item", "tea", "username", "demo", "password", "demo")
			if p.Status != http.StatusForbidden {
				t.Errorf("POST %s with the cookie, Authorization %q and no CSRF token: %d %q, want 403", path, auth, p.Status, p.Body)
			}
		}
	}
	b.header = nil
	if b.cookie() != cookie {
		t.Errorf("the cookie changed")
	}
	b.get("/cart").has(t, `id="cart-count">0<`)
	b.get("/members").has(t, "demo")

	// What the library takes as the header, in any case of "Bearer", is the
	// header's session: never the cookie's, so it needs no CSRF token and
	// cannot reach the cookie's session.
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER  "} {
		b.header = http.Header{"Authorization": {scheme + "not-a-token"}}
		p := b.post("/api/cart", "csrf_token", "", "item", "tea")
		b.header = nil
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "not a logged-in session") {
			t.Errorf("Authorization %q beside the cookie: %d %q, want 401 for the header's (empty) session", scheme, p.Status, p.Body)
		}
	}
	b.get("/cart").has(t, `id="cart-count">0<`)
}
