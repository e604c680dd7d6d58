package goredisstore_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/internal/sessiontest"
)

// An app that switches from redisstore to goredisstore on the same Redis
// keeps its sessions (same keys, same bytes) and its index of them, which
// each listing on a single node folds into this store's: redisstore keeps it under
// scs:user:<user> and scs:user-added:<user>, this store under the user in
// braces. The tests write redisstore's index by moving this store's to
// redisstore's keys: the same members, scores and times added.

// toRedisstoreIndex moves user's index to where redisstore keeps it, as if
// redisstore had written it.
func toRedisstoreIndex(t *testing.T, client *redis.Client, prefix, user string) {
	t.Helper()
	base := strings.TrimSuffix(prefix, "session:")
	for _, kind := range []string{"user:", "user-added:"} {
		if err := client.Rename(t.Context(), base+kind+"{"+user+"}", base+kind+user).Err(); err != nil {
			t.Fatalf("moving %s's index to redisstore's keys: %v", user, err)
		}
	}
}

// A session the Manager read with a user is taken as indexed already:
// requests that use it, writes included, never index it again. Its entry in
// redisstore's index must be found, or until its next login the user's
// listing misses it and RevokeUser leaves it logged in.
func TestSwitchFromRedisstoreKeepsTheUserIndex(t *testing.T) {
	client := newClient(t, startRedis(t).Addr)
	prefix := newPrefix()
	base := strings.TrimSuffix(prefix, "session:")
	sm := scs.New()
	sm.Store, sm.Lifetime = goredisstore.NewWithPrefix(client, prefix), time.Hour
	m := scsession.New[sessiontest.User](sm,
		scsession.WithLogger(slog.New(slog.DiscardHandler)),
		scsession.WithUserID(func(u sessiontest.User) string { return u.Name }))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		m.Update(r.Context(), func(u *sessiontest.User) { u.Name = r.FormValue("name") })
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *sessiontest.User) { u.Cart = append(u.Cart, r.FormValue("item")) })
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, m.Get(r.Context()).Name) })
	srv := httptest.NewServer(m.LoadAndSave(mux))
	t.Cleanup(srv.Close)

	laptop := sessiontest.NewDevice(t, "laptop")
	laptop.Post(srv.URL + "/login?name=alice")
	phone := sessiontest.NewDevice(t, "phone")
	phone.Post(srv.URL + "/login?name=alice")
	toRedisstoreIndex(t, client, prefix, "alice") // both logged in under redisstore
	for _, item := range []string{"tea", "jam", "bread"} {
		laptop.Post(srv.URL + "/add?item=" + item)
	}
	phone.Post(srv.URL + "/login?name=alice") // logged in again: indexed by this store too

	infos, err := m.Sessions(t.Context(), "alice")
	if err != nil || len(infos) != 2 {
		t.Fatalf("alice's sessions after the switch: %d (%v), want her laptop's and her phone's", len(infos), err)
	}
	if members, _ := client.ZRange(t.Context(), base+"user:alice", 0, -1).Result(); len(members) != 1 {
		t.Errorf("redisstore's index after the listing: %q, want the laptop's entry left for instances still on redisstore", members)
	}
	members, _ := client.ZRange(t.Context(), base+"user:{alice}", 0, -1).Result()
	added, _ := client.HLen(t.Context(), base+"user-added:{alice}").Result()
	if len(members) != 2 || added != 2 {
		t.Errorf("alice's index after the listing: %q, %d times added; want both sessions", members, added)
	}
	for _, key := range []string{base + "user:{alice}", base + "user-added:{alice}"} {
		if ttl, _ := client.PTTL(t.Context(), key).Result(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s expires in %v, want with its last session, within the hour", key, ttl)
		}
	}
	if n, err := m.RevokeUser(t.Context(), "alice"); err != nil || n != 2 {
		t.Fatalf("RevokeUser(alice): %d (%v), want 2", n, err)
	}
	if n, _ := client.ZCard(t.Context(), base+"user:alice").Result(); n != 0 {
		t.Errorf("redisstore's index after RevokeUser(alice) holds %d entries, want none", n)
	}
	for _, d := range []*sessiontest.Client{laptop, phone} {
		if who := d.Get(srv.URL + "/whoami").Body; who != "" {
			t.Errorf("after RevokeUser(alice) the %s is still logged in as %q", d.Agent, who)
		}
	}
}

// A session redisstore indexed and this store logs out leaves redisstore's
// index too, and entries there that have expired are not brought back.
func TestSwitchFromRedisstoreRemovesAndExpires(t *testing.T) {
	client := newClient(t, startRedis(t).Addr)
	prefix := newPrefix()
	base := strings.TrimSuffix(prefix, "session:")
	st := goredisstore.NewWithPrefix(client, prefix)
	ctx := t.Context()
	now := time.Now()
	for _, tok := range []string{"kept", "out", "expired"} {
		st.Commit(tok, []byte(tok), now.Add(time.Hour))
	}
	client.ZAdd(ctx, base+"user:bob",
		redis.Z{Score: float64(now.Add(time.Hour).UnixMilli()), Member: "kept"},
		redis.Z{Score: float64(now.Add(time.Hour).UnixMilli()), Member: "out"},
		redis.Z{Score: float64(now.Add(-time.Second).UnixMilli()), Member: "expired"})
	client.HSet(ctx, base+"user-added:bob", "kept", now.UnixMilli(), "out", now.UnixMilli(), "expired", now.UnixMilli())

	if err := st.RemoveUserSession(ctx, "bob", "out"); err != nil { // a logout
		t.Fatal(err)
	}
	if members, _ := client.ZRange(ctx, base+"user:bob", 0, -1).Result(); len(members) != 2 {
		t.Errorf("redisstore's index after the logout: %q, want it without the session logged out", members)
	}
	got, err := st.UserSessions(ctx, "bob")
	if err != nil || len(got) != 1 || string(got["kept"]) != "kept" {
		t.Errorf("bob's sessions: %q (%v), want only the one neither logged out nor expired", got, err)
	}
}

// The legacy key of a user named in braces, "scs:user:{bob}", is this
// store's index of "bob": listing "{bob}" must not take bob's sessions.
func TestSwitchFromRedisstoreKeepsUsersApart(t *testing.T) {
	client := newClient(t, startRedis(t).Addr)
	st := prefixed(client)
	ctx := t.Context()
	expiry := time.Now().Add(time.Hour)
	st.Commit("bobs", []byte("bob's"), expiry)
	st.AddUserSession(ctx, "bob", "bobs", expiry)
	if got, err := st.UserSessions(ctx, "{bob}"); err != nil || len(got) != 0 {
		t.Errorf("the sessions of {bob}: %q (%v), want none", got, err)
	}
	st.RemoveUserSession(ctx, "{bob}", "bobs")
	if got, err := st.UserSessions(ctx, "bob"); err != nil || len(got) != 1 {
		t.Errorf("bob's sessions: %q (%v), want his one", got, err)
	}
}
