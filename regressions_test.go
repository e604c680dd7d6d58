package scsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// Defects a review of the core found, each kept from coming back. Those of a
// renewal racing other requests that every store comparing and swapping must
// pass run from internal/sessiontest: on memstore in memstore_test.go, on
// Redis in redisstore/.

type scratchSession struct {
	Theme   string
	Scratch string `json:"-"` // never stored
}

func TestDecodeCacheHandsOutOnlyWhatDecodingGives(t *testing.T) {
	m := New[scratchSession](nil, WithLogger(discard))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(s *scratchSession) { s.Theme, s.Scratch = r.FormValue("theme"), r.FormValue("scratch") })
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r.Context())
		fmt.Fprintf(w, "%q %q", s.Theme, s.Scratch)
	})
	url := serve(t, m, mux)
	bob, alice := newClient(t), newClient(t)
	bob.Post(url + "/set?theme=dark")
	alice.Post(url + "/set?theme=dark&scratch=alice-secret") // the same stored bytes as bob's
	if got := bob.Get(url + "/get").Body; got != `"dark" ""` {
		t.Fatalf("bob's session reads %s: another session's unsaved field", got)
	}
	carol := newClient(t)
	carol.Post(url + "/set?theme=%FF") // invalid UTF-8, which JSON replaces
	if got, want := carol.Get(url+"/get").Body, fmt.Sprintf("%q %q", "\ufffd", ""); got != want {
		t.Fatalf("carol's session reads %s, want what decoding gives: %s", got, want)
	}
}

func TestUpdateThatChangesNothingCreatesNoSession(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) {})
	}))
	r := newClient(t).Get(url)
	if _, commits, _ := st.counts(); commits != 0 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("an Update that changes nothing on a new visitor: %d writes, Set-Cookie %q", commits, r.Header.Get("Set-Cookie"))
	}
}

func TestMemstoreDeletesAreNotUndoneByAConcurrentSave(t *testing.T) {
	sm := scs.New()
	st := memstore.NewWithCleanupInterval(0)
	sm.Store = st
	m := New[user](sm, WithLogger(discard))
	v1, v2 := []byte("v1"), []byte("v2")
	expiry := time.Now().Add(time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	undone, tries := 0, 0
	for ; tries < 20000 && time.Now().Before(deadline); tries++ {
		key := fmt.Sprint("k", tries)
		st.Commit(key, v1, expiry)
		var wg sync.WaitGroup
		wg.Go(func() { swapMem(st, key, v1, v2, expiry) })
		wg.Go(func() { m.store.delete(t.Context(), key) })
		wg.Wait()
		if _, found, _ := st.Find(key); found {
			undone++
		}
		st.Delete(key)
	}
	if undone > 0 {
		t.Fatalf("%d of %d deletes were undone by a concurrent save", undone, tries)
	}
}

func TestLogoutRacingAnUpdateStaysLoggedOut(t *testing.T) {
	st := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = st
	m := New[user](sm, WithLogger(discard))
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			m.Update(r.Context(), func(u *user) { u.UserID = 1 })
		case "/add":
			m.Update(r.Context(), func(u *user) { u.Cart = append(u.Cart, "x") })
		case "/logout":
			m.Destroy(r.Context())
		}
	}))
	send := func(path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, nil)
		if token != "" {
			req.Header.Set("Cookie", "session="+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	deadline := time.Now().Add(5 * time.Second)
	back, tries := 0, 0
	for ; tries < 5000 && time.Now().Before(deadline); tries++ {
		cookie, _, _ := strings.Cut(send("/login", "").Header().Get("Set-Cookie"), ";")
		token := strings.TrimPrefix(cookie, "session=")
		var wg sync.WaitGroup
		wg.Go(func() { send("/add", token) })
		wg.Go(func() { send("/logout", token) })
		wg.Wait()
		if _, found, _ := st.Find(token); found {
			back++
		}
	}
	if back > 0 {
		t.Fatalf("%d of %d logouts were undone by a concurrent Update", back, tries)
	}
}

func TestSessionsSavedBeforeWithUserIDCanBeRevoked(t *testing.T) {
	store := memstore.NewWithCleanupInterval(0)
	manager := func(opts ...Option) *Manager[user] {
		sm := scs.New()
		sm.Store = store
		return New[user](sm, append([]Option{WithLogger(discard)}, opts...)...)
	}
	before := manager() // the deploy before WithUserID
	old := serve(t, before, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before.Update(r.Context(), func(u *user) { u.Name = "alice" })
	}))
	after := manager(WithUserID(func(u user) string { return u.Name }))
	whoami := serve(t, after, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, after.Get(r.Context()).Name)
	}))
	c := newClient(t)
	c.Post(old)
	if got := c.Get(whoami).Body; got != "alice" {
		t.Fatalf("after the deploy the session reads %q", got)
	}
	if n, err := after.RevokeUser(t.Context(), "alice"); err != nil || n != 1 {
		t.Fatalf("RevokeUser(alice) = %d, %v; want the session saved before WithUserID", n, err)
	}
	if got := c.Get(whoami).Body; got != "" {
		t.Fatalf("still logged in as %q", got)
	}
}

