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

// The guarantees under concurrency run on every store that compares and
// swaps (internal/sessiontest): here on memstore (memstore_test.go), and on
// Redis in redisstore/. What follows needs the package's internals.

// busyStore is a store where some other request always saved first.
type busyStore struct {
	*memstore.MemStore
	swaps int
}

func (s *busyStore) CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	s.swaps++
	newer := (&envelope{deadline: expiry, data: packed(fmt.Sprintf(`{"UserID":%d}`, s.swaps))}).encode()
	return newer, false, nil
}

func TestEndlessConflictsFailThroughTheErrorFunc(t *testing.T) {
	store := &busyStore{MemStore: memstore.NewWithCleanupInterval(0)}
	sm := scs.New()
	sm.Store = store
	var gotErr error
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		gotErr = err
		http.Error(w, "try again", http.StatusServiceUnavailable)
	}
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, userApp(m))
	if r := newClient(t).Post(url + "/add?item=tea"); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("a save that never wins answered %d %q", r.Status, r.Body)
	}
	if !errors.Is(gotErr, ErrConflict) || store.swaps != maxAttempts {
		t.Fatalf("ErrorFunc got %v after %d attempts; want ErrConflict after %d", gotErr, store.swaps, maxAttempts)
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

// A read-only request whose only write is the idle refresh, racing a logout,
// had no changes, so it drops nothing: no EventDropped, no Warn.
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
