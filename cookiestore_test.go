package scsession

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

var storeKey, oldStoreKey = bytes.Repeat([]byte("k"), 32), bytes.Repeat([]byte("q"), 32)

// cookieApp serves userApp, with the cookie store, on sm (nil: scs's
// defaults), plus pages for flashes, renewal and logout.
func cookieApp(t *testing.T, sm *scs.SessionManager, opts ...Option) (string, *Manager[user]) {
	if sm == nil {
		sm = scs.New()
	}
	m := New[user](sm, append([]Option{WithCookieStore(storeKey), WithLogger(discard)}, opts...)...)
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) { m.Flash(r.Context(), "info", r.FormValue("msg")) })
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, m.Flashes(r.Context())) })
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) { m.RenewToken(r.Context()) })
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) { m.Destroy(r.Context()) })
	mux.HandleFunc("POST /big", func(w http.ResponseWriter, r *http.Request) {
		n := len(r.FormValue("n"))
		if err := m.Update(r.Context(), func(u *user) { u.Name = randomText(n * 1000) }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return serve(t, m, mux), m
}

// randomText is n characters that do not compress.
func randomText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7919%251) ^ byte(i>>8*31)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func TestCookieStoreKeepsTheSessionInTheCookie(t *testing.T) {
	sm := scs.New()
	sm.Store = &countingStore{} // any call would panic: the store is never touched
	url, _ := cookieApp(t, sm)
	c := newClient(t)
	c.Post(url + "/login?id=7&name=ann")
	c.Post(url + "/add?item=tea")
	if got := c.Get(url + "/get").Body; got != "id=7 name=ann cart=[tea] prefs=map[last:tea]" {
		t.Fatalf("got %q", got)
	}
	if r := c.Get(url + "/get"); len(r.Header.Values("Set-Cookie")) > 0 {
		t.Fatal("a request that only reads sealed the cookie again")
	}
	cookie := c.Cookie(url)
	raw, _ := base64.RawURLEncoding.DecodeString(cookie)
	if strings.Contains(cookie, "ann") || bytes.Contains(raw, []byte("ann")) || bytes.Contains(raw, []byte("tea")) {
		t.Fatal("the cookie reveals the session's data")
	}

	c.Post(url + "/flash?msg=hello")
	if got := c.Get(url + "/flashes").Body; got != "[{info hello}]" {
		t.Fatalf("flashes: %q", got)
	}
	if got := c.Get(url + "/flashes").Body; got != "[]" {
		t.Fatalf("a shown flash showed again: %q", got)
	}

	// RenewToken seals anew: a copy of the cookie taken before no longer
	// carries what the session holds after.
	before := c.Cookie(url)
	c.Post(url + "/renew")
	c.Post(url + "/add?item=jam")
	if c.Cookie(url) == before {
		t.Fatal("RenewToken kept the seal")
	}
	if got := c.Replay(http.MethodGet, url+"/get", before).Body; strings.Contains(got, "jam") {
		t.Fatalf("the cookie from before the renewal reads %q", got)
	}

	r := c.Post(url + "/logout")
	if got := c.Get(url + "/get").Body; got != "id=0 name= cart=[] prefs=map[]" {
		t.Fatalf("after Destroy: %q", got)
	}
	if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "session=; ") {
		t.Fatalf("Destroy did not expire the cookie: %q", r.Header.Values("Set-Cookie"))
	}
}

func TestCookieStoreRefusesWhatNeedsAServerStore(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"user index", []Option{WithCookieStore(storeKey), WithUserID(byName)}, "WithUserID needs a server-side store"},
		{"header tokens", []Option{WithCookieStore(storeKey), WithTokenHeader("Authorization")}, "WithTokenHeader needs a server-side store"},
		{"short key", []Option{WithCookieStore([]byte("short"))}, "cookie store key 0 is 5 bytes"},
		{"no key", []Option{WithCookieStore()}, "needs at least one key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if msg := fmt.Sprint(recover()); !strings.Contains(msg, tt.want) {
					t.Fatalf("panic %q, want %q", msg, tt.want)
				}
			}()
			New[user](nil, tt.opts...)
		})
	}
}

