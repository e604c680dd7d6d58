package scsession

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

func TestFlashesSurviveOneRedirectAndShowOnce(t *testing.T) {
	m := New[user](nil)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /save", func(w http.ResponseWriter, r *http.Request) {
		m.Flash(r.Context(), "info", "saved")
		m.Flash(r.Context(), "warn", "but check the date")
		http.Redirect(w, r, "/page", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, m.Flashes(r.Context()))
	})
	url := serve(t, m, mux)
	c := newClient(t)

	r := c.Post(url + "/save")
	if r.Status != http.StatusSeeOther {
		t.Fatalf("POST /save: %d", r.Status)
	}
	if got := c.Get(url + "/page").Body; got != "[{info saved} {warn but check the date}]" {
		t.Fatalf("page after the redirect shows %q", got)
	}
	if got := c.Get(url + "/page").Body; got != "[]" {
		t.Fatalf("the next page shows %q again, want []", got)
	}
}

func TestFlashesAfterResponseStartedAreKeptForTheNextPage(t *testing.T) {
	m := New[user](nil)
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/add":
			m.Flash(r.Context(), "info", "hello")
		case "/late":
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, m.Flashes(r.Context()))
		default:
			fmt.Fprint(w, m.Flashes(r.Context()))
		}
	}))
	c := newClient(t)
	c.Get(url + "/add")
	if got := c.Get(url + "/late").Body; got != "[]" {
		t.Fatalf("Flashes after the response started returned %q; they could not be removed, so want []", got)
	}
	if got := c.Get(url + "/show").Body; got != "[{info hello}]" {
		t.Fatalf("the next page shows %q, want the message once", got)
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

// A store that reads but cannot write (a full Redis, noeviction) must not
// fail pages that only read: neither a pending flash nor an idle refresh
// turns them into a 500.
func TestReadsStayUpWhenTheStoreCannotWrite(t *testing.T) {
	var logs logBuffer
	st := &failingSwaps{MemStore: memstore.NewWithCleanupInterval(0)}
	sm := scs.New()
	sm.Store = st
	sm.IdleTimeout = time.Hour
	m := New[user](sm, WithLogger(logs.logger()), WithIdleRefresh(0)) // every read is due for a refresh
	mux := http.NewServeMux()
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.Name = "ann" })
		m.Flash(r.Context(), "info", "saved")
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, m.Get(r.Context()).Name, " ", m.Flashes(r.Context()))
	})
	url := serve(t, m, mux)
	c := newClient(t)
	c.Post(url + "/flash")
	st.fail.Store(true)
	if r := c.Get(url + "/page"); r.Status != http.StatusOK || r.Body != "ann [{info saved}]" {
		t.Fatalf("a page with a pending flash on a store that cannot write: %d %q; want 200 and the flash", r.Status, r.Body)
	}
	if !strings.Contains(logs.String(), "may show again") {
		t.Errorf("a flash that could not be removed was not logged as possibly showing again:\n%s", logs.String())
	}
	if r := c.Get(url + "/page"); r.Status != http.StatusOK || !strings.HasPrefix(r.Body, "ann ") {
		t.Fatalf("a read due for its idle refresh on a store that cannot write: %d %q; want 200", r.Status, r.Body)
	}
	if !strings.Contains(logs.String(), "not refreshed") {
		t.Errorf("a refresh that could not be written was not logged:\n%s", logs.String())
	}
}

// A client that never follows its redirects must not grow its session for
// ever: the session keeps the newest maxFlashes messages.
func TestFlashesAreBounded(t *testing.T) {
	var logs logBuffer
	m := New[user](nil, WithLogger(logs.logger()))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) { m.Flash(r.Context(), "info", r.FormValue("n")) })
	mux.HandleFunc("GET /show", func(w http.ResponseWriter, r *http.Request) {
		for _, f := range m.Flashes(r.Context()) {
			fmt.Fprint(w, f.Message, " ")
		}
	})
	url := serve(t, m, mux)
	c := newClient(t)
	for i := range maxFlashes + 10 {
		c.Post(fmt.Sprint(url, "/flash?n=", i))
	}
	shown := strings.Fields(c.Get(url + "/show").Body)
	if len(shown) != maxFlashes || shown[0] != fmt.Sprint(10) || shown[maxFlashes-1] != fmt.Sprint(maxFlashes+9) {
		t.Fatalf("after %d flashes never shown, the next page shows %v; want the newest %d", maxFlashes+10, shown, maxFlashes)
	}
	if !strings.Contains(logs.String(), "dropping the oldest") {
		t.Errorf("dropping flash messages was not logged:\n%s", logs.String())
	}
}

// Any client can send the skip header (the README says so): a page that
// flashes must not let it log a warning per request.
func TestSkipHeaderFlashCannotFloodTheLogs(t *testing.T) {
	var logs logBuffer
	sm, _ := memSM()
	m := New[user](sm, WithSkipHeader("X-Skip-Session"), WithLogger(logs.logger()))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Flash(r.Context(), "error", "wrong password")
	}))
	c := newClient(t)
	for range 30 {
		c.Post(url+"/login", "X-Skip-Session", "1")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n > 2 {
		t.Fatalf("30 requests from one client carrying the skip header logged %d warnings; want at most one a second", n)
	}
}

// A client that never follows its redirects (the case the cap is for) must
// not get a warning logged on every request once its session holds 20.
func TestFlashCapCannotFloodTheLogs(t *testing.T) {
	var logs logBuffer
	sm, _ := memSM()
	m := New[user](sm, WithLogger(logs.logger()))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Flash(r.Context(), "error", "wrong password")
	}))
	c := newClient(t)
	for range maxFlashes + 30 {
		c.Post(url + "/login")
	}
	n := 0
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "dropping the oldest") {
			n++
		}
	}
	if n > 2 {
		t.Fatalf("one client that never follows its redirects logged %d warnings in a second; want at most one a second", n)
	}
}
