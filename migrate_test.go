package scsession

import (
	"encoding/gob"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// address is a type an scs app kept in its sessions, registered with gob.
type address struct{ City string }

func init() { gob.Register(address{}) }

// scsApp is the app before the switch: plain scs, values in its gob map.
func scsApp(t *testing.T, store scs.Store) string {
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = time.Hour
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "userID", 42)
		sm.Put(r.Context(), "name", "ada")
		sm.Put(r.Context(), "address", address{City: "Leeds"})
		sm.RememberMe(r.Context(), true)
	})
	return serveRaw(t, sm.LoadAndSave(mux))
}

func fromSCS(values map[string]any, u *user) {
	u.UserID, _ = values["userID"].(int)
	u.Name, _ = values["name"].(string)
	if a, ok := values["address"].(address); ok {
		u.Prefs = map[string]string{"city": a.City}
	}
}

func TestSCSSessionsAreAdoptedOnce(t *testing.T) {
	store := memstore.NewWithCleanupInterval(0)
	old := scsApp(t, store)
	c := newClient(t)
	c.Post(old + "/login")
	token := c.Cookie(old)
	_, _, wasDeadline := mustFind(t, store, token)

	sm := scs.New()
	sm.Store = store
	m := New[user](sm, WithSCSValues(fromSCS), WithLogger(discard))
	url := serve(t, m, userApp(m))
	if got := c.Get(url + "/get").Body; got != "id=42 name=ada cart=[] prefs=map[city:Leeds]" {
		t.Fatalf("the scs session read as %q", got)
	}
	if c.Cookie(url) != token {
		t.Fatal("adopting the session changed its token")
	}
	b, deadline, _ := mustFind(t, store, token)
	env, err := decodeEnvelope(b)
	if err != nil {
		t.Fatalf("after the first request the store holds scs's format still: %v", err)
	}
	if !env.deadline.Equal(deadline) || !deadline.Equal(wasDeadline) || !env.remember {
		t.Fatalf("deadline %v (scs had %v), remember %v: want scs's deadline and RememberMe kept", env.deadline, wasDeadline, env.remember)
	}
	if got := c.Post(url + "/add?item=tea").Body; !strings.Contains(got, "name=ada cart=[tea]") {
		t.Fatalf("the adopted session, changed: %q", got)
	}
}

func TestSCSSessionsReadAsNewWithoutTheOption(t *testing.T) {
	store := memstore.NewWithCleanupInterval(0)
	old := scsApp(t, store)
	c := newClient(t)
	c.Post(old + "/login")

	sm := scs.New()
	sm.Store = store
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, userApp(m))
	if got := c.Get(url + "/get").Body; got != "id=0 name= cart=[] prefs=map[]" {
		t.Fatalf("without WithSCSValues the scs session read as %q, want a new one", got)
	}
}

func TestSCSValuesOfAnotherTypePanics(t *testing.T) {
	defer func() {
		if msg, _ := recover().(string); !strings.Contains(msg, "WithSCSValues(func(values map[string]any, s *scsession.user)") {
			t.Fatalf("panic %q, want the signature to write", msg)
		}
	}()
	New[user](nil, WithSCSValues(func(map[string]any, *address) {}))
}

// mustFind returns what store holds under token, and its deadlines: the
// store's and the one inside scs's own encoding, if it is scs's.
func mustFind(t *testing.T, store *memstore.MemStore, token string) (b []byte, deadline, scsDeadline time.Time) {
	t.Helper()
	b, ok, err := store.Find(token)
	if err != nil || !ok {
		t.Fatalf("the store has nothing under the token (%v)", err)
	}
	if env, err := decodeEnvelope(b); err == nil {
		return b, env.deadline, time.Time{}
	}
	d, _, err := scs.GobCodec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, d, d
}

func TestAdoptedSCSSessionsAreIndexedByUser(t *testing.T) {
	store := memstore.NewWithCleanupInterval(0)
	old := scsApp(t, store)
	c := newClient(t)
	c.Post(old + "/login")

	sm := scs.New()
	sm.Store = store
	m := New[user](sm, WithSCSValues(fromSCS), WithUserID(byName), WithLogger(discard))
	url := serve(t, m, userApp(m))
	c.Get(url + "/get")
	if n, err := m.RevokeUser(t.Context(), "ada"); n != 1 || err != nil {
		t.Fatalf("RevokeUser ended %d adopted sessions (%v), want 1", n, err)
	}
	if got := c.Get(url + "/get").Body; strings.Contains(got, "ada") {
		t.Fatalf("the revoked adopted session still reads %q", got)
	}
}

// An app that used scs with an IdleTimeout (common) switches to scsession
// with the same IdleTimeout: the adopted session must still be logged in.
func TestSCSSessionsAreAdoptedWithAnIdleTimeout(t *testing.T) {
	store := memstore.NewWithCleanupInterval(0)
	old := scs.New()
	old.Store, old.Lifetime, old.IdleTimeout = store, time.Hour, 30*time.Minute
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		old.Put(r.Context(), "userID", 42)
		old.Put(r.Context(), "name", "ada")
	})
	oldURL := serveRaw(t, old.LoadAndSave(mux))
	c := newClient(t)
	c.Post(oldURL + "/login")

	sm := scs.New()
	sm.Store, sm.Lifetime, sm.IdleTimeout = store, time.Hour, 30*time.Minute
	m := New[user](sm, WithSCSValues(fromSCS), WithLogger(discard))
	u := serve(t, m, userApp(m))
	if got := c.Get(u + "/get").Body; !strings.Contains(got, "name=ada") {
		t.Fatalf("with IdleTimeout the scs session read as %q, want ada's", got)
	}
}
