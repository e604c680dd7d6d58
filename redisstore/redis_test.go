package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/redisstore"
)

// These tests run the Manager on a real redis-server, through
// alexedwards/scs/redisstore and a redigo pool, the way issue #4 asks: several
// instances on one Redis, keys that expire with their sessions, Redis faults,
// and the number of round trips a request costs.

var discard = slog.New(slog.DiscardHandler)

// redisTimeout is the read timeout of newPool's connections: how long a
// request waits on a Redis that does not answer.
const redisTimeout = 500 * time.Millisecond

// redisSession is what the app below keeps per session.
type redisSession struct {
	User   string
	Visits int
}

// redisApp is one instance of a small web app whose sessions live in Redis.
type redisApp struct {
	URL        string
	m          *scsession.Manager[redisSession]
	mu         sync.Mutex
	errs       []error      // what the ErrorFunc was given
	mismatches atomic.Int64 // EventMismatch events
}

// newRedisApp serves the app on its own SessionManager and pool. configure,
// if not nil, sets lifetimes and cookie options before New.
func newRedisApp(t *testing.T, pool *redis.Pool, configure func(*scs.SessionManager), opts ...scsession.Option) *redisApp {
	t.Helper()
	app := &redisApp{}
	sm := scs.New()
	sm.Store = scsredis.New(pool)
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		app.mu.Lock()
		app.errs = append(app.errs, err)
		app.mu.Unlock()
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
	}
	if configure != nil {
		configure(sm)
	}
	opts = append([]scsession.Option{
		scsession.WithLogger(discard),
		scsession.WithEvents(func(_ context.Context, e scsession.Event) {
			if e.Kind == scsession.EventMismatch {
				app.mismatches.Add(1)
			}
		}),
	}, opts...)
	app.m = scsession.New[redisSession](sm, opts...)
	srv := httptest.NewServer(app.m.LoadAndSave(app.routes()))
	t.Cleanup(srv.Close)
	app.URL = srv.URL
	return app
}

func (app *redisApp) routes() http.Handler {
	m := app.m
	mux := http.NewServeMux()
	show := func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r.Context())
		fmt.Fprintf(w, "user=%s visits=%d", s.User, s.Visits)
	}
	// A failed load is answered by the ErrorFunc when the handler returns;
	// a failed delete (RenewToken, Destroy) is the handler's to answer.
	fail := func(w http.ResponseWriter, err error) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	mux.HandleFunc("GET /whoami", show)
	mux.HandleFunc("GET /static", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "static")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewToken(r.Context()); err != nil {
			fail(w, err)
			return
		}
		if m.Update(r.Context(), func(s *redisSession) { s.User = r.FormValue("user") }) == nil {
			show(w, r)
		}
	})
	mux.HandleFunc("POST /visit", func(w http.ResponseWriter, r *http.Request) {
		if m.Update(r.Context(), func(s *redisSession) { s.Visits++ }) == nil {
			show(w, r)
		}
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewToken(r.Context()); err != nil {
			fail(w, err)
			return
		}
		show(w, r)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "bye")
	})
	mux.HandleFunc("POST /remember", func(w http.ResponseWriter, r *http.Request) {
		m.RememberMe(r.Context(), r.FormValue("on") == "true")
	})
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		m.Flash(r.Context(), "info", r.FormValue("msg"))
	})
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		var msgs []string
		for _, f := range m.Flashes(r.Context()) {
			msgs = append(msgs, f.Message)
		}
		fmt.Fprint(w, strings.Join(msgs, ","))
	})
	return mux
}

// lastErr returns the last error the ErrorFunc was given, or nil.
func (app *redisApp) lastErr() error {
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.errs) == 0 {
		return nil
	}
	return app.errs[len(app.errs)-1]
}

// redisKey is where redisstore keeps the session a cookie value names: the
// token, without the signature WithSigningKeys adds, under "scs:session:".
func redisKey(cookie string) string {
	token, _, _ := strings.Cut(cookie, ".")
	return "scs:session:" + token
}

