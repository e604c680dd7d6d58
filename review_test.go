package scsession

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// A page that starts its response (headers, the top of the template) and
// reads the session afterwards, e.g. a template function showing the user's
// name, used to see the stored session. The redesign's commit marks an
// unloaded session committed without loading it, so Get then answers the
// zero T.
func TestGetAfterTheResponseStartedReadsTheStoredSession(t *testing.T) {
	m := New[user](nil, WithLogger(discard))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html>")
		fmt.Fprint(w, m.Get(r.Context()).Name)
	})
	url := serve(t, m, mux)
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	if got := c.Get(url + "/stream").Body; got != "<html>ann" {
		t.Fatalf("Get after the first byte reads %q, want <html>ann", got)
	}
}

// Session methods take s.mu, so a handler may use the session from several
// goroutines (fetching a page's parts in parallel). Every method reads
// s.phase, to spot a skipped request, before taking the lock, while load
// and commit write it under the lock: a data race the race detector reports.
// The old code read an immutable skipped field there.
func TestConcurrentGetsInOneRequestDoNotRace(t *testing.T) {
	m := New[user](nil, WithLogger(discard))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("GET /parallel", func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				<-start
				m.Get(r.Context())
			})
		}
		close(start)
		wg.Wait()
	})
	url := serve(t, m, mux)
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	for range 20 {
		c.Get(url + "/parallel")
	}
}

// A read-only request whose only write is the idle refresh, racing a logout:
// it had no changes, so nothing was dropped. The old save returned quietly
// (`!s.changed()` came before `cur == nil`); swapLoop checks `cur == nil`
// first, so every such race now logs a Warn and emits EventDropped, "its
// changes were dropped", for a request that made none.
func TestARefreshRacingALogoutDropsNothing(t *testing.T) {
	var events eventLog
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	sm.IdleTimeout = time.Hour
	m := New[user](sm, WithLogger(discard), WithIdleRefresh(0), events.option())
	loaded, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r.Context())
		close(loaded)
		<-release
	})
	url := serve(t, m, mux)
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	tab := newClient(t)
	tab.SetCookie(url, c.Cookie(url))
	done := make(chan struct{})
	go func() { defer close(done); c.Get(url + "/slow") }()
	<-loaded
	tab.Post(url + "/logout")
	close(release)
	<-done
	if n := events.count(EventDropped); n != 0 {
		t.Fatalf("a request that changed nothing reported %d dropped changes:\n%s", n, events.String())
	}
}

// reviewSwap is memstore behind SwapStore and UserIndexStore, as a
// third-party store would be: the Manager renews it with two
// compare-and-swaps (swapBackend.renew).
type reviewSwap struct {
	*memstore.MemStore
	*memIndex
}

func (s reviewSwap) CompareAndSwap(_ context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	return swapMem(s.MemStore, key, old, b, exp)
}

// reviewRenew is reviewSwap with CompareAndRenew: renewBackend.
type reviewRenew struct{ reviewSwap }

func (s reviewRenew) CompareAndRenew(ctx context.Context, oldKey string, old []byte, key string, b []byte, exp time.Time) ([]byte, bool, error) {
	return memBackend{s.MemStore}.renew(ctx, oldKey, old, key, b, exp)
}

// reviewStores are the three atomic backends, each with its memory index.
func reviewStores() map[string]func() (scs.Store, *memIndex) {
	return map[string]func() (scs.Store, *memIndex){
		"memBackend": func() (scs.Store, *memIndex) {
			ms := memstore.NewWithCleanupInterval(0)
			return ms, memIndexOf(ms)
		},
		"swapBackend": func() (scs.Store, *memIndex) {
			ms := memstore.NewWithCleanupInterval(0)
			idx := newMemIndex(ms)
			return reviewSwap{ms, idx}, idx
		},
		"renewBackend": func() (scs.Store, *memIndex) {
			ms := memstore.NewWithCleanupInterval(0)
			idx := newMemIndex(ms)
			return reviewRenew{reviewSwap{ms, idx}}, idx
		},
	}
}

// indexDump lists the index as "user:key" for every entry, with "!" after
// an entry whose session is not stored or names another user.
func indexDump(x *memIndex, m *Manager[user]) map[string]string {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]string{}
	for u, keys := range x.users {
		for k := range keys {
			state := "live"
			b, found, _ := x.store.Find(k)
			if env, err := decodeEnvelope(b); !found || err != nil || env.user != u {
				state = "stale"
			}
			out[u+":"+k[:6]] = state
		}
	}
	return out
}