func TestCookieStoreRotation(t *testing.T) {
	url := func(keys ...[]byte) string {
		m := New[user](scs.New(), WithCookieStore(keys...), WithLogger(discard))
		return serve(t, m, userApp(m))
	}
	old, rotating, current := url(oldStoreKey), url(storeKey, oldStoreKey), url(storeKey)
	c := newClient(t)
	c.Post(old + "/add?item=tea")
	sealedOld := c.Cookie(old)
	if got := c.Get(rotating + "/get").Body; !strings.Contains(got, "cart=[tea]") {
		t.Fatalf("the rotating server did not open the old key's cookie: %q", got)
	}
	if c.Cookie(rotating) == sealedOld {
		t.Fatal("a cookie sealed with an older key was not sealed again with the first")
	}
	if got := c.Get(current + "/get").Body; !strings.Contains(got, "cart=[tea]") {
		t.Fatalf("after the reseal the new key alone reads %q", got)
	}
	if got := c.Replay(http.MethodGet, current+"/get", sealedOld).Body; strings.Contains(got, "tea") {
		t.Fatal("a cookie sealed with a key no longer listed opened")
	}
}

func TestCookieStoreTamperingGivesAFreshSession(t *testing.T) {
	var events []Event
	sm := scs.New()
	m := New[user](sm, WithCookieStore(storeKey), WithLogger(discard), WithEvents(func(_ context.Context, e Event) { events = append(events, e) }))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	good := c.Cookie(url)
	for i := range len(good) {
		for _, shift := range []int{1, 2, 32} { // another base64url character
			bad := []byte(good)
			bad[i] = b64url[(strings.IndexByte(b64url, bad[i])+shift)%len(b64url)]
			events = nil
			r := c.Replay(http.MethodGet, url+"/get", string(bad))
			if r.Status != http.StatusOK || strings.Contains(r.Body, "tea") {
				t.Fatalf("cookie changed at %d: %d %q, want a fresh session", i, r.Status, r.Body)
			}
			if len(events) == 0 || events[0].Kind != EventRejected {
				t.Fatalf("cookie changed at %d: events %v, want EventRejected", i, events)
			}
		}
	}
	for n := range len(good) {
		if r := c.Replay(http.MethodGet, url+"/get", good[:n]); strings.Contains(r.Body, "tea") || r.Status != http.StatusOK {
			t.Fatalf("cookie cut to %d characters: %d %q", n, r.Status, r.Body)
		}
	}
}

func TestCookieStoreExpiresFromInside(t *testing.T) {
	sm := scs.New()
	sm.Lifetime = time.Hour
	sm.IdleTimeout = 100 * time.Millisecond
	url, _ := cookieApp(t, sm, WithIdleRefresh(10*time.Millisecond))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	kept := c.Cookie(url) // a client that ignores Expires keeps sending this
	for range 3 {
		time.Sleep(40 * time.Millisecond)
		if got := c.Get(url + "/get").Body; !strings.Contains(got, "tea") {
			t.Fatalf("a session in use expired: %q", got)
		}
	}
	time.Sleep(150 * time.Millisecond)
	if got := c.Replay(http.MethodGet, url+"/get", kept).Body; strings.Contains(got, "tea") {
		t.Fatal("a cookie past its idle timeout still opened")
	}

	sm = scs.New()
	sm.Lifetime = 100 * time.Millisecond
	url, _ = cookieApp(t, sm)
	c = newClient(t)
	c.Post(url + "/add?item=jam")
	kept = c.Cookie(url)
	time.Sleep(150 * time.Millisecond)
	if got := c.Replay(http.MethodGet, url+"/get", kept).Body; strings.Contains(got, "jam") {
		t.Fatal("a cookie past its lifetime still opened")
	}
}