// expect fails the test unless r has the status and body.
func expect(t *testing.T, what string, r sessiontest.Response, status int, body string) {
	t.Helper()
	if r.Status != status || r.Body != body {
		t.Fatalf("%s: got %d %q, want %d %q", what, r.Status, r.Body, status, body)
	}
}

// expect500 fails the test unless the ErrorFunc answered r.
func expect500(t *testing.T, what string, r sessiontest.Response) {
	t.Helper()
	if r.Status != http.StatusInternalServerError || !strings.Contains(r.Body, "session store unavailable") {
		t.Fatalf("%s: got %d %q, want the ErrorFunc's 500", what, r.Status, r.Body)
	}
}

// Several instances on one Redis.

// twoInstances starts one Redis and two instances of the app on it, each with
// its own SessionManager and pool, once without and once with signing keys
// (the same on both), and runs test on them with one browser.
func twoInstances(t *testing.T, test func(t *testing.T, a, b *redisApp, c *sessiontest.Client)) {
	keys := [][]byte{[]byte("0123456789abcdef0123456789abcdef"), []byte("an older key, still accepted....")}
	for _, tc := range []struct {
		name string
		opts []scsession.Option
	}{
		{"unsigned", nil},
		{"signed", []scsession.Option{scsession.WithSigningKeys(keys...)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRedis(t)
			a := newRedisApp(t, srv.Pool(), nil, tc.opts...)
			b := newRedisApp(t, srv.Pool(), nil, tc.opts...)
			test(t, a, b, sessiontest.NewClient(t))
		})
	}
}

func TestRedisLoginOnOneInstanceIsSeenOnOther(t *testing.T) {
	twoInstances(t, func(t *testing.T, a, b *redisApp, c *sessiontest.Client) {
		expect(t, "login on A", c.Post(a.URL+"/login?user=alice"), 200, "user=alice visits=0")
		expect(t, "read on B", c.Get(b.URL+"/whoami"), 200, "user=alice visits=0")
		expect(t, "write on B", c.Post(b.URL+"/visit"), 200, "user=alice visits=1")
		expect(t, "read on A", c.Get(a.URL+"/whoami"), 200, "user=alice visits=1")
	})
}

func TestRedisRenewTokenOnOneInstanceKillsOldTokenOnOther(t *testing.T) {
	twoInstances(t, func(t *testing.T, a, b *redisApp, c *sessiontest.Client) {
		expect(t, "login on A", c.Post(a.URL+"/login?user=alice"), 200, "user=alice visits=0")
		old := c.Cookie(a.URL)
		expect(t, "renew on B", c.Post(b.URL+"/renew"), 200, "user=alice visits=0")
		if now := c.Cookie(a.URL); now == old || now == "" {
			t.Fatalf("renew kept the cookie %q", old)
		}
		expect(t, "new cookie on A", c.Get(a.URL+"/whoami"), 200, "user=alice visits=0")
		r := c.Replay(http.MethodGet, a.URL+"/whoami", old)
		expect(t, "old cookie replayed on A", r, 200, "user= visits=0")
		if r.Header.Get("Set-Cookie") != "" {
			t.Errorf("reading with the old cookie set a cookie: %q", r.Header.Get("Set-Cookie"))
		}
		// A write with the old token starts a session of its own: the old
		// token is never adopted.
		r = c.Replay(http.MethodPost, a.URL+"/visit", old)
		expect(t, "old cookie writing on A", r, 200, "user= visits=1")
		if strings.Contains(r.Header.Get("Set-Cookie"), old) {
			t.Errorf("writing with the old cookie revived its token: %q", r.Header.Get("Set-Cookie"))
		}
	})
}

