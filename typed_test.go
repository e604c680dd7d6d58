package scsession

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// userApp is a small app on a user session, the way handlers use the Manager.
func userApp(m *Manager[user]) http.Handler {
	mux := http.NewServeMux()
	show := func(w http.ResponseWriter, u user) {
		fmt.Fprintf(w, "id=%d name=%s cart=%v prefs=%v", u.UserID, u.Name, u.Cart, u.Prefs)
	}
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		show(w, m.Get(r.Context()))
	})
	mux.HandleFunc("GET /nothing", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "static")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.FormValue("id"))
		if err := m.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		m.Update(r.Context(), func(u *user) { u.UserID, u.Name = id, r.FormValue("name") })
		show(w, m.Get(r.Context()))
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		err := m.Update(r.Context(), func(u *user) {
			u.Cart = append(u.Cart, r.FormValue("item"))
			if u.Prefs == nil {
				u.Prefs = map[string]string{}
			}
			u.Prefs["last"] = r.FormValue("item")
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		show(w, m.Get(r.Context()))
	})
	mux.HandleFunc("GET /mutate", func(w http.ResponseWriter, r *http.Request) {
		u := m.Get(r.Context())
		u.Name = "changed"
		if len(u.Cart) > 0 {
			u.Cart[0] = "changed"
		}
		if u.Prefs != nil {
			u.Prefs["last"] = "changed"
		}
		show(w, m.Get(r.Context()))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "bye")
	})
	mux.HandleFunc("POST /late", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "written; ")
		err := m.Update(r.Context(), func(u *user) { u.Name = "late" })
		fmt.Fprint(w, errors.Is(err, ErrCommitted))
	})
	return mux
}

func TestUpdateIsSavedAndSeenOnLaterRequests(t *testing.T) {
	m := New[user](nil)
	url := serve(t, m, userApp(m))
	c := newClient(t)

	c.Post(url + "/login?id=7&name=ann")
	c.Post(url + "/add?item=tea")
	got := c.Post(url + "/add?item=jam")
	want := "id=7 name=ann cart=[tea jam] prefs=map[last:jam]"
	if got.Body != want {
		t.Fatalf("after two adds: %q, want %q", got.Body, want)
	}
	if got := c.Get(url + "/get").Body; got != want {
		t.Fatalf("next request reads %q, want %q", got, want)
	}
}

func TestGetReturnsTheCallersCopy(t *testing.T) {
	sm, _ := newSM()
	m := New[user](sm)
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=1&name=bo")
	c.Post(url + "/add?item=tea")

	want := "id=1 name=bo cart=[tea] prefs=map[last:tea]"
	if got := c.Get(url + "/mutate").Body; got != want {
		t.Fatalf("Get after changing a Get result in the same request: %q, want %q", got, want)
	}
	if got := c.Get(url + "/get").Body; got != want {
		t.Fatalf("next request: %q, want %q", got, want)
	}
}

func TestGetAndUpdateInOneRequestSeeEachOther(t *testing.T) {
	m := New[user](nil)
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		m.Update(ctx, func(u *user) { u.Cart = append(u.Cart, "a") })
		first := m.Get(ctx)
		m.Update(ctx, func(u *user) { u.Cart = append(u.Cart, "b") })
		fmt.Fprint(w, first.Cart, m.Get(ctx).Cart)
	}))
	if got := newClient(t).Get(url).Body; got != "[a] [a b]" {
		t.Fatalf("got %q, want [a] [a b]", got)
	}
}

