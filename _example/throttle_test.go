package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testAddrHeader carries the client address a test browser pretends to
// have; only startAppWithAddrs reads it, never the app.
const testAddrHeader = "X-Test-Remote-Addr"

// startAppWithAddrs is startApp behind a stand-in for the network: a request's
// RemoteAddr is what its browser's addr says, so that one test can log in
// from many addresses.
func startAppWithAddrs(t *testing.T, cfg config) *httptest.Server {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	a, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if addr := r.Header.Get(testAddrHeader); addr != "" {
			r.RemoteAddr = addr
		}
		a.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return srv
}

// freshBrowser is an attacker who dropped the cookie: a new browser, at addr.
func freshBrowser(t *testing.T, base, addr string) *browser {
	b := newBrowser(t, base)
	b.addr = addr
	return b
}

func loginAs(t *testing.T, b *browser, username, password string) page {
	t.Helper()
	b.get("/login")
	return b.post("/login", "username", username, "password", password)
}

func TestLoginLocksAccountWhateverTheCookieAndAddress(t *testing.T) {
	clk := &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	base := startAppWithAddrs(t, config{Now: clk.Now}).URL
	for i := range accountFailures {
		b := freshBrowser(t, base, fmt.Sprintf("192.0.2.%d:1234", i+1))
		loginAs(t, b, "demo", "guess").redirectsTo(t, "/login")
		if i == accountFailures-1 {
			b.get("/login").has(t, "Too many failed attempts for this account: it is locked for 5 minutes")
		}
	}

	// The right password, from a new browser at a new address, is refused.
	b := freshBrowser(t, base, "198.51.100.7:4321")
	loginAs(t, b, "DEMO ", "demo").redirectsTo(t, "/login")
	b.get("/login").has(t, "Too many failed attempts for this account: it is locked for 300 more seconds")
	b.get("/members").redirectsTo(t, "/login")
	// Another account is not locked: its password is checked.
	loginAs(t, b, "alice", "guess").redirectsTo(t, "/login")
	b.get("/login").has(t, "Wrong username or password. 4 attempts left.")

	clk.Advance(accountLockout)
	loginAs(t, freshBrowser(t, base, "198.51.100.8:4321"), "demo", "demo").redirectsTo(t, "/members")
}

func TestLoginLocksClientAddressWhateverTheCookieAndAccount(t *testing.T) {
	clk := &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	base := startAppWithAddrs(t, config{Now: clk.Now}).URL
	const attacker = "203.0.113.9:5555"
	for i := range addrFailures {
		b := freshBrowser(t, base, attacker)
		loginAs(t, b, fmt.Sprintf("user%d", i), "guess").redirectsTo(t, "/login")
		if i == addrFailures-1 {
			b.get("/login").has(t, "Too many failed attempts from your network address: login is locked for 15 minutes")
		}
	}

	// Dropping the cookie again does not help, even with the right password;
	// the login page says so and disables its button.
	b := freshBrowser(t, base, "203.0.113.9:6666") // another port: the same address
	b.get("/login").has(t, "Too many failed attempts from your network address: login is locked for 900 more seconds", "disabled")
	loginAs(t, b, "demo", "demo").redirectsTo(t, "/login")
	b.get("/login").has(t, "login is locked for 900 more seconds")

	// Another address logs in.
	loginAs(t, freshBrowser(t, base, "198.51.100.7:4321"), "demo", "demo").redirectsTo(t, "/members")

	clk.Advance(addrLockout)
	b.get("/login").hasNot(t, `id="locked"`)
	loginAs(t, b, "demo", "demo").redirectsTo(t, "/members")
}

func TestLoginCountsIPv6ClientsByTheir64(t *testing.T) {
	base := startAppWithAddrs(t, config{}).URL
	for i := range addrFailures {
		b := freshBrowser(t, base, fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1))
		loginAs(t, b, fmt.Sprintf("user%d", i), "guess")
	}
	freshBrowser(t, base, "[2001:db8:1:2:ffff::1]:443").get("/login").has(t, "from your network address")
	freshBrowser(t, base, "[2001:db8:1:3::1]:443").get("/login").hasNot(t, "from your network address")
}