func TestRedisDestroyOnOneInstanceLogsOutOnBoth(t *testing.T) {
	twoInstances(t, func(t *testing.T, a, b *redisApp, c *sessiontest.Client) {
		expect(t, "login on B", c.Post(b.URL+"/login?user=alice"), 200, "user=alice visits=0")
		old := c.Cookie(a.URL)
		expect(t, "logout on A", c.Post(a.URL+"/logout"), 200, "bye")
		if got := c.Cookie(a.URL); got != "" {
			t.Errorf("the cookie %q survived logout", got)
		}
		for _, app := range []*redisApp{a, b} {
			expect(t, "old cookie replayed", c.Replay(http.MethodGet, app.URL+"/whoami", old), 200, "user= visits=0")
		}
	})
}

func TestRedisFlashSetOnOneInstanceIsShownOnceOnOther(t *testing.T) {
	twoInstances(t, func(t *testing.T, a, b *redisApp, c *sessiontest.Client) {
		expect(t, "flash on A", c.Post(a.URL+"/flash?msg=saved"), 200, "")
		expect(t, "flash on A", c.Post(a.URL+"/flash?msg=sent"), 200, "")
		expect(t, "flashes on B", c.Get(b.URL+"/flashes"), 200, "saved,sent")
		expect(t, "flashes on B again", c.Get(b.URL+"/flashes"), 200, "")
		expect(t, "flashes on A", c.Get(a.URL+"/flashes"), 200, "")
	})
}

// Expiry.

// pttl returns the milliseconds key has left in Redis: -2 if it is gone, -1
// if it never expires.
func pttl(t *testing.T, srv *redisServer, key string) int64 {
	t.Helper()
	ms, err := redis.Int64(srv.Do("PTTL", key), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func sessionCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "session" {
			return c
		}
	}
	t.Fatal("no session cookie in the response")
	return nil
}

func TestRedisKeyTTLFollowsTheSession(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		idle     time.Duration
		persist  bool
		remember string // "" for no RememberMe call
		wantTTL  time.Duration
	}{
		{name: "Lifetime", lifetime: 2 * time.Second, persist: true, wantTTL: 2 * time.Second},
		{name: "IdleTimeout before Lifetime", lifetime: time.Hour, idle: time.Second, persist: true, wantTTL: time.Second},
		{name: "Lifetime before IdleTimeout", lifetime: 2 * time.Second, idle: time.Hour, persist: true, wantTTL: 2 * time.Second},
		{name: "browser-session cookie", lifetime: time.Hour, persist: false, remember: "false", wantTTL: time.Hour},
		{name: "RememberMe", lifetime: time.Hour, persist: false, remember: "true", wantTTL: time.Hour},
		{name: "RememberMe and IdleTimeout", lifetime: time.Hour, idle: time.Second, persist: false, remember: "true", wantTTL: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRedis(t)
			app := newRedisApp(t, srv.Pool(), func(sm *scs.SessionManager) {
				sm.Lifetime, sm.IdleTimeout, sm.Cookie.Persist = tc.lifetime, tc.idle, tc.persist
			})
			c := sessiontest.NewClient(t)
			r := c.Post(app.URL + "/login?user=alice")
			if tc.remember != "" {
				r = c.Post(app.URL + "/remember?on=" + tc.remember)
			}
			if r.Status != 200 {
				t.Fatalf("setup: got %d %q", r.Status, r.Body)
			}

			// The key expires when the session does, give or take the time the
			// requests took.
			got := time.Duration(pttl(t, srv, redisKey(c.Cookie(app.URL)))) * time.Millisecond
			if got > tc.wantTTL || got < tc.wantTTL-500*time.Millisecond {
				t.Errorf("PTTL = %v, want %v (less at most 500ms)", got, tc.wantTTL)
			}
			// The cookie outlives the browser session exactly when it should,
			// and then by the key's TTL, rounded up to the second.
			ck := sessionCookie(t, r.Header)
			if persistent := tc.persist || tc.remember == "true"; !persistent {
				if ck.MaxAge != 0 || !ck.Expires.IsZero() {
					t.Errorf("cookie has Max-Age %d, Expires %v; want a browser-session cookie", ck.MaxAge, ck.Expires)
				}
			} else if maxAge := time.Duration(ck.MaxAge) * time.Second; maxAge < got || maxAge > got+2*time.Second {
				t.Errorf("cookie Max-Age = %v, want the key's TTL %v rounded up", maxAge, got)
			}
		})
	}
}

func TestRedisExpiredSessionReadsAsNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		lifetime, idle time.Duration
	}{
		{"Lifetime", time.Second, 0},
		{"IdleTimeout", time.Hour, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startRedis(t)
			app := newRedisApp(t, srv.Pool(), func(sm *scs.SessionManager) {
				sm.Lifetime, sm.IdleTimeout = tc.lifetime, tc.idle
			})
			c := sessiontest.NewClient(t)
			expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
			cookie := c.Cookie(app.URL)
			time.Sleep(time.Second + 200*time.Millisecond)
			if ms := pttl(t, srv, redisKey(cookie)); ms != -2 {
				t.Fatalf("PTTL = %dms after expiry, want -2 (gone)", ms)
			}
			// The cookie itself may outlive the session by up to a second
			// (Max-Age is rounded up): send it regardless.
			expect(t, "read after expiry", c.Replay(http.MethodGet, app.URL+"/whoami", cookie), 200, "user= visits=0")
		})
	}
}

func TestRedisReadsPushBackIdleExpiry(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	app := newRedisApp(t, srv.Pool(), func(sm *scs.SessionManager) { sm.IdleTimeout = time.Second })
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
	key := redisKey(c.Cookie(app.URL))
	time.Sleep(400 * time.Millisecond)
	before := pttl(t, srv, key)
	expect(t, "read", c.Get(app.URL+"/whoami"), 200, "user=alice visits=0")
	after := pttl(t, srv, key)
	if after < 900 || after <= before {
		t.Errorf("PTTL went from %dms to %dms over a read; want the read to push it back to about 1000ms", before, after)
	}
	time.Sleep(700 * time.Millisecond) // 1.1s after login, 0.7s after the read
	expect(t, "read after the login's idle timeout", c.Get(app.URL+"/whoami"), 200, "user=alice visits=0")
}

// Faults.

func TestRedisStalledServerFailsRequestsFast(t *testing.T) {
	srv := startRedis(t)
	app := newRedisApp(t, srv.Pool(), nil)
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")

	srv.Pause() // if the test fails while paused, srv.Stop resumes it to stop it
	for _, tc := range []struct {
		name, method, path string
		fresh              bool // a browser without a session
		wantStatus         int
	}{
		{"read", http.MethodGet, "/whoami", false, 500},
		{"write", http.MethodPost, "/visit", false, 500},
		{"first write of a new session", http.MethodPost, "/visit", true, 500},
		{"no session use", http.MethodGet, "/static", false, 200},
	} {
		b := c
		if tc.fresh {
			b = sessiontest.NewClient(t)
		}
		r := b.Do(tc.method, app.URL+tc.path)
		t.Logf("stalled Redis, %s: %d after %v", tc.name, r.Status, r.Took.Round(time.Millisecond))
		if r.Status != tc.wantStatus {
			t.Errorf("%s: got %d %q, want %d", tc.name, r.Status, r.Body, tc.wantStatus)
		}
		if r.Took > 3*redisTimeout {
			t.Errorf("%s took %v on a stalled Redis; want about the pool's read timeout, %v", tc.name, r.Took, redisTimeout)
		}
	}
	if err := app.lastErr(); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("ErrorFunc got %v, want a timeout", err)
	}

	srv.Resume()
	// Redis runs what it had been sent before the client gave up: the
	// abandoned new session's MULTI/EXEC may be saved all the same, and
	// expires unused (its cookie was never set).
	keys, _ := redis.Strings(srv.Do("KEYS", "scs:session:*"), nil)
	t.Logf("after resume, %d session key(s) in Redis for 1 live session", len(keys))
	expect(t, "read after resume", c.Get(app.URL+"/whoami"), 200, "user=alice visits=0")
	expect(t, "write after resume", c.Post(app.URL+"/visit"), 200, "user=alice visits=1")
}