func TestStoreTraffic(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm)
	url := serve(t, m, userApp(m))

	anon := newClient(t)
	if r := anon.Get(url + "/get"); r.Header.Get("Set-Cookie") != "" {
		t.Errorf("a visitor who only reads got a cookie: %q", r.Header.Get("Set-Cookie"))
	}
	if finds, commits, _ := st.counts(); finds != 0 || commits != 0 {
		t.Errorf("a visitor without a cookie who only reads: %d finds, %d commits; want 0, 0", finds, commits)
	}

	c := newClient(t)
	c.Post(url + "/add?item=tea")
	st.counts()
	tests := []struct {
		path           string
		finds, commits int
	}{
		{"/get", 1, 0},
		{"/nothing", 0, 0},
		{"/mutate", 1, 0},
	}
	for _, tt := range tests {
		r := c.Get(url + tt.path)
		finds, commits, _ := st.counts()
		if finds != tt.finds || commits != tt.commits {
			t.Errorf("GET %s: %d finds, %d commits; want %d, %d", tt.path, finds, commits, tt.finds, tt.commits)
		}
		if sc := r.Header.Get("Set-Cookie"); sc != "" {
			t.Errorf("GET %s rewrote the cookie: %q", tt.path, sc)
		}
	}
	r := c.Post(url + "/add?item=jam")
	if finds, commits, _ := st.counts(); finds != 1 || commits != 1 {
		t.Errorf("a write: %d finds, %d commits; want 1, 1", finds, commits)
	}
	if sc := r.Header.Get("Set-Cookie"); sc != "" {
		t.Errorf("a write re-sent the cookie the client holds: %q", sc)
	}
}

func TestUpdateThatChangesNothingWritesNothing(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm)
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) {
			if u.Name == "" { // "make sure there is a CSRF token", say
				u.Name = "ann"
			}
		})
	}))
	c := newClient(t)
	c.Get(url)
	st.counts()
	r := c.Get(url)
	if _, commits, _ := st.counts(); commits != 0 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("an Update that changed nothing: %d store writes, Set-Cookie %q; want none", commits, r.Header.Get("Set-Cookie"))
	}
}

func TestUpdateAfterResponseStartedReturnsErrCommitted(t *testing.T) {
	sm, _ := newSM()
	var logs logBuffer
	m := New[user](sm, WithLogger(logs.logger()))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")

	if got := c.Post(url + "/late").Body; got != "written; true" {
		t.Fatalf("late Update: %q, want it to report ErrCommitted", got)
	}
	if got := c.Get(url + "/get").Body; !strings.Contains(got, "name=ann") {
		t.Fatalf("the late change was saved after all: %q", got)
	}
	if !strings.Contains(logs.String(), "late change") || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("the lost change was not logged as a warning; log:\n%s", logs.String())
	}
}

func TestRenewTokenKeepsDataAndKillsOldToken(t *testing.T) {
	sm, _ := newSM()
	m := New[user](sm)
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	old := c.Cookie(url)

	c.Post(url + "/login?id=3&name=cy")
	if c.Cookie(url) == old {
		t.Fatal("login kept the old token")
	}
	if got := c.Get(url + "/get").Body; got != "id=3 name=cy cart=[tea] prefs=map[last:tea]" {
		t.Fatalf("after renewal: %q", got)
	}

	attacker := newClient(t)
	attacker.SetCookie(url, old)
	if got := attacker.Get(url + "/get").Body; got != "id=0 name= cart=[] prefs=map[]" {
		t.Fatalf("the old token still reads %q", got)
	}
}

func TestDestroyDeletesDataAndExpiresCookieWithItsAttributes(t *testing.T) {
	sm, st := newSM()
	sm.Cookie.Path = "/"
	sm.Cookie.Secure = false
	sm.Cookie.SameSite = http.SameSiteStrictMode
	sm.Cookie.Partitioned = false
	m := New[user](sm)
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	token := c.Cookie(url)

	r := c.Post(url + "/logout")
	sc := r.Header.Get("Set-Cookie")
	for _, want := range []string{"session=;", "Path=/", "Max-Age=0", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("logout cookie %q lacks %q", sc, want)
		}
	}
	if _, found, _ := st.Store.Find(token); found {
		t.Error("the session is still in the store after Destroy")
	}
	if c.Cookie(url) != "" {
		t.Error("the client still holds a session cookie after logout")
	}
	if got := c.Get(url + "/get").Body; got != "id=0 name= cart=[] prefs=map[]" {
		t.Fatalf("after logout: %q", got)
	}
}

