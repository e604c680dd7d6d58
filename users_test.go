package scsession

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"

	"github.com/scsession/scsession/redisstore"
)

// accountsApp is an app whose sessions belong to users by name.
type accountsApp struct {
	m     *Manager[user]
	store scs.Store
	url   string
	gates sync.Map // try id → *gate, for /slow
}

func newAccountsApp(t *testing.T, store scs.Store, lifetime time.Duration) *accountsApp {
	sm := scs.New()
	sm.Store, sm.Lifetime = store, lifetime
	m := New[user](sm, WithLogger(discard), WithUserID(func(u user) string { return u.Name }))
	app := &accountsApp{m: m, store: store}
	fail := func(w http.ResponseWriter, err error) bool {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return err != nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if !fail(w, m.RenewToken(r.Context())) {
			fail(w, m.Update(r.Context(), func(u *user) { u.Name = r.FormValue("name") }))
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
		if err := m.Revoke(r.Context(), r.FormValue("id")); errors.Is(err, ErrSessionID) {
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
	app.url = serve(t, m, mux)
	return app
}

// userStores returns the stores the index works on: memstore with one app,
// and Redis with two app instances sharing it.
func userStores() map[string]func(t *testing.T, lifetime time.Duration) (a, b *accountsApp, srv *redisServer) {
	return map[string]func(*testing.T, time.Duration) (*accountsApp, *accountsApp, *redisServer){
		"memstore": func(t *testing.T, lifetime time.Duration) (*accountsApp, *accountsApp, *redisServer) {
			app := newAccountsApp(t, memstore.NewWithCleanupInterval(0), lifetime)
			return app, app, nil
		},
		"redis, two instances": func(t *testing.T, lifetime time.Duration) (*accountsApp, *accountsApp, *redisServer) {
			srv := startRedis(t)
			return newAccountsApp(t, redisstore.New(srv.Pool()), lifetime), newAccountsApp(t, redisstore.New(srv.Pool()), lifetime), srv
		},
	}
}

// device is a browser with a User-Agent of its own.
type device struct {
	*client
	agent string
}

func newDevice(t *testing.T, agent string) device { return device{newClient(t), agent} }

func (d device) get(url string) response {
	d.t.Helper()
	return d.do(http.MethodGet, url, "User-Agent", d.agent)
}
func (d device) post(url string) response {
	d.t.Helper()
	return d.do(http.MethodPost, url, "User-Agent", d.agent)
}

func (d device) sessions(url string) []SessionInfo {
	d.t.Helper()
	r := d.get(url + "/sessions")
	var infos []SessionInfo
	if err := json.Unmarshal([]byte(r.body), &infos); err != nil {
		d.t.Fatalf("GET /sessions: %d %q: %v", r.status, r.body, err)
	}
	return infos
}

func agents(infos []SessionInfo) string {
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

func TestSessionsOfAUserCanBeListedAndRevoked(t *testing.T) {
	for name, start := range userStores() {
		t.Run(name, func(t *testing.T) {
			a, b, _ := start(t, time.Hour)
			laptop, phone, tablet := newDevice(t, "laptop"), newDevice(t, "phone"), newDevice(t, "tablet")
			bob := newDevice(t, "bob's")
			laptop.post(a.url + "/login?name=alice")
			phone.post(b.url + "/login?name=alice")
			tablet.post(a.url + "/login?name=alice")
			bob.post(b.url + "/login?name=bob")

			if got := agents(laptop.sessions(b.url)); got != "laptop* phone tablet" {
				t.Fatalf("alice's sessions seen from her laptop: %q", got)
			}
			if got := agents(bob.sessions(a.url)); got != "bob's*" {
				t.Fatalf("bob's sessions: %q", got)
			}

			var phoneID string
			for _, in := range laptop.sessions(a.url) {
				if in.Agent == "phone" {
					phoneID = in.ID
				}
				if strings.Contains(in.ID, phone.cookie(a.url)) || in.Created.IsZero() || in.LastSeen.IsZero() || !in.Expires.After(time.Now()) {
					t.Fatalf("session info %+v: want an opaque ID and times", in)
				}
			}
			if r := bob.post(b.url + "/revoke?id=" + phoneID); r.status != http.StatusForbidden {
				t.Fatalf("bob revoking alice's phone: %d %q, want it refused", r.status, r.body)
			}
			if got := phone.get(b.url + "/whoami").body; got != "alice" {
				t.Fatalf("bob's forged revoke logged alice's phone out: %q", got)
			}
			laptop.post(a.url + "/revoke?id=" + phoneID)
			if got := phone.get(b.url + "/whoami").body; got != "" {
				t.Fatalf("the revoked phone is still logged in as %q", got)
			}

			if got := laptop.post(b.url + "/revoke-others").body; got != "1" {
				t.Fatalf("log out everywhere else ended %s sessions, want 1 (the tablet)", got)
			}
			if got := tablet.get(a.url + "/whoami").body; got != "" {
				t.Fatalf("the tablet is still logged in as %q", got)
			}
			if got := laptop.get(b.url + "/whoami").body; got != "alice" {
				t.Fatalf("log out everywhere else logged out the laptop too: %q", got)
			}
			if got := agents(laptop.sessions(a.url)); got != "laptop*" {
				t.Fatalf("alice's sessions after: %q", got)
			}

			if got := laptop.post(a.url + "/revoke-user?name=bob").body; got != "1" {
				t.Fatalf("RevokeUser(bob) ended %s sessions, want 1", got)
			}
			if got := bob.get(a.url + "/whoami").body; got != "" {
				t.Fatalf("bob is still logged in as %q", got)
			}

			laptop.post(a.url + "/logout")
			laptop.post(a.url + "/login?name=carol")
			if got := laptop.sessions(b.url); len(got) != 1 {
				t.Fatalf("carol has %d sessions, want 1", len(got))
			}
			if n, err := a.m.Sessions(t.Context(), "alice"); err != nil || len(n) != 0 {
				t.Fatalf("alice, logged out everywhere, still has %v (%v)", n, err)
			}
		})
	}
}

func TestUserIndexFollowsRenewalsAndExpiry(t *testing.T) {
	for name, start := range userStores() {
		t.Run(name, func(t *testing.T) {
			a, b, _ := start(t, 700*time.Millisecond)
			laptop := newDevice(t, "laptop")
			laptop.post(a.url + "/login?name=alice")
			first := laptop.sessions(b.url)
			laptop.post(b.url + "/login?name=alice") // a privilege change: a new token
			second := laptop.sessions(a.url)
			if len(second) != 1 || !second[0].Current || second[0].ID == first[0].ID || !second[0].Created.After(first[0].Created) {
				t.Fatalf("after renewal: %+v, before %+v; want one, current, with a new ID and creation time", second, first)
			}
			time.Sleep(800 * time.Millisecond)
			if infos, err := a.m.Sessions(t.Context(), "alice"); err != nil || len(infos) != 0 {
				t.Fatalf("after the lifetime: %+v (%v), want none", infos, err)
			}
		})
	}
}

func TestRevokedSessionStaysRevokedUnderARequestInFlight(t *testing.T) {
	const tries = 200
	for name, start := range userStores() {
		t.Run(name, func(t *testing.T) {
			a, b, _ := start(t, time.Hour)
			deadline := time.Now().Add(15 * time.Second)
			done := 0
			for ; done < tries && time.Now().Before(deadline); done++ {
				stolen, owner := newDevice(t, "stolen"), newDevice(t, "owner")
				stolen.post(a.url + "/login?name=dave")
				owner.post(b.url + "/login?name=dave")
				whileReading(&a.gates, stolen.client, a.url, func() { owner.post(b.url + "/revoke-others") })
				if got := stolen.get(a.url + "/whoami").body; got != "" {
					t.Fatalf("try %d: the revoked session came back as %q", done, got)
				}
				owner.post(b.url + "/logout")
			}
			if done < tries/10 {
				t.Fatalf("only %d tries in the time allowed", done)
			}
		})
	}
}

func TestListingSessionsIsOneRoundTripWithoutScanning(t *testing.T) {
	srv := startRedis(t)
	var trips tripCounter
	pool := countingPool(t, srv.Addr, &trips)
	app := newAccountsApp(t, redisstore.New(pool), time.Hour)
	for i := range 3 {
		newDevice(t, fmt.Sprint("device ", i)).post(app.url + "/login?name=erin")
	}
	for i := range 50 { // other users' sessions, which listing erin's must not touch
		newDevice(t, "other").post(app.url + fmt.Sprintf("/login?name=user%d", i))
	}
	app.m.Sessions(t.Context(), "erin") // Redis learns the script (EVALSHA fails, EVAL follows) once
	trips.take()
	infos, err := app.m.Sessions(t.Context(), "erin")
	if err != nil || len(infos) != 3 {
		t.Fatalf("erin's sessions: %+v (%v)", infos, err)
	}
	if got := trips.take(); len(got) != 1 || got[0] != "EVALSHA" {
		t.Fatalf("listing took %q, want one script call", got)
	}
	keys, _ := redis.Strings(srv.Do("KEYS", "scs:user:*"), nil)
	if len(keys) != 51 {
		t.Fatalf("%d index keys, want one per user (51)", len(keys))
	}
}

func TestWithUserIDNeedsAnIndexedStore(t *testing.T) {
	defer func() {
		if msg := fmt.Sprint(recover()); !strings.Contains(msg, "scsession/redisstore") {
			t.Fatalf("panic %q does not say which stores index users", msg)
		}
	}()
	sm, _ := newSM() // a counting wrapper: no index
	New[user](sm, WithUserID(func(u user) string { return u.Name }))
}

func TestOldEnvelopesStillDecode(t *testing.T) {
	// Version 2 held T's JSON as it is; version 1 also had no user and
	// agent: the same bytes without their two empty strings.
	e := envelope{deadline: time.Now().Add(time.Hour), flashes: []Flash{{"info", "hi"}}}
	v2 := append([]byte(magicV2), e.encode()[len(magic):]...)
	v2 = append(v2, `{"Name":"ann"}`...)
	v1 := append([]byte(magicV1), v2[len(magic):headerSize]...)
	v1 = append(v1, v2[headerSize+2:]...)
	for name, b := range map[string][]byte{"1": v1, "2": v2} {
		got, err := decodeEnvelope(b)
		if err != nil || string(got.data) != string(packed(`{"Name":"ann"}`)) || len(got.flashes) != 1 {
			t.Fatalf("a version %s envelope decodes to %+v, %v", name, got, err)
		}
	}
}

func TestOldEnvelopeWithDamagedDataKeepsItsHeader(t *testing.T) {
	e := envelope{deadline: time.Now().Add(time.Hour), flashes: []Flash{{"info", "hi"}}, user: "ann", hasUser: true}
	v2 := append([]byte(magicV2), e.encode()[len(magic):]...)
	v2 = append(v2, `{"Name":"ann"`...) // cut short
	got, err := decodeEnvelope(v2)
	if err != nil || len(got.flashes) != 1 || got.user != "ann" {
		t.Fatalf("a version 2 envelope with damaged data decodes to %+v, %v; want its header kept", got, err)
	}
	if _, err := decodeData[user](got.data); !errors.Is(err, errPacked) {
		t.Fatalf("decoding its data: %v, want %v", err, errPacked)
	}
}

func TestRevocationNamesSessionsAsOtherEventsDo(t *testing.T) {
	for _, hashed := range []bool{false, true} {
		t.Run(fmt.Sprintf("HashTokenInStore=%v", hashed), func(t *testing.T) {
			sm := scs.New()
			sm.HashTokenInStore = hashed
			var events eventLog
			m := New[user](sm, WithLogger(discard), events.option(), WithUserID(func(u user) string { return u.Name }))
			mux := http.NewServeMux()
			mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
				m.Update(r.Context(), func(u *user) { u.Name = "ann" })
			})
			mux.HandleFunc("POST /revoke-user", func(w http.ResponseWriter, r *http.Request) {
				m.RevokeUser(r.Context(), "ann")
			})
			url := serve(t, m, mux)
			for range 2 {
				newClient(t).post(url + "/login")
			}
			newClient(t).post(url + "/revoke-user")

			names := map[EventKind][]string{}
			for _, e := range events.events {
				names[e.Kind] = append(names[e.Kind], e.Session)
			}
			slices.Sort(names[EventCreated])
			slices.Sort(names[EventDestroyed])
			if len(names[EventCreated]) != 2 || !slices.Equal(names[EventCreated], names[EventDestroyed]) {
				t.Fatalf("created %v, destroyed %v: want the same two names", names[EventCreated], names[EventDestroyed])
			}
		})
	}
}
