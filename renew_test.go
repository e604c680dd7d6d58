package scsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// A renewal (sudo) racing an account switch in another tab: the switched-to
// user's session moved to the new token but was never indexed under them,
// so RevokeUser could not end it.
func TestRenewTokenRacingAUserChangeIndexesTheNewUser(t *testing.T) {
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	m := New[user](sm, WithLogger(discard), WithUserID(func(u user) string { return u.Name }))
	loaded, release := make(chan struct{}), make(chan struct{})
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			m.RenewToken(r.Context())
			m.Update(r.Context(), func(u *user) { u.Name = r.FormValue("name") })
		case "/switch": // no renewal
			m.Update(r.Context(), func(u *user) { u.Name = r.FormValue("name") })
		case "/sudo":
			m.Get(r.Context())
			close(loaded)
			<-release
			m.RenewToken(r.Context())
		default:
			fmt.Fprint(w, m.Get(r.Context()).Name)
		}
	}))
	c := newClient(t)
	c.Post(url + "/login?name=alice")
	tab := newClient(t)
	tab.SetCookie(url, c.Cookie(url))
	done := make(chan response, 1)
	go func() { done <- c.Post(url + "/sudo") }()
	<-loaded
	tab.Post(url + "/switch?name=bob")
	close(release)
	if r := <-done; r.Status != 200 {
		t.Fatalf("sudo: %d", r.Status)
	}
	if got := c.Get(url + "/").Body; got != "bob" {
		t.Fatalf("session reads %q, want bob", got)
	}
	n, err := m.RevokeUser(context.Background(), "bob")
	if got := c.Get(url + "/").Body; got != "" {
		t.Fatalf("RevokeUser(bob) = %d, %v; the session still reads %q", n, err, got)
	}
}

// pausing is memstore behind SwapStore/UserIndexStore, pausing once after
// AddUserSession for a given user.
type pausing struct {
	*memstore.MemStore
	idx            *memIndex
	user           string
	added, release chan struct{}
}

func (p *pausing) CompareAndSwap(_ context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	return swapMem(p.MemStore, key, old, b, exp)
}

func (p *pausing) AddUserSession(ctx context.Context, u, key string, exp time.Time) error {
	err := p.idx.AddUserSession(ctx, u, key, exp)
	if u == p.user && p.added != nil {
		close(p.added)
		p.added = nil
		<-p.release
	}
	return err
}

func (p *pausing) RemoveUserSession(ctx context.Context, u, key string) error {
	return p.idx.RemoveUserSession(ctx, u, key)
}

func (p *pausing) UserSessions(ctx context.Context, u string) (map[string][]byte, error) {
	return p.idx.UserSessions(ctx, u)
}

// RevokeUser (another device: "log out everywhere") while a login was being
// saved dropped the login's index entry as stale before its save landed, so
// the new session could never be revoked.
func TestRevokeUserDuringALoginLeavesItRevocable(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	st := &pausing{MemStore: ms, idx: newMemIndex(ms),
		user: "alice", added: make(chan struct{}), release: make(chan struct{})}
	sm := scs.New()
	sm.Store = st
	m := New[user](sm, WithLogger(discard), WithUserID(func(u user) string { return u.Name }))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			m.RenewToken(r.Context())
			m.Update(r.Context(), func(u *user) { u.Name = "alice" })
			return
		}
		fmt.Fprint(w, m.Get(r.Context()).Name)
	}))
	c := newClient(t)
	added := st.added
	done := make(chan response, 1)
	go func() { done <- c.Post(url + "/login") }()
	<-added
	m.RevokeUser(context.Background(), "alice") // finds nothing stored yet
	close(st.release)
	<-done
	if got := c.Get(url + "/").Body; got != "alice" {
		t.Fatalf("login: %q", got)
	}
	n, err := m.RevokeUser(context.Background(), "alice")
	if got := c.Get(url + "/").Body; got != "" {
		t.Fatalf("later RevokeUser(alice) = %d, %v; the session still reads %q", n, err, got)
	}
}

// pauseOnCreate is pausing that also waits once right after it stores a
// session under a new key (a save of a new token).
type pauseOnCreate struct {
	pausing
	created chan struct{}
}

func (p *pauseOnCreate) CompareAndSwap(ctx context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	cur, ok, err := p.pausing.CompareAndSwap(ctx, key, old, b, exp)
	if old == nil && b != nil && p.created != nil {
		close(p.created)
		p.created = nil
		<-p.release
	}
	return cur, ok, err
}