// TestLimiterStaysBounded sprays more keys than the limiter holds: it never
// grows past its size, and the locked key it holds stays locked.
func TestLimiterStaysBounded(t *testing.T) {
	clk := &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	l := newLimiter(3, time.Hour, time.Hour, 100, clk.Now)
	for range 3 {
		fail(l, "victim")
	}
	if l.lockedFor("victim") != time.Hour {
		t.Fatalf("victim locked for %v after 3 failures, want 1h", l.lockedFor("victim"))
	}
	for i := range 1000 {
		fail(l, fmt.Sprint("spray", i))
		if n := l.len(); n > 100 {
			t.Fatalf("after %d keys the limiter holds %d, want at most 100", i+1, n)
		}
		clk.Advance(time.Second)
	}
	if l.lockedFor("victim") == 0 {
		t.Error("spraying keys unlocked the victim")
	}
	clk.Advance(2 * time.Hour)
	fail(l, "late")
	if n := l.len(); n != 1 {
		t.Errorf("after every entry expired the limiter holds %d, want 1", n)
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	b := newBrowser(t, startApp(t, config{}).URL)
	b.get("/") // a session and a valid CSRF token: only the origin is wrong
	for _, h := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"https://evil.example"}},
	} {
		b.header = h
		p := b.post("/cart/add", "item", "tea")
		if p.Status != http.StatusForbidden {
			t.Fatalf("POST with %v: got %d, want 403", h, p.Status)
		}
		p.has(t, "This form was sent from another site")
	}
	b.header = http.Header{"Sec-Fetch-Site": {"same-origin"}}
	b.post("/cart/add", "item", "tea").redirectsTo(t, "/cart")
	b.header = nil
	b.get("/").has(t, `id="cart-count">1<`)
}

// fail is a failed login as the handlers count it: an attempt, then its
// wrong password. It returns how long key is locked after it.
func fail(l *limiter, key string) time.Duration {
	if ok, locked := l.attempt(key); !ok {
		return locked
	}
	return l.failed(key)
}

// TestSprayCannotResetAnAccountsCount: an attacker who has used 9 of an
// account's 10 tries sprays new usernames, one failure each, until the
// limiter is full: the eviction takes sprayed keys, not the account's.
func TestSprayCannotResetAnAccountsCount(t *testing.T) {
	clk := &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	l := newLimiter(accountFailures, failureWindow, accountLockout, 100, clk.Now)
	for range accountFailures - 1 {
		fail(l, accountKey("demo"))
	}
	for i := range 100 {
		clk.Advance(time.Second)
		fail(l, accountKey(fmt.Sprint("spray", i)))
	}
	if got := fail(l, accountKey("demo")); got != accountLockout {
		t.Errorf("the 10th failure for demo, after a spray, locked it for %v, want %v", got, accountLockout)
	}
}

// TestSprayCannotUnlockALockedKey: once every entry is locked, a new key
// goes untracked rather than evict a lock.
func TestSprayCannotUnlockALockedKey(t *testing.T) {
	clk := &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	l := newLimiter(1, time.Hour, time.Hour, 3, clk.Now)
	fail(l, "victim")
	for i := range 3 {
		clk.Advance(time.Second)
		fail(l, fmt.Sprint("spray", i))
	}
	if l.lockedFor("victim") == 0 {
		t.Error("spraying locked keys unlocked the victim early")
	}
}

// TestConcurrentGuessesStayWithinTheAccountLimit: an attempt is counted in
// the same step as the check of the lock, so of guesses sent together at
// most the limit have their password compared.
func TestConcurrentGuessesStayWithinTheAccountLimit(t *testing.T) {
	// A clock that takes a little time, as a busy scheduler would, widens
	// the window between the check and the count; it changes nothing else.
	slow := func() time.Time { time.Sleep(200 * time.Microsecond); return time.Now() }
	a, err := newApp(config{Now: slow})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const n = 200
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		checked int // answers that compared the password: 401
	)
	for i := range n {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(`{"username":"demo","password":"guess"}`))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = fmt.Sprintf("10.%d.%d.1:1234", i/256, i%256) // one per address: only the account limit applies
			w := httptest.NewRecorder()
			<-start
			a.ServeHTTP(w, req)
			if w.Code == http.StatusUnauthorized {
				mu.Lock()
				checked++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if checked > accountFailures {
		t.Errorf("%d of %d concurrent guesses had their password checked, want at most %d", checked, n, accountFailures)
	}
}

// BenchmarkLimiterFullFail is a failure for a new key in a full limiter:
// an eviction from a sample, not a scan of every entry.
func BenchmarkLimiterFullFail(b *testing.B) {
	clk := &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	l := newLimiter(accountFailures, failureWindow, accountLockout, maxTracked, clk.Now)
	for i := range maxTracked {
		fail(l, fmt.Sprint("a", i))
	}
	i := 0
	for b.Loop() {
		fail(l, fmt.Sprint("b", i))
		i++
	}
}
