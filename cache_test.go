package scsession

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

type node struct {
	Name string
	Next *node
}

// deep has a reference of every kind JSON can fill.
type deep struct {
	Tags    []string
	Nested  [][]int
	ByName  map[string][]string
	Ptr     *user
	Users   []user
	Array   [2][]string
	Any     any
	List    *node
	When    time.Time
	Counter int
}

func TestCachedValuesAreDeepCopies(t *testing.T) {
	c := newDecodeCache[deep]()
	if c == nil {
		t.Fatal("no cache for a type that JSON fills with plain references")
	}
	orig := deep{
		Tags:   []string{"a"},
		Nested: [][]int{{1}},
		ByName: map[string][]string{"k": {"v"}},
		Ptr:    &user{Name: "ann", Cart: []string{"tea"}, Prefs: map[string]string{"a": "b"}},
		Users:  []user{{Cart: []string{"jam"}}},
		Array:  [2][]string{{"x"}, nil},
		Any:    map[string]any{"list": []any{"y", map[string]any{"z": 1.0}}},
		List:   &node{Name: "1", Next: &node{Name: "2"}},
		When:   time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
	}
	data, err := encodeData(&orig)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(orig)
	for i := range 3 { // a miss, then hits
		var v deep
		if err := c.decode(&v, data, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(v); string(got) != string(want) {
			t.Fatalf("decode %d: %s, want %s", i, got, want)
		}
		v.Tags[0], v.Nested[0][0], v.ByName["k"][0] = "changed", 9, "changed"
		v.Ptr.Name, v.Ptr.Cart[0], v.Ptr.Prefs["a"] = "changed", "changed", "changed"
		v.Users[0].Cart[0], v.Array[0][0] = "changed", "changed"
		v.Any.(map[string]any)["list"].([]any)[1].(map[string]any)["z"] = 2.0
		v.List.Next.Name = "changed"
	}
	var v deep
	if c.decode(&v, data, time.Now().Add(time.Hour)); v.Tags[0] != "a" || v.Ptr.Cart[0] != "tea" || v.List.Next.Name != "2" {
		t.Fatalf("changing a decoded value changed the cache: %+v", v)
	}
}

func TestTypesWithHiddenReferencesAreNotCached(t *testing.T) {
	type money struct{ Amount *big.Int }
	if newDecodeCache[money]() != nil {
		t.Fatal("big.Int's hidden slice would be shared between copies; want no cache")
	}
	if newDecodeCache[user]() == nil {
		t.Fatal("no cache for the plain user type")
	}
}

// prefsSession loses an empty map to omitempty: decoding its bytes gives nil.
type prefsSession struct {
	Name  string
	Prefs map[string]string `json:",omitempty"`
}

// The value an Update leaves can differ from what decoding the saved bytes
// gives. Every Get, in the same request, the next one or on another
// instance, must give the latter: a cache that kept the former made
// s.Prefs["k"] = v panic on some instances only.
func TestGetEqualsDecodingTheStoredBytes(t *testing.T) {
	store := memstore.NewWithCleanupInterval(0)
	var urls []string
	for range 2 { // two instances on one store
		sm := scs.New()
		sm.Store = store
		m := New[prefsSession](sm)
		mux := http.NewServeMux()
		mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
			m.Update(r.Context(), func(s *prefsSession) { s.Name, s.Prefs = "ann", map[string]string{} })
			fmt.Fprint(w, m.Get(r.Context()).Prefs == nil)
		})
		mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, m.Get(r.Context()).Prefs == nil)
		})
		urls = append(urls, serve(t, m, mux))
	}
	c := newClient(t)
	if got := c.Post(urls[0] + "/set").Body; got != "true" {
		t.Errorf("Get after Update in the same request: Prefs nil is %s, want true, as decoding the saved bytes gives", got)
	}
	for i, url := range urls {
		if got := c.Get(url + "/get").Body; got != "true" {
			t.Errorf("instance %d: Prefs nil is %s, want true, as decoding the saved bytes gives", i, got)
		}
	}
}

