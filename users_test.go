package scsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// The listing and revocation of a user's sessions run on every store with a
// user index (internal/sessiontest): here on memstore (memstore_test.go), and
// on Redis in redisstore/. What follows needs the package's internals.

func TestWithUserIDNeedsAnIndexedStore(t *testing.T) {
	defer func() {
		if msg := fmt.Sprint(recover()); !strings.Contains(msg, "redisstore, goredisstore or pgxstore") {
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
				newClient(t).Post(url + "/login")
			}
			newClient(t).Post(url + "/revoke-user")

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

// A logout removes the session's index entry at once, also from a handler
// that calls Destroy without reading the session first.
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

// "Log out everywhere else" called once the response has started (a page
// that flushes its top first) still revokes the other devices.
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

// An int user ID gives "0" for every anonymous visitor: they are not one
// user, and their sessions are not indexed.
func TestWhatWithUserIDSaysOfTheZeroSessionIsAnonymous(t *testing.T) {
	m := New[user](nil, WithUserID(func(u user) string { return strconv.Itoa(u.UserID) }))
	url := serve(t, m, userApp(m))
	for range 3 {
		newClient(t).Post(url + "/add?item=tea") // visitors with a cart, not logged in
	}
	infos, err := m.Sessions(t.Context(), "0")
	if err != nil || len(infos) != 0 {
		t.Fatalf(`Sessions("0") listed %d anonymous visitors (%v); want none`, len(infos), err)
	}
	if n, err := m.RevokeUser(t.Context(), "0"); err != nil || n != 0 {
		t.Fatalf(`RevokeUser("0") ended %d anonymous visitors (%v); want none`, n, err)
	}
}

// RevokeUser returns how many sessions it ended: a session renewed while it
// runs counts once, with one EventDestroyed.
func TestRevokeCountsARenewedSessionOnce(t *testing.T) {
	sm, _ := memSM()
	var (
		mu      sync.Mutex
		url     string
		clients []*client
		renewed bool
		revoke  = &struct{}{}
	)
	var m *Manager[user]
	m = New[user](sm, WithUserID(byName), WithLogger(discard), WithEvents(func(ctx context.Context, e Event) {
		if e.Kind != EventDestroyed || ctx.Value(revoke) == nil {
			return
		}
		mu.Lock()
		if renewed {
			mu.Unlock()
			return
		}
		renewed = true
		mu.Unlock()
		// Revocation has listed both sessions and just ended one: the other
		// device logs in again (a renewal) before its old token's turn.
		for _, c := range clients {
			if m.name(c.Cookie(url)) != e.Session {
				c.Post(url + "/login?id=1&name=ann")
			}
		}
	}))
	url = serve(t, m, userApp(m))
	for range 2 {
		c := newClient(t)
		c.Post(url + "/login?id=1&name=ann")
		clients = append(clients, c)
	}
	ctx := context.WithValue(t.Context(), revoke, true)
	n, err := m.RevokeUser(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if got := c.Get(url + "/get").Body; strings.Contains(got, "ann") {
			t.Fatalf("device %d is still logged in after RevokeUser: %q", i, got)
		}
	}
	if n != 2 {
		t.Fatalf("RevokeUser ended the 2 sessions of a user, one of them renewed meanwhile, and returned %d; want 2", n)
	}
}

// WithMaxSessions ends the least recently used sessions: without an
// IdleTimeout, a device that only reads still records that it is in use,
// and outlives a device that logged in later and went idle.
func TestMaxSessionsEndsTheLeastRecentlyUsed(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithUserID(byName), WithMaxSessions(2), WithIdleRefresh(time.Millisecond), WithLogger(discard))
	u := serve(t, m, userApp(m))
	laptop, phone, tablet := newClient(t), newClient(t), newClient(t)
	laptop.Post(u + "/login?name=ann")
	time.Sleep(5 * time.Millisecond)
	phone.Post(u + "/login?name=ann") // then never used again
	time.Sleep(5 * time.Millisecond)
	laptop.Get(u + "/get") // the laptop is in use
	time.Sleep(5 * time.Millisecond)
	tablet.Post(u + "/login?name=ann")
	if got := laptop.Get(u + "/get").Body; !strings.Contains(got, "name=ann") {
		t.Fatalf("the laptop, used after the phone's login, was evicted: %q; the idle phone was kept: %q",
			got, phone.Get(u+"/get").Body)
	}
}

// WithMaxSessions without an IdleTimeout saves read-only requests to record
// LastSeen; an anonymous session (no user) is never counted against a cap,
// so it is not rewritten.
func TestSeenRefreshSkipsSessionsWithoutAUser(t *testing.T) {
	sm, ms := memSM()
	m := New[user](sm, WithUserID(byName), WithMaxSessions(2), WithIdleRefresh(time.Millisecond), WithLogger(discard))
	u := serve(t, m, userApp(m))
	b := newClient(t)
	b.Post(u + "/add?item=tea") // anonymous: a cart, no user
	token := b.Cookie(u)
	before, _, _ := ms.Find(token)
	time.Sleep(5 * time.Millisecond)
	b.Get(u + "/get")
	after, _, _ := ms.Find(token)
	if !bytes.Equal(before, after) {
		t.Fatal("a read of an anonymous session was written back to the store, though no cap applies to it")
	}
}