// Every case the old retire() handled, on each backend: the renewing request
// (sudo) reads, another tab acts on the old token, then the renewal saves.
func TestRenewalRetiresTheOldTokenInEveryCase(t *testing.T) {
	for name, open := range reviewStores() {
		for _, tc := range []struct {
			name      string
			meanwhile func(tab *client, url string, m *Manager[user])
			want      string // what the renewed browser then reads
			users     map[string]int
		}{
			{"OldChanged", func(tab *client, url string, _ *Manager[user]) { tab.Post(url + "/add?item=tea") }, "alice [tea]", map[string]int{"alice": 1}},
			{"OldEnded", func(tab *client, url string, _ *Manager[user]) { tab.Post(url + "/logout") }, " []", map[string]int{}},
			{"OldRevoked", func(_ *client, _ string, m *Manager[user]) { m.RevokeUser(context.Background(), "alice") }, " []", map[string]int{}},
			{"UserChanged", func(tab *client, url string, _ *Manager[user]) { tab.Post(url + "/switch?name=bob") }, "bob []", map[string]int{"bob": 1}},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				st, idx := open()
				sm := scs.New()
				sm.Store = st
				var events eventLog
				m := New[user](sm, WithLogger(discard), events.option(), WithUserID(func(u user) string { return u.Name }))
				loaded, release := make(chan struct{}), make(chan struct{})
				url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ctx := r.Context()
					switch r.URL.Path {
					case "/login":
						m.RenewToken(ctx)
						m.Update(ctx, func(u *user) { u.Name = "alice" })
					case "/switch":
						m.Update(ctx, func(u *user) { u.Name = r.FormValue("name") })
					case "/add":
						m.Update(ctx, func(u *user) { u.Cart = append(u.Cart, r.FormValue("item")) })
					case "/logout":
						m.Get(ctx) // a logout page that reads who leaves; see TestReviewLogoutWithoutAReadLeavesNoIndexEntry
						m.Destroy(ctx)
					case "/sudo":
						m.Get(ctx)
						close(loaded)
						<-release
						m.RenewToken(ctx)
					default:
						u := m.Get(ctx)
						fmt.Fprint(w, u.Name, " ", u.Cart)
					}
				}))
				c := newClient(t)
				c.Post(url + "/login")
				tab := newClient(t)
				tab.SetCookie(url, c.Cookie(url))
				done := make(chan response, 1)
				go func() { done <- c.Post(url + "/sudo") }()
				<-loaded
				tc.meanwhile(tab, url, m)
				close(release)
				if r := <-done; r.Status != http.StatusOK {
					t.Fatalf("sudo answered %d %s", r.Status, r.Body)
				}
				if got := c.Get(url + "/").Body; got != tc.want {
					t.Fatalf("the renewing browser reads %q, want %q; events:\n%s", got, tc.want, events.String())
				}
				if got := tab.Get(url + "/").Body; got != " []" {
					t.Fatalf("the old token still reads %q", got)
				}
				dump := indexDump(idx, m)
				for entry, state := range dump {
					if state != "live" {
						t.Errorf("index entry %s is %s; index: %v", entry, state, dump)
					}
				}
				for u, n := range tc.users {
					if infos, _ := m.Sessions(context.Background(), u); len(infos) != n {
						t.Errorf("%s has %d sessions, want %d", u, len(infos), n)
					}
				}
			})
		}
	}
}

// The README: "An entry outlives its session only until its expiry (a
// logout removes it at once)". A logout handler that calls Destroy without
// reading the session first leaves its index entry behind: Destroy removes
// entries only under s.indexed, which only a load sets. (The old code did
// the same; it is not new, but it is a wrong index entry all the same.)
func TestLogoutWithoutAReadLeavesNoIndexEntry(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = ms
	m := New[user](sm, WithLogger(discard), WithUserID(func(u user) string { return u.Name }))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	c.Post(url + "/logout") // userApp's logout: Destroy, nothing read
	if dump := indexDump(memIndexOf(ms), m); len(dump) != 0 {
		t.Fatalf("after the logout the index still holds %v", dump)
	}
}

// "log out everywhere else" called once the response has started (a page
// that flushes its top first) used to revoke the other devices: current()
// loaded the session. Now commit marks an unloaded session committed
// without loading it, so current() sees an empty user and RevokeOthers
// returns 0, nil: the other sessions silently escape revocation.
func TestRevokeOthersAfterTheResponseStartedStillRevokes(t *testing.T) {
	m := New[user](nil, WithLogger(discard), WithUserID(func(u user) string { return u.Name }))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("POST /others", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		n, err := m.RevokeOthers(r.Context())
		fmt.Fprint(w, n, err)
	})
	url := serve(t, m, mux)
	c, other := newClient(t), newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	other.Post(url + "/login?id=1&name=ann")
	if got := c.Post(url + "/others").Body; got != "1 <nil>" {
		t.Fatalf("RevokeOthers after WriteHeader says %q, want 1 <nil>", got)
	}
	if got := other.Get(url + "/get").Body; got != "id=0 name= cart=[] prefs=map[]" {
		t.Fatalf("the other device still reads %q", got)
	}
}