func TestErrorFuncAnswersWithoutTheHandlersHeaders(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.UserID = 1 })
		w.Header().Set("Cache-Control", "public, max-age=86400")
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	}))
	st.fail = errors.New("store down")
	r := newClient(t).Get(url)
	if r.Status != http.StatusInternalServerError || r.Header.Get("Location") != "" || strings.Contains(r.Header.Get("Cache-Control"), "public") {
		t.Fatalf("the ErrorFunc's answer: %d, Location %q, Cache-Control %q", r.Status, r.Header.Get("Location"), r.Header.Get("Cache-Control"))
	}
}

func TestHijackSavesTheSessionFirst(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	var late error
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.UserID = 7 })
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		late = m.Update(r.Context(), func(u *user) { u.UserID = 8 })
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		buf.Flush()
	}))
	newClient(t).Get(url)
	if _, commits, _ := st.counts(); commits != 1 || !errors.Is(late, ErrCommitted) {
		t.Fatalf("hijack: %d saves, a change after it returned %v; want 1 save before, ErrCommitted after", commits, late)
	}
}

func TestEarlyHintsDoNotStartTheResponse(t *testing.T) {
	m := New[user](nil, WithLogger(discard))
	var err error
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		err = m.Update(r.Context(), func(u *user) { u.UserID = 1 })
	}))
	if r := newClient(t).Get(url); err != nil || r.Header.Get("Set-Cookie") == "" {
		t.Fatalf("Update after 103 Early Hints: %v, Set-Cookie %q", err, r.Header.Get("Set-Cookie"))
	}
}

// After RenewToken, Flashes used to show the old token's stored messages
// without removing them from the store, so another request on the old token,
// at the same moment, showed them as well.
func TestFlashesAfterRenewTokenAreShownOnce(t *testing.T) {
	m := New[user](nil, WithLogger(discard))
	renewed, release := make(chan struct{}), make(chan struct{})
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flash":
			m.Flash(r.Context(), "info", r.FormValue("msg"))
			return
		case "/login": // renews, then shows the page's messages
			m.RenewToken(r.Context())
			if r.FormValue("wait") != "" {
				close(renewed)
				<-release
			}
		}
		for _, f := range m.Flashes(r.Context()) {
			fmt.Fprint(w, f.Message, ";")
		}
	}))

	c := newClient(t)
	c.Post(url + "/flash?msg=hello")
	if got := c.Post(url + "/login").Body; got != "hello;" {
		t.Fatalf("the login page shows %q, want hello;", got)
	}
	if got := c.Get(url + "/").Body; got != "" {
		t.Fatalf("the next page shows %q again", got)
	}

	c.Post(url + "/flash?msg=again")
	tab := newClient(t)
	tab.SetCookie(url, c.Cookie(url))
	done := make(chan response, 1)
	go func() { done <- c.Post(url + "/login?wait=1") }()
	<-renewed
	shownByTab := tab.Get(url + "/").Body
	close(release)
	shownByLogin := (<-done).Body
	if shownByTab+shownByLogin != "again;" {
		t.Fatalf("the other tab showed %q and the login page %q: want again; shown once", shownByTab, shownByLogin)
	}
}

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
	st := &pausing{MemStore: ms, idx: &memIndex{store: ms, users: map[string]map[string]time.Time{}},
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
	st := &pauseOnCreate{pausing: pausing{MemStore: ms, idx: &memIndex{store: ms, users: map[string]map[string]time.Time{}},
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
	st := &failRetire{pausing: pausing{MemStore: ms, idx: &memIndex{store: ms, users: map[string]map[string]time.Time{}}}}
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