func TestDestroyThenChangeStartsANewSession(t *testing.T) {
	m := New[user](nil)
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			m.Destroy(r.Context())
			m.Flash(r.Context(), "info", "logged out")
			return
		}
		m.Update(r.Context(), func(u *user) { u.Name = "ann" })
		fmt.Fprint(w, m.Get(r.Context()).Name, m.Flashes(r.Context()))
	}))
	c := newClient(t)
	c.Get(url)
	old := c.Cookie(url)
	c.Post(url)
	if c.Cookie(url) == "" || c.Cookie(url) == old {
		t.Fatalf("after Destroy and Flash the client holds %q, want a new token", c.Cookie(url))
	}
	if got := c.Get(url).Body; got != "ann[{info logged out}]" {
		t.Fatalf("got %q", got)
	}
}

func TestStoreErrorsAnswerWithErrorFunc(t *testing.T) {
	sm, st := newSM()
	var gotErr error
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		gotErr = err
		http.Error(w, "sessions are down", http.StatusServiceUnavailable)
	}
	m := New[user](sm)
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")

	st.fail = errors.New("disk on fire")
	for _, path := range []string{"/get", "/add?item=jam"} {
		method := http.MethodGet
		if strings.HasPrefix(path, "/add") {
			method = http.MethodPost
		}
		r := c.Do(method, url+path)
		if r.Status != http.StatusServiceUnavailable || r.Body != "sessions are down\n" {
			t.Errorf("%s %s with a failing store: %d %q, want the ErrorFunc's answer alone", method, path, r.Status, r.Body)
		}
		if gotErr == nil || !strings.Contains(gotErr.Error(), "disk on fire") {
			t.Errorf("ErrorFunc got %v", gotErr)
		}
	}
	st.fail = nil
	if got := c.Get(url + "/get").Body; !strings.Contains(got, "cart=[tea]") {
		t.Fatalf("after the store recovered: %q", got)
	}
}

func TestRememberMe(t *testing.T) {
	sm, _ := newSM()
	sm.Cookie.Persist = false
	m := New[user](sm)
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.UserID++ }) // a save on every request
		if r.URL.Query().Has("remember") {
			m.RememberMe(r.Context(), true)
		}
		if r.URL.Query().Has("renew") {
			m.RenewToken(r.Context())
		}
	}))
	c := newClient(t)
	if sc := c.Get(url).Header.Get("Set-Cookie"); strings.Contains(sc, "Max-Age") {
		t.Errorf("a browser-session cookie has an expiry: %q", sc)
	}
	if sc := c.Get(url + "?remember").Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=86400") {
		t.Errorf("RememberMe(true) cookie %q, want Max-Age=86400", sc)
	}
	if sc := c.Get(url).Header.Get("Set-Cookie"); sc != "" {
		t.Errorf("a save that changes nothing about the cookie sent it again: %q", sc)
	}
	if sc := c.Get(url + "?renew").Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age") {
		t.Errorf("RememberMe was forgotten by the next cookie: %q", sc)
	}
}

func TestLifetimeAndIdleTimeoutExpireSessions(t *testing.T) {
	tests := []struct {
		name           string
		lifetime, idle time.Duration
		wait           time.Duration
		keepAlive      bool // read every wait/4 meanwhile
		survives       bool
	}{
		{"absolute lifetime", 300 * time.Millisecond, 0, 400 * time.Millisecond, true, false},
		{"idle timeout", time.Hour, 300 * time.Millisecond, 500 * time.Millisecond, false, false},
		{"activity keeps an idle session", time.Hour, 400 * time.Millisecond, 800 * time.Millisecond, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm, _ := newSM()
			sm.Lifetime, sm.IdleTimeout = tt.lifetime, tt.idle
			m := New[user](sm)
			url := serve(t, m, userApp(m))
			c := newClient(t)
			c.Post(url + "/add?item=tea")
			for end := time.Now().Add(tt.wait); time.Now().Before(end); {
				time.Sleep(tt.wait / 4)
				if tt.keepAlive {
					c.Get(url + "/get")
				}
			}
			got := c.Get(url + "/get").Body
			if alive := strings.Contains(got, "tea"); alive != tt.survives {
				t.Fatalf("after %v: %q; want survives=%v", tt.wait, got, tt.survives)
			}
		})
	}
}

