package sessiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
)

// User is the session of the apps here: what a real app keeps.
type User struct {
	UserID int
	Name   string
	Cart   []string
}

var discard = slog.New(slog.DiscardHandler)

// raceApp is an app whose handlers hold the session open for a while, the
// way slow pages, parallel fetches and double clicks do.
type raceApp struct {
	m     *scsession.Manager[User]
	store scs.Store
	url   string
	gates sync.Map // try id → *gate, for /slow
}

func newRaceApp(t *testing.T, store scs.Store) *raceApp {
	sm := scs.New()
	sm.Store = store
	app := &raceApp{m: scsession.New[User](sm, scsession.WithLogger(discard)), store: store}
	m := app.m
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *User) { u.Cart = append(u.Cart, r.FormValue("item")) })
		time.Sleep(2 * time.Millisecond) // the page's own work, while others save
	})
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		m.Flash(r.Context(), "info", r.FormValue("msg"))
		time.Sleep(2 * time.Millisecond)
	})
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		flashes := m.Flashes(r.Context())
		time.Sleep(2 * time.Millisecond)
		for _, f := range flashes {
			fmt.Fprintln(w, f.Message)
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *User) { u.UserID = 1 })
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /slow", slowRead(m, &app.gates))
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		u := m.Get(r.Context())
		fmt.Fprintf(w, "%d %s %d", u.UserID, u.Name, len(u.Cart))
	})
	app.url = serve(t, m.LoadAndSave(mux))
	return app
}

// raceApps serves one raceApp per store.
func raceApps(t *testing.T, stores []scs.Store) []*raceApp {
	apps := make([]*raceApp, len(stores))
	for i, st := range stores {
		apps[i] = newRaceApp(t, st)
	}
	return apps
}

// gate lets a test pause a slow request after it has read its session.
type gate struct{ loaded, release chan struct{} }

var gateIDs atomic.Int64

// whileReading sends c's GET url/slow, runs meanwhile once that request has
// read its session, and then lets it save. The /slow handler finds its gate
// in gates under the request's "try" value, and calls slowRead.
func whileReading(gates *sync.Map, c *Client, url string, meanwhile func()) {
	id := fmt.Sprint(gateIDs.Add(1))
	g := &gate{loaded: make(chan struct{}), release: make(chan struct{})}
	gates.Store(id, g)
	defer gates.Delete(id)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		c.Get(url + "/slow?try=" + id)
	}()
	<-g.loaded
	meanwhile()
	close(g.release)
	<-finished
}

// slowRead is the /slow handler of whileReading: it reads the session, waits
// to be released, then changes it.
func slowRead(m *scsession.Manager[User], gates *sync.Map) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, _ := gates.Load(r.FormValue("try"))
		m.Get(r.Context())
		close(g.(*gate).loaded)
		<-g.(*gate).release
		m.Update(r.Context(), func(u *User) { u.Name, u.Cart = "slow", append(u.Cart, "slow") })
	}
}

// AccountsApp is an app whose sessions belong to users by name
// (WithUserID): a login, the user's sessions, and ways to end them.
type AccountsApp struct {
	URL   string
	M     *scsession.Manager[User]
	gates sync.Map // try id → *gate, for /slow
}

// NewAccountsApp serves an AccountsApp on store, whose sessions last
// lifetime, with opts after its own options.
func NewAccountsApp(t *testing.T, store scs.Store, lifetime time.Duration, opts ...scsession.Option) *AccountsApp {
	sm := scs.New()
	sm.Store, sm.Lifetime = store, lifetime
	opts = append([]scsession.Option{scsession.WithLogger(discard), scsession.WithUserID(func(u User) string { return u.Name })}, opts...)
	m := scsession.New[User](sm, opts...)
	app := &AccountsApp{M: m}
	fail := func(w http.ResponseWriter, err error) bool {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return err != nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if !fail(w, m.RenewToken(r.Context())) {
			fail(w, m.Update(r.Context(), func(u *User) { u.Name = r.FormValue("name") }))
		}
	})
	mux.HandleFunc("POST /sudo", func(w http.ResponseWriter, r *http.Request) { // a privilege change: renews a logged-in session
		if m.Get(r.Context()).Name != "" && !fail(w, m.RenewToken(r.Context())) {
			fail(w, m.Update(r.Context(), func(u *User) { u.UserID++ }))
		}
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, m.Get(r.Context()).Name)
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		infos, err := m.Sessions(r.Context(), m.Get(r.Context()).Name)
		if !fail(w, err) {
			json.NewEncoder(w).Encode(infos)
		}
	})
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Revoke(r.Context(), r.FormValue("id")); errors.Is(err, scsession.ErrSessionID) {
			http.Error(w, "not one of your sessions", http.StatusForbidden)
		} else {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := m.RevokeOthers(r.Context())
		if !fail(w, err) {
			fmt.Fprint(w, n)
		}
	})
	mux.HandleFunc("POST /revoke-user", func(w http.ResponseWriter, r *http.Request) {
		n, err := m.RevokeUser(r.Context(), r.FormValue("name"))
		if !fail(w, err) {
			fmt.Fprint(w, n)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		fail(w, m.Destroy(r.Context()))
	})
	mux.HandleFunc("GET /slow", slowRead(m, &app.gates))
	app.URL = serve(t, m.LoadAndSave(mux))
	return app
}

// accountsApps serves an AccountsApp on the first two stores, or one app
// twice if there is only one.
func accountsApps(t *testing.T, stores []scs.Store, lifetime time.Duration, opts ...scsession.Option) (a, b *AccountsApp) {
	a = NewAccountsApp(t, stores[0], lifetime, opts...)
	if len(stores) == 1 {
		return a, a
	}
	return a, NewAccountsApp(t, stores[1], lifetime, opts...)
}

// NewDevice returns a browser with a User-Agent of its own.
func NewDevice(t *testing.T, agent string) *Client {
	c := NewClient(t)
	c.Agent = agent
	return c
}

// sessions is what c's GET url/sessions lists.
func sessions(c *Client, url string) []scsession.SessionInfo {
	c.T().Helper()
	r := c.Get(url + "/sessions")
	var infos []scsession.SessionInfo
	if err := json.Unmarshal([]byte(r.Body), &infos); err != nil {
		c.T().Fatalf("GET /sessions: %d %q: %v", r.Status, r.Body, err)
	}
	return infos
}

// agents sums up a listing: the sorted User-Agents, "*" marking the current
// session's.
func agents(infos []scsession.SessionInfo) string {
	var s []string
	for _, in := range infos {
		mark := ""
		if in.Current {
			mark = "*"
		}
		s = append(s, in.Agent+mark)
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}