// A login whose new session was revoked ("log out everywhere" on another
// device) just after its save, while another tab changed the old session,
// used to answer 500 and leave the old session alive.
func TestRevokedLoginWhileTheOldSessionChangedEndsBoth(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	st := &pauseOnCreate{pausing: pausing{MemStore: ms, idx: newMemIndex(ms),
		release: make(chan struct{})}, created: make(chan struct{})}
	sm := scs.New()
	sm.Store = st
	m := New[user](sm, WithLogger(discard), WithUserID(func(u user) string { return u.Name }))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/add":
			m.Update(r.Context(), func(u *user) { u.Cart = append(u.Cart, r.FormValue("item")) })
		case "/login":
			m.RenewToken(r.Context())
			m.Update(r.Context(), func(u *user) { u.Name = "alice" })
		default:
			fmt.Fprint(w, m.Get(r.Context()).Name, strings.Join(m.Get(r.Context()).Cart, ","))
		}
	}))
	c := newClient(t)
	created := st.created
	st.created = nil // the cart's first save is not the one to pause
	c.Post(url + "/add?item=bread")
	st.created = created
	tab := newClient(t)
	tab.SetCookie(url, c.Cookie(url))

	done := make(chan response, 1)
	go func() { done <- c.Post(url + "/login") }()
	<-created // the new token is saved, the old one not yet retired
	if n, err := m.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
		t.Fatalf("RevokeUser = %d, %v", n, err)
	}
	tab.Post(url + "/add?item=tea")
	close(st.release)
	if r := <-done; r.Status != http.StatusOK {
		t.Fatalf("the revoked login answered %d %s", r.Status, r.Body)
	}
	if got := c.Get(url + "/").Body; got != "" {
		t.Fatalf("after the revocation the browser reads %q", got)
	}
	if got := tab.Get(url + "/").Body; got != "" {
		t.Fatalf("the old session survived: it reads %q", got)
	}
}

// failRetire is pausing whose next compare-and-delete fails once.
type failRetire struct {
	pausing
	fail bool
}

func (f *failRetire) CompareAndSwap(ctx context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	if b == nil && f.fail {
		f.fail = false
		return nil, false, errors.New("store hiccup")
	}
	return f.pausing.CompareAndSwap(ctx, key, old, b, exp)
}

// A renewal whose retirement of the old token failed answered 500, so the
// browser kept the old token, but the new one stayed stored and listed: a
// second session of the user that no browser held.
func TestFailedRenewalLeavesNoSecondSession(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	st := &failRetire{pausing: pausing{MemStore: ms, idx: newMemIndex(ms)}}
	sm := scs.New()
	sm.Store = st
	sm.ErrorFunc = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	m := New[user](sm, WithLogger(discard), WithUserID(func(u user) string { return u.Name }))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			m.Update(r.Context(), func(u *user) { u.Name = "alice" })
		case "/sudo":
			m.RenewToken(r.Context())
		default:
			fmt.Fprint(w, m.Get(r.Context()).Name)
		}
	}))
	c := newClient(t)
	c.Post(url + "/login")
	st.fail = true
	if r := c.Post(url + "/sudo"); r.Status != http.StatusInternalServerError {
		t.Fatalf("a renewal whose store failed answered %d", r.Status)
	}
	if infos, _ := m.Sessions(context.Background(), "alice"); len(infos) != 1 {
		t.Fatalf("one browser, but Sessions lists %d sessions", len(infos))
	}
	if got := c.Get(url + "/").Body; got != "alice" {
		t.Fatalf("after the failed renewal the browser reads %q, want alice (its old session)", got)
	}
}

// indexedSwap is memstore behind SwapStore and UserIndexStore, as a
// third-party store would be: the Manager renews it with two
// compare-and-swaps (swapBackend.renew).
type indexedSwap struct {
	*memstore.MemStore
	UserIndexStore
}

func (s indexedSwap) CompareAndSwap(_ context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	return swapMem(s.MemStore, key, old, b, exp)
}

// indexedRenew is indexedSwap with CompareAndRenew: renewBackend.
type indexedRenew struct{ indexedSwap }

func (s indexedRenew) CompareAndRenew(ctx context.Context, oldKey string, old []byte, key string, b []byte, exp time.Time) ([]byte, bool, error) {
	return memBackend{s.MemStore}.renew(ctx, oldKey, old, key, b, exp)
}

// atomicBackends are the three atomic backends, each with its memory index.
func atomicBackends() map[string]func() (scs.Store, *memIndex) {
	return map[string]func() (scs.Store, *memIndex){
		"memBackend": func() (scs.Store, *memIndex) {
			ms := memstore.NewWithCleanupInterval(0)
			return ms, memIndexOf(ms)
		},
		"swapBackend": func() (scs.Store, *memIndex) {
			ms := memstore.NewWithCleanupInterval(0)
			idx := newMemIndex(ms)
			return indexedSwap{ms, idx}, idx
		},
		"renewBackend": func() (scs.Store, *memIndex) {
			ms := memstore.NewWithCleanupInterval(0)
			idx := newMemIndex(ms)
			return indexedRenew{indexedSwap{ms, idx}}, idx
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
			b, found, _ := x.store.Value().Find(k)
			if env, err := decodeEnvelope(b); !found || err != nil || env.user != u {
				state = "stale"
			}
			out[u+":"+k[:6]] = state
		}
	}
	return out
}