func TestIdleRefreshIsThrottled(t *testing.T) {
	sm, st := newSM()
	sm.IdleTimeout = time.Hour
	m := New[user](sm, WithIdleRefresh(200*time.Millisecond))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	st.counts()

	for range 20 {
		c.Get(url + "/get")
	}
	if _, commits, _ := st.counts(); commits != 0 {
		t.Fatalf("20 reads right after a write made %d store writes, want 0", commits)
	}
	time.Sleep(250 * time.Millisecond)
	c.Get(url + "/nothing")
	if _, commits, _ := st.counts(); commits != 0 {
		t.Fatalf("a request that never used the session made %d store writes; only use keeps a session alive", commits)
	}
	r := c.Get(url + "/get")
	if _, commits, _ := st.counts(); commits != 1 {
		t.Fatalf("a request after the refresh interval made %d store writes, want 1", commits)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=3600") {
		t.Fatalf("the refresh did not push back the cookie's expiry: %q", r.Header.Get("Set-Cookie"))
	}
}

func TestHashTokenInStoreKeepsTokensOutOfTheStore(t *testing.T) {
	sm, st := newSM()
	sm.HashTokenInStore = true
	m := New[user](sm)
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	if got := c.Get(url + "/get").Body; !strings.Contains(got, "tea") {
		t.Fatalf("with hashed tokens: %q", got)
	}
	token := c.Cookie(url)
	for _, k := range st.keys {
		if k == token {
			t.Fatal("the raw token was used as a store key")
		}
	}
}

func TestMissingMiddlewarePanicsWithTheFix(t *testing.T) {
	m := New[user](nil)
	defer func() {
		if msg := fmt.Sprint(recover()); !strings.Contains(msg, "r.Use(m.LoadAndSave)") {
			t.Fatalf("panic %q does not name the fix", msg)
		}
	}()
	m.Get(t.Context())
}

// withSecret hides a field from JSON, deep down, without a json:"-" tag.
type withSecret struct {
	Name  string
	Inner struct {
		Visible string
		token   string
	}
}

// What New accepts: unexported fields JSON is told to skip, embedded structs
// whose exported fields JSON promotes, and types that encode themselves.
type acceptable struct {
	Name    string
	scratch string `json:"-"`
	embedded
	When time.Time
}

type embedded struct{ Shown string }

func TestNewAcceptsWhatJSONKeeps(t *testing.T) {
	New[acceptable](nil)
}

func TestNewPanicsOnProgrammerErrors(t *testing.T) {
	type unstorable struct{ C chan int }
	tests := []struct {
		name string
		new  func()
		want string
	}{
		{"type without JSON", func() { New[unstorable](nil) }, "cannot be stored as JSON"},
		{"zero SessionManager", func() { New[user](&scs.SessionManager{}) }, "scs.New()"},
		{"short key", func() { New[user](nil, WithSigningKeys([]byte("short"))) }, "at least 32 random bytes"},
		{"pointer type", func() { New[*user](nil) }, "must be a struct, not *scsession.user"},
		{"two fields with one JSON name", func() {
			New[struct {
				Secret string `json:"Other"`
				Other  string
			}](nil)
		}, `has the JSON name "Other" of`},
		{"unexported field", func() { New[withSecret](nil) }, "withSecret.Inner.token is unexported"},
		{"idle refresh at the idle timeout", func() {
			sm := scs.New()
			sm.IdleTimeout = time.Minute
			New[user](sm, WithIdleRefresh(time.Minute))
		}, "WithIdleRefresh(1m0s) is not below the IdleTimeout"},
		{"session cap without users", func() { New[user](nil, WithMaxSessions(3)) }, "WithMaxSessions(3) needs WithUserID"},
		{"session cap below one", func() { New[user](nil, WithUserID(byName), WithMaxSessions(0)) }, "an n of at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if msg := fmt.Sprint(recover()); !strings.Contains(msg, tt.want) {
					t.Fatalf("panic %q, want it to say %q", msg, tt.want)
				}
			}()
			tt.new()
		})
	}
}