func TestRedisRestartKeepsSessions(t *testing.T) {
	srv := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	pool := srv.Pool()
	app := newRedisApp(t, pool, nil)
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
	expect(t, "visit", c.Post(app.URL+"/visit"), 200, "user=alice visits=1")

	// A restart: every connection in the pool is dead, and redigo finds out
	// only by using one; the request that does fails, and the pool then dials
	// afresh.
	idle := pool.Stats().IdleCount
	srv.Stop()
	srv.Start()
	var r sessiontest.Response
	failed := 0
	for range idle + 1 {
		if r = c.Get(app.URL + "/whoami"); r.Status == 200 {
			break
		}
		expect500(t, "read after restart", r)
		failed++
	}
	t.Logf("after a restart, %d request(s) failed before the pool reconnected (%d idle connection(s) before it)", failed, idle)
	expect(t, "read after restart", r, 200, "user=alice visits=1")

	// Stopped a while: requests fail at once (connection refused), then work.
	srv.Stop()
	r = c.Get(app.URL + "/whoami")
	t.Logf("Redis stopped: %d after %v", r.Status, r.Took.Round(time.Millisecond))
	expect500(t, "read while stopped", r)
	srv.Start()
	expect(t, "read after second restart", c.Get(app.URL+"/whoami"), 200, "user=alice visits=1")
	expect(t, "write after restart", c.Post(app.URL+"/visit"), 200, "user=alice visits=2")
}

func TestRedisFullMemoryFailsWritesAndKeepsData(t *testing.T) {
	srv := startRedis(t, "--maxmemory-policy", "noeviction")
	app := newRedisApp(t, srv.Pool(), func(sm *scs.SessionManager) { sm.IdleTimeout = time.Hour }, scsession.WithIdleRefresh(0))
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
	expect(t, "flash", c.Post(app.URL+"/flash?msg=hello"), 200, "")

	// Allow a little more than Redis uses now, then fill it up.
	info, _ := redis.String(srv.Do("INFO", "memory"), nil)
	var used int64
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			fmt.Sscan(v, &used)
		}
	}
	if used == 0 {
		t.Fatalf("no used_memory in INFO memory:\n%s", info)
	}
	srv.Do("CONFIG", "SET", "maxmemory", used+256<<10)
	conn, err := redis.Dial("tcp", srv.Addr, redis.DialReadTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Fill it with ever smaller values, so that once done not even a
	// session's hundred bytes fit (Redis refuses a write only while it is
	// over the limit, and a big value refused leaves room for small ones).
	var keys []any
	for _, size := range []int{32 << 10, 1 << 10, 32} {
		value := strings.Repeat("x", size)
		for range 1000 { // far more than 256KB's worth of each size
			key := fmt.Sprintf("junk:%d", len(keys))
			if _, err = conn.Do("SET", key, value); err != nil {
				break
			}
			keys = append(keys, key)
		}
		if err == nil || !strings.HasPrefix(err.Error(), "OOM") {
			t.Fatalf("filling Redis with %d-byte values: got %v, want an OOM error", size, err)
		}
	}

	expect500(t, "write with Redis full", c.Post(app.URL+"/visit"))
	if err := app.lastErr(); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("ErrorFunc got %v, want Redis's OOM error", err)
	} else {
		t.Logf("ErrorFunc got: %v", err)
	}
	expect(t, "read with Redis full, due for its idle refresh", c.Get(app.URL+"/whoami"), 200, "user=alice visits=0")
	expect(t, "page with a pending flash, Redis full", c.Get(app.URL+"/flashes"), 200, "hello")

	srv.Do("DEL", keys...)
	expect(t, "read once memory is freed", c.Get(app.URL+"/whoami"), 200, "user=alice visits=0")
	expect(t, "write once memory is freed", c.Post(app.URL+"/visit"), 200, "user=alice visits=1")
}