// Every case of a renewal racing another tab, on each backend: the renewing
// request (sudo) reads, another tab acts on the old token, then the renewal
// saves: a change is carried over, an ended or revoked session stays ended, a
// switch of user is indexed under the new user.
func TestRenewalRetiresTheOldTokenInEveryCase(t *testing.T) {
	for name, open := range atomicBackends() {
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

// pauseAfterCreate is indexedSwap that waits once, right after it stores a
// session under a brand-new key: swapBackend.renew between its two steps.
type pauseAfterCreate struct {
	indexedSwap
	mu               sync.Mutex
	created, release chan struct{}
}

func (p *pauseAfterCreate) CompareAndSwap(ctx context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	cur, ok, err := p.indexedSwap.CompareAndSwap(ctx, key, old, b, exp)
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
// ends the old token too, and its index entry under bob goes with it.
func TestRevokedEmulatedRenewalLeavesNoIndexEntry(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	idx := newMemIndex(ms)
	st := &pauseAfterCreate{indexedSwap: indexedSwap{ms, idx}, release: make(chan struct{})}
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

// hookedIndex calls listed after each listing, before returning it.
type hookedIndex struct {
	*memIndex
	listed func()
}

func (h hookedIndex) UserSessions(ctx context.Context, user string) (map[string][]byte, error) {
	out, err := h.memIndex.UserSessions(ctx, user)
	h.listed()
	return out, err
}

// RevokeUser, or RevokeOthers from one more device, while every other
// device of the user has a renewal in flight, in the worst order: the
// listing comes first, then every renewal saves its new token and retires
// its old one, then the revocation deletes the old tokens, which ends
// nothing. Once the revocation returns, none of those devices may be logged in.
func TestRevocationEndsSessionsRenewedWhileItRuns(t *testing.T) {
	const devices = 10
	for _, revoke := range []string{"RevokeUser", "RevokeOthers"} {
		for _, renewing := range []string{"swapBackend", "renewBackend"} {
			t.Run(revoke+"/"+renewing, func(t *testing.T) {
				ms := memstore.NewWithCleanupInterval(0)
				var once sync.Once
				loaded, release, renewed := make(chan struct{}, devices), make(chan struct{}), make(chan struct{}, devices)
				idx := hookedIndex{newMemIndex(ms), func() {}}
				var st scs.Store = indexedSwap{ms, &idx}
				if renewing == "renewBackend" {
					st = indexedRenew{indexedSwap{ms, &idx}}
				}
				sm := scs.New()
				sm.Store = st
				m := New[user](sm, WithUserID(func(u user) string { return u.Name }), WithLogger(discard))
				url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Path {
					case "/login":
						m.RenewToken(r.Context())
						m.Update(r.Context(), func(u *user) { u.Name = "alice" })
					case "/sudo": // reads, then renews once released
						m.Get(r.Context())
						loaded <- struct{}{}
						<-release
						m.RenewToken(r.Context())
						m.Update(r.Context(), func(u *user) { u.UserID++ })
					case "/others":
						if _, err := m.RevokeOthers(r.Context()); err != nil {
							http.Error(w, err.Error(), http.StatusInternalServerError)
						}
					default:
						fmt.Fprint(w, m.Get(r.Context()).Name)
					}
				}))
				var clients []*client
				for range devices {
					c := newClient(t)
					c.Post(url + "/login")
					clients = append(clients, c)
				}
				owner := newClient(t)
				owner.Post(url + "/login")
				var wg sync.WaitGroup
				for _, c := range clients {
					wg.Go(func() { c.Post(url + "/sudo"); renewed <- struct{}{} })
				}
				for range devices {
					<-loaded
				}
				idx.listed = func() { // the first listing lets every renewal save before the deletes
					once.Do(func() {
						close(release)
						for range devices {
							<-renewed
						}
					})
				}
				if revoke == "RevokeUser" {
					if _, err := m.RevokeUser(t.Context(), "alice"); err != nil {
						t.Fatal(err)
					}
				} else if r := owner.Post(url + "/others"); r.Status != http.StatusOK {
					t.Fatalf("RevokeOthers: %d %s", r.Status, r.Body)
				}
				wg.Wait()
				left := 0
				for _, c := range clients {
					if c.Get(url+"/").Body == "alice" {
						left++
					}
				}
				if left > 0 {
					t.Fatalf("%d of %d devices are still logged in after %s returned", left, devices, revoke)
				}
				if revoke == "RevokeOthers" && owner.Get(url+"/").Body != "alice" {
					t.Fatal("RevokeOthers logged out the device that asked")
				}
			})
		}
	}
}