// Versions of a session type across deploys.
type (
	profileV1 struct {
		ID   int
		Name string
		Age  int
		Tags []string
	}
	profileRemoved struct { // Age removed
		ID   int
		Name string
		Tags []string
	}
	profileAdded struct { // Email added
		ID    int
		Name  string
		Age   int
		Tags  []string
		Email string
	}
	profileChanged struct { // Age changed from int to string
		ID   int
		Name string
		Age  string
		Tags []string
	}
)

// afterDeploy saves a profileV1 with one app, then reads the same session
// three times with an app on T (the next deploy) sharing the store. It
// returns what the reads showed and how many mismatch warnings came.
func afterDeploy[T any](t *testing.T) (bodies []string, warnings int) {
	t.Helper()
	st := newCountingStore()
	smOld, smNew := scs.New(), scs.New()
	smOld.Store, smNew.Store = st, st
	old := New[profileV1](smOld)
	oldURL := serve(t, old, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old.Update(r.Context(), func(p *profileV1) { *p = profileV1{ID: 1, Name: "ann", Age: 30, Tags: []string{"a"}} })
	}))
	var events eventLog
	next := New[T](smNew, events.option())
	newURL := serve(t, next, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%+v", next.Get(r.Context()))
	}))
	c := newClient(t)
	c.Get(oldURL)
	for range 3 {
		r := c.Get(newURL)
		if r.Status != http.StatusOK {
			t.Fatalf("reading old data: status %d", r.Status)
		}
		bodies = append(bodies, r.Body)
	}
	return bodies, events.warnings(EventMismatch)
}

func TestDataThatNoLongerFitsKeepsWhatStillFits(t *testing.T) {
	tests := []struct {
		name     string
		read     func(*testing.T) ([]string, int)
		want     string
		warnings int
	}{
		{"same type", afterDeploy[profileV1], "{ID:1 Name:ann Age:30 Tags:[a]}", 0},
		{"field removed", afterDeploy[profileRemoved], "{ID:1 Name:ann Tags:[a]}", 1},
		{"field added", afterDeploy[profileAdded], "{ID:1 Name:ann Age:30 Tags:[a] Email:}", 0}, // compatible: no warning
		{"field changed type", afterDeploy[profileChanged], "{ID:1 Name:ann Age: Tags:[a]}", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bodies, warnings := tt.read(t)
			for i, got := range bodies {
				if got != tt.want {
					t.Errorf("read %d: %s, want %s", i+1, got, tt.want)
				}
			}
			if warnings != tt.warnings {
				t.Errorf("%d mismatch warnings over 3 reads, want %d", warnings, tt.warnings)
			}
		})
	}
}