func TestDecodeCacheIsBoundedInBytes(t *testing.T) {
	c := newDecodeCache[user]()
	big := strings.Repeat("x", 16<<10)
	for i := range 2 * cacheBytes / len(big) {
		data, err := encodeData(&user{UserID: i, Name: big})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.decode(new(user), data, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n := c.bytes.Load(); n > cacheBytes {
			t.Fatalf("after %d decodes the cache holds %d bytes of data, over its bound of %d", i+1, n, cacheBytes)
		}
	}
	if n := c.bytes.Load(); n < cacheBytes/2 {
		t.Fatalf("the cache holds only %d bytes of data; want it to fill up to its bound of %d", n, cacheBytes)
	}
}

func TestEndedSessionsLeaveTheCache(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = ms
	m := New[user](sm, WithUserID(func(u user) string { return u.Name }))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("POST /signout", func(w http.ResponseWriter, r *http.Request) {
		if m.Get(r.Context()).Name != "" { // a logout page that reads who is leaving
			m.Destroy(r.Context())
		}
	})
	url := serve(t, m, mux)
	for _, end := range []struct {
		name string
		do   func(c *client)
	}{
		{"Destroy", func(c *client) { c.Post(url + "/signout") }},
		{"RevokeUser", func(*client) { m.RevokeUser(t.Context(), "ann") }},
	} {
		t.Run(end.name, func(t *testing.T) {
			c := newClient(t)
			c.Post(url + "/login?id=1&name=ann")
			c.Post(url + "/add?item=" + end.name)
			c.Get(url + "/get")
			b, _, _ := ms.Find(c.Cookie(url))
			env, err := decodeEnvelope(b)
			if err != nil {
				t.Fatalf("the session is not stored: %v", err)
			}
			if e := m.cache.slot(env.data).Load(); e == nil || !bytes.Equal(e.data, env.data) {
				t.Fatal("a read left nothing in the cache")
			}
			end.do(c)
			if e := m.cache.slot(env.data).Load(); e != nil && bytes.Equal(e.data, env.data) {
				t.Fatalf("after %s the cache still holds the ended session's value", end.name)
			}
		})
	}
}

func TestExpiredSessionsLeaveTheCache(t *testing.T) {
	c := newDecodeCache[user]()
	past := time.Now().Add(-time.Second)
	var expired [][]byte
	for i := range sweepEvery {
		data, _ := encodeData(&user{UserID: i})
		expires := time.Now().Add(time.Hour)
		if i%2 == 0 {
			expires = past
			expired = append(expired, data)
		}
		c.decode(new(user), data, expires)
	}
	for _, data := range expired {
		if e := c.slot(data).Load(); e != nil && bytes.Equal(e.data, data) {
			t.Fatalf("the value of an expired session (%s) is still cached after a sweep", data)
		}
	}
}

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

// Destroy forgets the cached value of what was stored, not of the request's
// changes: a logout that changed the session first (Update, or a repair of
// old-shaped data at load) leaves nothing of the ended session cached.
func TestDestroyAfterUpdateForgetsTheCachedValue(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = ms
	m := New[user](sm, WithLogger(discard))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("POST /leave", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.Cart = nil }) // empty the cart, then log out
		m.Destroy(r.Context())
	})
	url := serve(t, m, mux)
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	c.Post(url + "/add?item=tea")
	c.Get(url + "/get")
	b, _, _ := ms.Find(c.Cookie(url))
	env, err := decodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if e := m.cache.slot(env.data).Load(); e == nil || !bytes.Equal(e.data, env.data) {
		t.Fatal("a read left nothing in the cache")
	}
	c.Post(url + "/leave")
	if _, found, _ := ms.Find(c.Cookie(url)); found {
		t.Fatal("not destroyed")
	}
	if e := m.cache.slot(env.data).Load(); e != nil && bytes.Equal(e.data, env.data) {
		t.Fatal("after Destroy the cache still holds the ended session's value")
	}
}
