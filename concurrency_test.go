package scsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/scsession/scsession/redisstore"
)

// raceApp is an app whose handlers hold the session open for a while, the
// way slow pages, parallel fetches and double clicks do.
type raceApp struct {
	m     *Manager[user]
	store scs.Store
	url   string
	gates sync.Map // try id → *gate, for /slow
}

// gate lets a test pause a slow request after it has read its session.
type gate struct{ loaded, release chan struct{} }

var gateIDs atomic.Int64

// whileReading sends c's GET url/slow, runs meanwhile once that request has
// read its session, and then lets it save. The /slow handler finds its gate
// in gates under the request's "try" value, and calls slowRead.
func whileReading(gates *sync.Map, c *client, url string, meanwhile func()) {
	id := fmt.Sprint(gateIDs.Add(1))
	g := &gate{loaded: make(chan struct{}), release: make(chan struct{})}
	gates.Store(id, g)
	defer gates.Delete(id)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		c.get(url + "/slow?try=" + id)
	}()
	<-g.loaded
	meanwhile()
	close(g.release)
	<-finished
}

// slowRead is the /slow handler of whileReading: it reads the session, waits
// to be released, then changes it.
func slowRead(m *Manager[user], gates *sync.Map) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, _ := gates.Load(r.FormValue("try"))
		m.Get(r.Context())
		close(g.(*gate).loaded)
		<-g.(*gate).release
		m.Update(r.Context(), func(u *user) { u.Name, u.Cart = "slow", append(u.Cart, "slow") })
	}
}

func newRaceApp(t *testing.T, store scs.Store) *raceApp {
	sm := scs.New()
	sm.Store = store
	app := &raceApp{m: New[user](sm, WithLogger(discard)), store: store}
	m := app.m
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.Cart = append(u.Cart, r.FormValue("item")) })
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
		m.Update(r.Context(), func(u *user) { u.UserID = 1 })
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
	app.url = serve(t, m, mux)
	return app
}

// stores returns the stores the guarantees hold on: memstore, and Redis
// through scsession's redisstore, with one or two app instances.
func stores(t *testing.T) map[string]func(t *testing.T) []*raceApp {
	return map[string]func(t *testing.T) []*raceApp{
		"memstore": func(t *testing.T) []*raceApp {
			return []*raceApp{newRaceApp(t, memstore.NewWithCleanupInterval(0))}
		},
		"redis": func(t *testing.T) []*raceApp {
			return []*raceApp{newRaceApp(t, redisstore.New(startRedis(t).Pool()))}
		},
		"redis, two instances": func(t *testing.T) []*raceApp {
			srv := startRedis(t)
			return []*raceApp{newRaceApp(t, redisstore.New(srv.Pool())), newRaceApp(t, redisstore.New(srv.Pool()))}
		},
	}
}

// parallel sends n requests at once from c, the i-th to path(i) on one of
// the apps in turn, and returns their bodies.
func parallel(c *client, apps []*raceApp, n int, method string, path func(i int) string) []string {
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := c.do(method, apps[i%len(apps)].url+path(i))
			if r.status != http.StatusOK {
				c.t.Errorf("%s %s: %d %s", method, path(i), r.status, r.body)
			}
			bodies[i] = r.body
		})
	}
	wg.Wait()
	return bodies
}

func TestConcurrentUpdatesAreAllKept(t *testing.T) {
	for name, start := range stores(t) {
		t.Run(name, func(t *testing.T) {
			apps := start(t)
			c := newClient(t)
			c.post(apps[0].url + "/login")
			parallel(c, apps, 40, http.MethodPost, func(i int) string { return fmt.Sprintf("/add?item=%d", i) })
			if got := c.get(apps[0].url + "/get").body; got != "1  40" {
				t.Fatalf("after 40 concurrent additions the session reads %q, want 40 items", got)
			}
		})
	}
}

func TestConcurrentFlashesAreAllKeptAndShownOnce(t *testing.T) {
	for name, start := range stores(t) {
		t.Run(name, func(t *testing.T) {
			apps := start(t)
			c := newClient(t)
			c.post(apps[0].url + "/login")
			parallel(c, apps, 20, http.MethodPost, func(i int) string { return fmt.Sprintf("/flash?msg=m%d", i) })
			shown := strings.Join(parallel(c, apps, 20, http.MethodGet, func(int) string { return "/flashes" }), "")
			for i := range 20 {
				if n := strings.Count(shown, fmt.Sprintf("m%d\n", i)); n != 1 {
					t.Errorf("message m%d shown %d times, want once", i, n)
				}
			}
		})
	}
}

func TestLogoutRacingASlowRequestNeverResurrectsTheSession(t *testing.T) {
	const tries = 1000
	for name, start := range stores(t) {
		t.Run(name, func(t *testing.T) {
			apps := start(t)
			slow, fast := apps[0], apps[len(apps)-1]
			deadline := time.Now().Add(20 * time.Second)
			done := 0
			for ; done < tries && time.Now().Before(deadline); done++ {
				c := newClient(t)
				c.post(fast.url + "/login")
				token := c.cookie(fast.url)
				whileReading(&slow.gates, c, slow.url, func() { c.post(fast.url + "/logout") })

				if _, found, err := slow.store.Find(token); found || err != nil {
					t.Fatalf("try %d: the logged-out session is back in the store (err %v)", done, err)
				}
				attacker := newClient(t)
				attacker.setCookie(fast.url, token)
				if got := attacker.get(fast.url + "/get").body; got != "0  0" {
					t.Fatalf("try %d: the old cookie reads %q after logout", done, got)
				}
			}
			t.Logf("%d logouts raced a slow request; none was undone", done)
			if done < tries/10 {
				t.Fatalf("only %d tries in the time allowed", done)
			}
		})
	}
}

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
	if r := newClient(t).post(url + "/add?item=tea"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("a save that never wins answered %d %q", r.status, r.body)
	}
	if !errors.Is(gotErr, ErrConflict) || store.swaps != maxAttempts {
		t.Fatalf("ErrorFunc got %v after %d attempts; want ErrConflict after %d", gotErr, store.swaps, maxAttempts)
	}
}