func TestBytesThatAreNotOursGiveAFreshSession(t *testing.T) {
	gob, err := scs.GobCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{"userID": 7})
	if err != nil {
		t.Fatal(err)
	}
	header := (&envelope{deadline: time.Now().Add(time.Hour)}).encode()[:headerSize:headerSize]
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"garbage", []byte("garbage")},
		{"empty", nil},
		{"scs gob data", gob},
		{"our magic, cut short", []byte(magic + "\x00\x01")},
		{"our header, lying flash count", append(header, 0xff, 0x01)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm, st := newSM()
			var events eventLog
			m := New[user](sm, events.option())
			url := serve(t, m, userApp(m))
			token := newToken()
			st.Store.Commit(token, tt.bytes, time.Now().Add(time.Hour))
			c := newClient(t)
			c.SetCookie(url, token)

			if r := c.Get(url + "/get"); r.Status != http.StatusOK || r.Body != "id=0 name= cart=[] prefs=map[]" {
				t.Fatalf("got %d %q, want a fresh session", r.Status, r.Body)
			}
			if events.count(EventMismatch) != 1 {
				t.Errorf("events:\n%s\nwant one mismatch", events.String())
			}
			c.Post(url + "/add?item=tea")
			if c.Cookie(url) == token {
				t.Fatal("the session kept the token of bytes that were not ours")
			}
		})
	}
}

func TestScsOwnMethodsKeepTheEnvelope(t *testing.T) {
	sm := scs.New() // its memstore: WithUserID needs an indexed store
	sm.Cookie.Persist = false
	m := New[user](sm, WithUserID(func(u user) string { return u.Name }))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=7&name=ann")
	token := c.Cookie(url)

	ctx, err := sm.Load(t.Context(), token) // scs's own path, through the codec New installed
	if err != nil {
		t.Fatal(err)
	}
	sm.RememberMe(ctx, true)
	if _, _, err := sm.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(url + "/get").Body; got != "id=7 name=ann cart=[] prefs=map[]" {
		t.Fatalf("after scs's Load and Commit the session reads %q", got)
	}
	b, _, _ := sm.Store.Find(token)
	if env, err := decodeEnvelope(b); err != nil || !env.remember || env.user != "ann" || !env.hasUser {
		t.Fatalf("envelope after scs's Commit: %+v, %v", env, err)
	}
}

func TestOnlyADeployThatLosesDataWarns(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		lost          bool
	}{
		{"field added", `{"A":1}`, `{"A":1,"B":""}`, false},
		{"empty field removed", `{"A":1,"B":"","C":[],"D":{"E":0}}`, `{"A":1}`, false},
		{"field with a value removed", `{"A":1,"B":"x"}`, `{"A":1}`, true},
		{"nested field with a value removed", `{"A":{"B":[{"C":true}]}}`, `{"A":{"B":[{}]}}`, true},
		{"same", `{"A":[1,2]}`, `{"A":[1,2]}`, false},
	}
	for _, tt := range tests {
		var before, after any
		json.Unmarshal([]byte(tt.before), &before)
		json.Unmarshal([]byte(tt.after), &after)
		if got := lost(before, after); got != tt.lost {
			t.Errorf("%s: %s → %s lost %v, want %v", tt.name, tt.before, tt.after, got, tt.lost)
		}
	}
	m := New[profileChanged](nil)
	data, _ := encodeData(&profileV1{Age: 30})
	var v profileChanged
	err := m.reshaped(data, &v, decodeInto(&v, data))
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("the warning for a field that changed type is %q; want one line", err)
	}
}

type storedInner struct{ X int }

type (
	embeddedPtrSession struct {
		*storedInner
		Name string
	}
	nestedChanSession struct {
		Opt   *struct{ C chan int }
		Items []struct{ F func() }
	}
	stringerValue struct{ V string }
	ifaceSession  struct{ S fmt.Stringer }
)

func (s stringerValue) String() string { return s.V }