func TestRedisGarbageUnderSessionKeyGivesFreshSession(t *testing.T) {
	srv := startRedis(t)
	app := newRedisApp(t, srv.Pool(), nil)
	// A stored session starts with the envelope's version tag, 4 bytes (typed.go).
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
	stored, err := redis.Bytes(srv.Do("GET", redisKey(c.Cookie(app.URL))), nil)
	if err != nil || len(stored) < 4 {
		t.Fatalf("the session as stored: %q, %v", stored, err)
	}
	magic := string(stored[:4])
	for _, tc := range []struct {
		name  string
		value []byte
	}{
		{"not scsession's bytes", []byte("garbage")},
		{"truncated envelope", []byte(magic + "\x00\x01")},
		{"flash count past the end", append(append([]byte(magic), make([]byte, 33)...), 0xff, 0x7f)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sessiontest.NewClient(t)
			expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
			old := c.Cookie(app.URL)
			srv.Do("SET", redisKey(old), tc.value)
			mismatches := app.mismatches.Load()

			expect(t, "read", c.Get(app.URL+"/whoami"), 200, "user= visits=0")
			if app.mismatches.Load() != mismatches+1 {
				t.Errorf("got no EventMismatch for the garbage")
			}
			expect(t, "write", c.Post(app.URL+"/visit"), 200, "user= visits=1")
			if now := c.Cookie(app.URL); now == old {
				t.Errorf("the write kept the token that named garbage")
			}
			expect(t, "read", c.Get(app.URL+"/whoami"), 200, "user= visits=1")
		})
	}
}

func TestRedisDownAtStartupFailsUntilItComesUp(t *testing.T) {
	srv := newRedis(t) // not started
	app := newRedisApp(t, srv.Pool(), nil)
	c := sessiontest.NewClient(t)

	expect(t, "no session use", c.Get(app.URL+"/static"), 200, "static")
	expect(t, "read without a cookie", c.Get(app.URL+"/whoami"), 200, "user= visits=0")
	r := c.Post(app.URL + "/login?user=alice")
	t.Logf("Redis down: %d after %v", r.Status, r.Took.Round(time.Millisecond))
	expect500(t, "login", r)
	if r.Took > 3*redisTimeout {
		t.Errorf("login took %v with Redis down; want under %v", r.Took, 3*redisTimeout)
	}
	token := make([]byte, 32) // shaped as scs's tokens, so that it reaches the store
	rand.Read(token)
	expect500(t, "read with a cookie", c.Replay(http.MethodGet, app.URL+"/whoami", base64.RawURLEncoding.EncodeToString(token)))
	if err := app.lastErr(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("ErrorFunc got %v, want connection refused", err)
	}

	srv.Start()
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
	expect(t, "read", c.Get(app.URL+"/whoami"), 200, "user=alice visits=0")
}

// Round trips.

// tripCounter counts round trips to Redis, and the commands each carried.
//
// redigo buffers what Send writes. Do writes the buffer and its own command
// in one go and then reads every reply: one round trip however many commands
// it carries, so redisstore's Commit (Send MULTI, SET, PEXPIREAT, then Do
// EXEC) is one. Flush writes the buffer and Receive reads the replies later:
// one round trip per Flush, none per Receive. The pool calls Do("") when a
// connection is returned; with nothing buffered it writes nothing and is no
// round trip.
type tripCounter struct {
	mu    sync.Mutex
	trips []string // per round trip, its commands: "GET", "MULTI SET PEXPIREAT EXEC"
}

type countingConn struct {
	redis.Conn
	tc      *tripCounter
	pending []string // sent, not yet written
}

