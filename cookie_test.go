package scsession

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

var (
	oldKey = bytes.Repeat([]byte("o"), 32)
	newKey = bytes.Repeat([]byte("n"), 32)
)

// signedApps serves userApp on one store with three key sets: the old key
// alone, the rotation (new key first, old after), and the new key alone.
func signedApps(t *testing.T) (old, rotating, current string, st *countingStore) {
	st = newCountingStore()
	for i, keys := range [][][]byte{{oldKey}, {newKey, oldKey}, {newKey}} {
		sm, _ := newSM()
		sm.Store = st
		m := New[user](sm, WithSigningKeys(keys...))
		url := serve(t, m, userApp(m))
		switch i {
		case 0:
			old = url
		case 1:
			rotating = url
		case 2:
			current = url
		}
	}
	return old, rotating, current, st
}

func TestSignedCookieRotation(t *testing.T) {
	old, rotating, current, _ := signedApps(t)
	c := newClient(t)
	c.Post(old + "/add?item=tea")
	signedOld := c.Cookie(old)
	token, sig, ok := strings.Cut(signedOld, ".")
	if !ok || !isToken(token) || len(sig) != sigLen {
		t.Fatalf("signed cookie %q is not token.signature", signedOld)
	}

	if got := c.Replay(http.MethodGet, current+"/get", signedOld).Body; strings.Contains(got, "tea") {
		t.Fatal("a server without the old key accepted its cookie")
	}
	r := c.Get(rotating + "/get")
	if !strings.Contains(r.Body, "tea") {
		t.Fatalf("the rotating server rejected a cookie signed with the old key: %q", r.Body)
	}
	resigned := c.Cookie(rotating)
	if resigned == signedOld || !strings.HasPrefix(resigned, token+".") {
		t.Fatalf("cookie after rotation %q, want the same token signed with the new key", resigned)
	}
	if got := c.Get(current + "/get").Body; !strings.Contains(got, "tea") {
		t.Fatalf("the re-signed cookie does not verify with the new key alone: %q", got)
	}
}

func TestBadCookiesNeverReachTheStore(t *testing.T) {
	_, _, current, st := signedApps(t)
	c := newClient(t)
	c.Post(current + "/add?item=tea")
	good := c.Cookie(current)
	token, sig, _ := strings.Cut(good, ".")
	other := newToken()
	flipped := []byte(sig)
	flipped[3] ^= 1

	tests := []struct {
		name, value string
	}{
		{"tampered signature", token + "." + string(flipped)},
		{"unsigned token", token},
		{"signature of another token", other + "." + sig},
		{"signed with an unknown key", token + "." + strings.TrimPrefix(signWith(t, oldKey, token), token+".")},
		{"path traversal", "../../etc/passwd"},
		{"empty signature", token + "."},
		{"long junk", strings.Repeat("A", 4096)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := newClient(t)
			bad.SetCookie(current, tt.value)
			st.counts()
			r := bad.Get(current + "/get")
			if r.Status != http.StatusOK || r.Body != "id=0 name= cart=[] prefs=map[]" {
				t.Fatalf("got %d %q, want a fresh session", r.Status, r.Body)
			}
			if finds, _, _ := st.counts(); finds != 0 {
				t.Fatalf("the cookie reached the store (%d finds)", finds)
			}
		})
	}
	if got := c.Get(current + "/get").Body; !strings.Contains(got, "tea") {
		t.Fatalf("the good cookie stopped working: %q", got)
	}
}

func TestUnsignedCookiesMustLookLikeTokens(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm)
	url := serve(t, m, userApp(m))
	for _, value := range []string{"x", "../../etc/passwd", strings.Repeat("é", 43), newToken() + "x"} {
		c := newClient(t)
		c.SetCookie(url, value)
		st.counts()
		if r := c.Get(url + "/get"); r.Status != http.StatusOK {
			t.Fatalf("cookie %q: status %d", value, r.Status)
		}
		if finds, _, _ := st.counts(); finds != 0 {
			t.Fatalf("cookie %q reached the store", value)
		}
	}
}

func signWith(t *testing.T, key []byte, token string) string {
	return New[user](nil, WithSigningKeys(key)).sign(token)
}

// A bad cookie is expired once, and a client that keeps sending bad cookies
// cannot flood the logs with warnings.
func TestARejectedCookieIsClearedAndItsWarningsAreLimited(t *testing.T) {
	var logs logBuffer
	m := New[user](nil, WithSigningKeys(bytes.Repeat([]byte("k"), 32)), WithLogger(logs.logger()))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	r := c.Replay(http.MethodGet, url+"/nothing", newToken()+".forged")
	if sc := r.Header.Get("Set-Cookie"); !strings.Contains(sc, "session=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("the response to a rejected cookie sets %q; want the cookie expired", sc)
	}
	for range 20 {
		c.Replay(http.MethodGet, url+"/nothing", newToken()+".forged")
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"scsession: rejected\""); n < 1 || n > 2 {
		t.Fatalf("21 rejected cookies within a second or two logged %d warnings; want 1 (or 2 across a second's edge):\n%s", n, logs.String())
	}
}

// A rolling deploy of the rotation the README describes (new key first, old
// key after): an instance still on the old key alone does not expire the
// cookie the rotated instances signed, so the user stays logged in there.
func TestKeyRotationInARollingDeployKeepsTheLogin(t *testing.T) {
	st := memstore.NewWithCleanupInterval(0)
	smOld, smNew := scs.New(), scs.New()
	smOld.Store, smNew.Store = st, st
	oldApp := New[user](smOld, WithSigningKeys(oldKey), WithLogger(discard))
	newApp := New[user](smNew, WithSigningKeys(newKey, oldKey), WithLogger(discard))
	oldURL, newURL := serve(t, oldApp, userApp(oldApp)), serve(t, newApp, userApp(newApp))
	c := newClient(t)
	c.Post(oldURL + "/login?id=1&name=ann")
	if got := c.Get(newURL + "/get").Body; !strings.Contains(got, "name=ann") {
		t.Fatalf("the rotated instance does not read the login: %q", got)
	}
	r := c.Get(oldURL + "/nothing") // a static file, served by an instance not yet rolled
	if got := c.Get(newURL + "/get").Body; !strings.Contains(got, "name=ann") {
		t.Fatalf("a static file served by a not-yet-rotated instance (Set-Cookie %q) logged the user out: %q",
			r.Header.Get("Set-Cookie"), got)
	}
}

// cookieValue reads the Cookie header without allocating.
func TestCookieValueAllocatesNothing(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", `a=1; session="abc"; session=def`)
	r.Header.Add("Cookie", "b=2")
	if v, ok := cookieValue(r, "session"); !ok || v != "abc" {
		t.Fatalf("%q %v", v, ok)
	}
	if v, ok := cookieValue(r, "b"); !ok || v != "2" {
		t.Fatalf("%q %v", v, ok)
	}
	if allocs := testing.AllocsPerRun(100, func() { cookieValue(r, "b") }); allocs != 0 {
		t.Fatalf("cookieValue allocates %v times", allocs)
	}
}