// Destroy forgets s.env.data, the request's current data, not the data it
// read and decoded: a logout that changed the session first (Update, or a
// repair of old-shaped data at load) leaves the ended session's value in
// the decode cache, against cache.go's "Destroy (of a session the request
// read) ... forget theirs".
func TestDestroyAfterUpdateForgetsTheCachedValue(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = ms
	m := New[user](sm, WithLogger(discard))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("POST /leave", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.Cart = nil }) // empty the cart, then log out
		m.Destroy(r.Context())
	})
	url := serve(t, m, mux)
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	c.Post(url + "/add?item=tea")
	c.Get(url + "/get")
	b, _, _ := ms.Find(c.Cookie(url))
	env, err := decodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if e := m.cache.slot(env.data).Load(); e == nil || !bytes.Equal(e.data, env.data) {
		t.Fatal("a read left nothing in the cache")
	}
	c.Post(url + "/leave")
	if _, found, _ := ms.Find(c.Cookie(url)); found {
		t.Fatal("not destroyed")
	}
	if e := m.cache.slot(env.data).Load(); e != nil && bytes.Equal(e.data, env.data) {
		t.Fatal("after Destroy the cache still holds the ended session's value")
	}
}

// reviewPauseCreate is reviewSwap that waits once, right after it stores a
// session under a brand-new key: swapBackend.renew between its two steps.
type reviewPauseCreate struct {
	reviewSwap
	mu               sync.Mutex
	created, release chan struct{}
}

func (p *reviewPauseCreate) CompareAndSwap(ctx context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	cur, ok, err := p.reviewSwap.CompareAndSwap(ctx, key, old, b, exp)
	p.mu.Lock()
	created := p.created
	if old == nil && b != nil && created != nil {
		p.created = nil
	}
	p.mu.Unlock()
	if old == nil && b != nil && created != nil {
		close(created)
		select {
		case <-p.release:
		case <-time.After(10 * time.Second):
		}
	}
	return cur, ok, err
}

// bob switches to alice with a login (RenewToken). While the emulated
// renewal is between its steps, "log out everywhere" for alice ends the new
// token and another tab changes bob's old session. swapBackend.renew then
// ends the old token too, as it should, but deletes it itself, and nothing
// removes bob's index entry for it: the old retire() forgot it under
// s.indexed (dropRenewed); now it stays, pointing at nothing, until it
// expires.
func TestRevokedEmulatedRenewalLeavesNoIndexEntry(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	idx := newMemIndex(ms)
	st := &reviewPauseCreate{reviewSwap: reviewSwap{ms, idx}, release: make(chan struct{})}
	sm := scs.New()
	sm.Store = st
	m := New[user](sm, WithLogger(discard), WithUserID(func(u user) string { return u.Name }))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.URL.Path {
		case "/bob":
			m.Update(ctx, func(u *user) { u.Name = "bob" })
		case "/add":
			m.Update(ctx, func(u *user) { u.Cart = append(u.Cart, "tea") })
		case "/login":
			m.RenewToken(ctx)
			m.Update(ctx, func(u *user) { u.Name = "alice" })
		default:
			fmt.Fprint(w, m.Get(ctx).Name)
		}
	}))
	c := newClient(t)
	c.Post(url + "/bob")
	tab := newClient(t)
	tab.SetCookie(url, c.Cookie(url))
	st.mu.Lock()
	created := make(chan struct{})
	st.created = created
	st.mu.Unlock()
	done := make(chan response, 1)
	go func() { done <- c.Post(url + "/login") }()
	select {
	case <-created:
	case <-time.After(10 * time.Second):
		t.Fatal("the login never saved its new token")
	}
	if n, err := m.RevokeUser(context.Background(), "alice"); n != 1 || err != nil {
		t.Fatalf("RevokeUser(alice) = %d, %v", n, err)
	}
	tab.Post(url + "/add")
	close(st.release)
	if r := <-done; r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	if got := c.Get(url+"/").Body + tab.Get(url+"/").Body; got != "" {
		t.Fatalf("after the revoked login the browser reads %q", got)
	}
	if dump := indexDump(idx, m); len(dump) != 0 {
		t.Fatalf("both sessions ended, but the index holds %v", dump)
	}
}