// countingPool is newPool(addr), counting round trips into tc.
func countingPool(t *testing.T, addr string, tc *tripCounter) *redis.Pool {
	pool := newPool(addr)
	dial := pool.Dial
	pool.Dial = func() (redis.Conn, error) {
		c, err := dial()
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, tc: tc}, nil
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

func (c *countingConn) Send(cmd string, args ...any) error {
	c.pending = append(c.pending, cmd)
	return c.Conn.Send(cmd, args...)
}

func (c *countingConn) Do(cmd string, args ...any) (any, error) {
	if cmd != "" {
		c.pending = append(c.pending, cmd)
	}
	c.trip()
	return c.Conn.Do(cmd, args...)
}

func (c *countingConn) Flush() error {
	c.trip()
	return c.Conn.Flush()
}

func (c *countingConn) trip() {
	if len(c.pending) == 0 {
		return
	}
	c.tc.mu.Lock()
	c.tc.trips = append(c.tc.trips, strings.Join(c.pending, " "))
	c.tc.mu.Unlock()
	c.pending = c.pending[:0]
}

// take returns the round trips since the last take.
func (tc *tripCounter) take() []string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	trips := tc.trips
	tc.trips = nil
	return trips
}

func TestRedisRoundTripsPerRequest(t *testing.T) {
	srv := startRedis(t)
	// scs's redisstore saves with a pipelined transaction, and renews with a
	// save and a DEL; scsession's, which compares before it saves (see
	// concurrency_test.go), saves with one script call, and renews with one:
	// the new token saved, the old one deleted if it still holds what the
	// request read.
	stores := []struct {
		name   string
		store  func(*redis.Pool) scs.Store
		commit string
		login  []string // after the GET
	}{
		{"scs redisstore", func(p *redis.Pool) scs.Store { return scsredis.New(p) }, "MULTI SET PEXPIREAT EXEC", []string{"MULTI SET PEXPIREAT EXEC", "DEL"}},
		{"scsession redisstore", func(p *redis.Pool) scs.Store { return redisstore.New(p) }, "EVALSHA", []string{"EVALSHA"}},
	}
	const (
		get = "GET"
		del = "DEL"
	)
	// Redis learns a script at its first call (EVALSHA fails, EVAL follows),
	// as a running app's first requests teach it: teach it them first.
	warm := newRedisApp(t, srv.Pool(), func(sm *scs.SessionManager) { sm.Store = redisstore.New(srv.Pool()) })
	c := sessiontest.NewClient(t)
	for range 2 { // a new session, then a renewal
		expect(t, "login", c.Post(warm.URL+"/login?user=alice"), 200, "user=alice visits=0")
	}
	for _, st := range stores {
		commit := st.commit
		for _, tc := range []struct {
			name         string
			idle         time.Duration
			method, path string
			session      bool // the browser has a session already
			want         []string
		}{
			{"read", 0, http.MethodGet, "/whoami", true, []string{get}},
			{"write", 0, http.MethodPost, "/visit", true, []string{get, commit}},
			{"no session use", 0, http.MethodGet, "/static", true, nil},
			{"read without a session", 0, http.MethodGet, "/whoami", false, nil},
			{"first write", 0, http.MethodPost, "/visit", false, []string{commit}},
			{"login (RenewToken and Update)", 0, http.MethodPost, "/login?user=bob", true, append([]string{get}, st.login...)},
			{"logout (Destroy)", 0, http.MethodPost, "/logout", true, []string{del}},
			{"flashes, none pending", 0, http.MethodGet, "/flashes", true, []string{get}},
			// With an IdleTimeout, a request that uses the session may refresh
			// its expiry (not due yet here); one that never uses it costs nothing.
			{"read, IdleTimeout", time.Hour, http.MethodGet, "/whoami", true, []string{get}},
			{"no session use, IdleTimeout", time.Hour, http.MethodGet, "/static", true, nil},
			{"write, IdleTimeout", time.Hour, http.MethodPost, "/visit", true, []string{get, commit}},
		} {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				var trips tripCounter
				pool := countingPool(t, srv.Addr, &trips)
				app := newRedisApp(t, pool, func(sm *scs.SessionManager) { sm.IdleTimeout, sm.Store = tc.idle, st.store(pool) })
				c := sessiontest.NewClient(t)
				if tc.session {
					expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
				}
				trips.take()
				if r := c.Do(tc.method, app.URL+tc.path); r.Status != 200 {
					t.Fatalf("got %d %q", r.Status, r.Body)
				}
				got := trips.take()
				t.Logf("%s: %d round trip(s) %q", tc.name, len(got), got)
				// In any order: when RenewToken's DEL is sent is the core's choice.
				if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(tc.want))) {
					t.Errorf("round trips %q, want %q", got, tc.want)
				}
			})
		}
	}
}