func TestCookieStoreSpreadsLargeSessionsAndRefusesTooLarge(t *testing.T) {
	url, _ := cookieApp(t, nil)
	c := newClient(t)
	r := c.Post(url + "/big?n=" + strings.Repeat("x", 6)) // 6,000 random characters: two chunks
	names := cookieNames(r)
	if r.Status != http.StatusOK || !strings.Contains(names, "session ") || !strings.Contains(names, "session.1 ") {
		t.Fatalf("a 6 KB session: %d, cookies %q; want session and session.1", r.Status, names)
	}
	for _, line := range r.Header.Values("Set-Cookie") {
		if len(line) > 4096 {
			t.Fatalf("a Set-Cookie of %d bytes: browsers drop it", len(line))
		}
	}
	if got := c.Get(url + "/get").Body; len(got) < 6000 {
		t.Fatalf("the spread session read back %d bytes", len(got))
	}

	r = c.Post(url + "/big?n=" + strings.Repeat("x", 20)) // 20,000: beyond 5 chunks
	if r.Status != http.StatusInternalServerError || len(r.Header.Values("Set-Cookie")) > 0 {
		t.Fatalf("a 20 KB session: %d, cookies %q; want the ErrorFunc's 500 and no cookie", r.Status, cookieNames(r))
	}
	if got := c.Get(url + "/get").Body; len(got) < 6000 {
		t.Fatal("the failed save lost the session the client had")
	}

	r = c.Post(url + "/logout")
	if names := cookieNames(r); !strings.Contains(names, "session=") || !strings.Contains(names, "session.1=") {
		t.Fatalf("Destroy expired %q, want every chunk", names)
	}
}

// cookieNames lists the cookies a response sets, expired ones as "name=".
func cookieNames(r response) string {
	var names []string
	for _, line := range r.Header.Values("Set-Cookie") {
		name, value, _ := strings.Cut(strings.Split(line, ";")[0], "=")
		if value == "" {
			name += "="
		}
		names = append(names, name)
	}
	return strings.Join(names, " ") + " "
}

// jarClient is a browser whose requests can be sent with an older Cookie
// header (as two tabs' requests in flight are) and whose responses are
// applied to its jar in the order they arrive.
type jarClient struct {
	t   *testing.T
	jar *cookiejar.Jar
	u   *url.URL
}

func (c *jarClient) cookieHeader() string {
	var parts []string
	for _, ck := range c.jar.Cookies(c.u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

func (c *jarClient) send(method, path, cookie string) *http.Response {
	req, _ := http.NewRequest(method, c.u.String()+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (c *jarClient) apply(resp *http.Response) { c.jar.SetCookies(c.u, resp.Cookies()) }

// Two requests of one browser in flight at once, both sent with a
// one-chunk session: one grows the session to two chunks, the other changes
// it a little. With a cookie store the last response wins: the browser is
// left with the small response's "session" and the large one's "session.1",
// a leftover the small session ignores (it used to be rejected, logging the
// user out).
func TestCookieStoreConcurrentGrowthKeepsTheLastResponse(t *testing.T) {
	events := &eventLog{}
	base, _ := cookieApp(t, nil, events.option())
	jar, _ := cookiejar.New(nil)
	pu, _ := url.Parse(base)
	c := &jarClient{t: t, jar: jar, u: pu}
	c.apply(c.send(http.MethodPost, "/login?id=7&name=ann", ""))
	before := c.cookieHeader()

	big := c.send(http.MethodPost, "/big?n=xxxxxx", before) // 6,000 characters: two chunks
	small := c.send(http.MethodPost, "/add?item=tea", before)
	if len(big.Cookies()) != 2 {
		t.Fatalf("the large save set %d cookies, want 2", len(big.Cookies()))
	}
	c.apply(big) // the large response arrives first,
	c.apply(small)
	req, _ := http.NewRequest(http.MethodGet, base+"/get", nil)
	req.Header.Set("Cookie", c.cookieHeader())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if got := string(b); !strings.Contains(got, "name=ann") {
		t.Fatalf("after two concurrent saves the session reads %q (events:\n%s); want ann's session, the last response's", got, events)
	}
}