// New refuses a T it cannot store faithfully at start-up, not at the first
// request; or, if it accepts one, the data comes back.
func TestNewRefusesWhatItCannotStore(t *testing.T) {
	refused := func(fn func()) (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		fn()
		return "<nil>"
	}
	t.Run("embedded pointer to an unexported struct", func(t *testing.T) {
		var m *Manager[embeddedPtrSession]
		if msg := refused(func() { m = New[embeddedPtrSession](nil, WithLogger(discard)) }); msg != "<nil>" {
			return // refused at start-up: fine
		}
		url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				m.Update(r.Context(), func(s *embeddedPtrSession) { s.storedInner, s.Name = &storedInner{X: 7}, "ann" })
				return
			}
			s := m.Get(r.Context())
			fmt.Fprint(w, s.Name, s.storedInner != nil && s.X == 7)
		}))
		c := newClient(t)
		c.Post(url)
		if got := c.Get(url).Body; got != "anntrue" {
			t.Fatalf("New accepted the type, and the next request reads %q; want anntrue", got)
		}
	})
	t.Run("chan and func below a pointer or slice", func(t *testing.T) {
		if msg := refused(func() { New[nestedChanSession](nil, WithLogger(discard)) }); !strings.Contains(msg, "cannot be stored") {
			t.Fatalf("New accepted a type with a chan and a func field (below a pointer, in a slice): %s", msg)
		}
	})
	t.Run("interface with methods", func(t *testing.T) {
		var m *Manager[ifaceSession]
		if msg := refused(func() { m = New[ifaceSession](nil, WithLogger(discard)) }); msg != "<nil>" {
			return
		}
		url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				m.Update(r.Context(), func(s *ifaceSession) { s.S = stringerValue{"hi"} })
				return
			}
			fmt.Fprint(w, m.Get(r.Context()).S)
		}))
		c := newClient(t)
		c.Post(url)
		if got := c.Get(url).Body; got != "hi" {
			t.Fatalf("New accepted the type, and the next request reads %q; want hi", got)
		}
	})
}

// A session that holds only flashes (a visitor shown "please log in") has
// empty data; after a deploy that only adds a field, reading it must not
// warn: nothing was lost.
func TestDeployThatAddsAFieldDoesNotWarnForAFlashOnlySession(t *testing.T) {
	st := memstore.NewWithCleanupInterval(0)
	smOld, smNew := scs.New(), scs.New()
	smOld.Store, smNew.Store = st, st
	old := New[profileV1](smOld, WithLogger(discard))
	oldURL := serve(t, old, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old.Flash(r.Context(), "info", "please log in")
	}))
	var events eventLog
	var logs logBuffer
	next := New[profileAdded](smNew, events.option(), WithLogger(logs.logger()))
	newURL := serve(t, next, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%+v %v", next.Get(r.Context()), next.Flashes(r.Context()))
	}))
	c := newClient(t)
	c.Get(oldURL)
	r := c.Get(newURL)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "please log in") {
		t.Fatalf("after the deploy: %d %q", r.Status, r.Body)
	}
	if n := events.warnings(EventMismatch); n != 0 || strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("a deploy that only added a field warned about a session with no data:\n%s", logs.String())
	}
}

// Each session reshaped emits one EventMismatch (README), also on a page
// that reads a reshaped session and shows its pending flash.
func TestAReshapedSessionWithAFlashWarnsOnce(t *testing.T) {
	st := memstore.NewWithCleanupInterval(0)
	smOld, smNew := scs.New(), scs.New()
	smOld.Store, smNew.Store = st, st
	old := New[profileV1](smOld, WithLogger(discard))
	oldURL := serve(t, old, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old.Update(r.Context(), func(p *profileV1) { p.Name, p.Age = "ann", 30 })
		old.Flash(r.Context(), "info", "saved")
	}))
	var events eventLog
	next := New[profileRemoved](smNew, events.option(), WithLogger(discard))
	newURL := serve(t, next, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%+v %v", next.Get(r.Context()), next.Flashes(r.Context()))
	}))
	c := newClient(t)
	c.Get(oldURL)
	if r := c.Get(newURL); r.Status != http.StatusOK || !strings.Contains(r.Body, "saved") {
		t.Fatalf("after the deploy: %d %q", r.Status, r.Body)
	}
	if n := events.count(EventMismatch); n != 1 {
		t.Fatalf("one reshaped session read once emitted %d EventMismatch; want 1:\n%s", n, &events)
	}
}