func TestRedisIdleRefreshKeepsMostReadsToOneRoundTrip(t *testing.T) {
	srv := startRedis(t)
	const (
		idle  = time.Second // refreshed every 100ms by default
		reads = 50
		gap   = 10 * time.Millisecond
	)
	var trips tripCounter
	app := newRedisApp(t, countingPool(t, srv.Addr, &trips), func(sm *scs.SessionManager) { sm.IdleTimeout = idle })
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
	trips.take()

	cost := map[int]int{} // round trips -> reads that cost that many
	start := time.Now()
	for range reads {
		expect(t, "read", c.Get(app.URL+"/whoami"), 200, "user=alice visits=0")
		cost[len(trips.take())]++
		time.Sleep(gap)
	}
	took := time.Since(start)
	t.Logf("%d reads over %v with IdleTimeout %v: %d cost 1 round trip, %d cost 2 (a refresh), %d other",
		reads, took.Round(time.Millisecond), idle, cost[1], cost[2], reads-cost[1]-cost[2])
	if cost[1]+cost[2] != reads {
		t.Errorf("reads cost %v round trips; want 1, or 2 for a refresh", cost)
	}
	// A refresh is due every idle/10: at most one per 100ms, plus the first.
	if maxRefresh := int(took/(idle/10)) + 1; cost[2] > maxRefresh {
		t.Errorf("%d refreshes in %v; want at most %d", cost[2], took, maxRefresh)
	}
	if cost[1] < reads*3/4 {
		t.Errorf("%d of %d reads cost one round trip; want most", cost[1], reads)
	}
	if cost[2] == 0 {
		t.Errorf("no read refreshed the idle expiry in %v", took)
	}
}

// Two defects a user of Redis hit once (issue #4), kept from coming back.

// A request that never uses the session must not be failed by a Redis
// outage: only a load the handler asked for answers with the ErrorFunc.
func TestRedisOutageDoesNotFailRequestsThatNeverUseTheSession(t *testing.T) {
	srv := startRedis(t)
	app := newRedisApp(t, srv.Pool(), func(sm *scs.SessionManager) { sm.IdleTimeout = time.Hour })
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")

	srv.Stop()
	expect500(t, "read with Redis down", c.Get(app.URL+"/whoami"))
	expect(t, "no session use with Redis down", c.Get(app.URL+"/static"), 200, "static")
}

// RenewToken deletes the old key as soon as it is called, before the new one
// is saved. When that save fails (here: Redis is full; DEL is still allowed)
// the request answers 500 and the user has lost the session they had.
func TestRedisRenewTokenWhoseSaveFailsKeepsTheOldSession(t *testing.T) {
	srv := startRedis(t, "--maxmemory-policy", "noeviction")
	app := newRedisApp(t, srv.Pool(), nil)
	c := sessiontest.NewClient(t)
	expect(t, "login", c.Post(app.URL+"/login?user=alice"), 200, "user=alice visits=0")
	srv.Do("CONFIG", "SET", "maxmemory", 1) // every write is now refused

	expect500(t, "renew with Redis full", c.Post(app.URL+"/renew"))
	srv.Do("CONFIG", "SET", "maxmemory", 0)
	expect(t, "read once memory is freed", c.Get(app.URL+"/whoami"), 200, "user=alice visits=0")
}
