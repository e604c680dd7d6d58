package scsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

func TestEventsAndLogsNeverShowTheToken(t *testing.T) {
	sm, _ := newSM()
	var logs logBuffer
	var events eventLog
	m := New[user](sm, WithLogger(logs.logger()), events.option(), WithSigningKeys(newKey))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	first := c.Cookie(url)
	c.Post(url + "/login?id=1&name=ann")
	second := c.Cookie(url)
	c.Post(url + "/late")
	c.Post(url + "/logout")
	firstToken, _, _ := strings.Cut(first, ".")
	_, secondSig, _ := strings.Cut(second, ".")
	bad := newClient(t)
	bad.SetCookie(url, firstToken+"."+secondSig)
	bad.Get(url + "/get")

	for _, kind := range []EventKind{EventCreated, EventRenewed, EventDestroyed, EventLateChange, EventRejected} {
		if events.count(kind) == 0 {
			t.Errorf("no %s event; events:\n%s", kind, events.String())
		}
	}
	for _, cookie := range []string{first, second} {
		token, _, _ := strings.Cut(cookie, ".")
		if strings.Contains(logs.String(), token) || strings.Contains(events.String(), token) {
			t.Fatalf("a raw token appears in the logs or events:\n%s\n%s", logs.String(), events.String())
		}
		if !strings.Contains(logs.String(), m.name(token)) {
			t.Errorf("the logs never name session %s; log:\n%s", m.name(token), logs.String())
		}
	}
}

func TestEventHookMayCallTheManager(t *testing.T) {
	var m *Manager[user]
	var names []string
	m = New[user](nil, WithEvents(func(ctx context.Context, e Event) {
		if e.Kind == EventRenewed {
			names = append(names, m.Get(ctx).Name)
		}
	}))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	c.Post(url + "/login?id=1&name=bob")
	if fmt.Sprint(names) != "[bob]" { // EventRenewed comes once the renewed session is saved
		t.Fatalf("the hook saw %v, want [bob]", names)
	}
}

func TestSkippedRequestsPayNothing(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm,
		WithSkipHeader("X-Skip-Session"),
		WithSkip(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/static/") }),
	)
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := m.Update(r.Context(), func(u *user) { u.Name = "ann" })
		fmt.Fprint(w, m.Get(r.Context()).Name, " ", errors.Is(err, ErrSkipped), " ", m.Flashes(r.Context()))
	}))
	c := newClient(t)
	c.Get(url + "/")
	st.counts()
	tests := []struct {
		path   string
		header []string
	}{
		{"/health", []string{"X-Skip-Session", "1"}},
		{"/static/app.css", nil},
	}
	for _, tt := range tests {
		r := c.Get(url+tt.path, tt.header...)
		if r.Body != " true []" || r.Header.Get("Set-Cookie") != "" {
			t.Errorf("GET %s: %q, Set-Cookie %q; want a zero session, ErrSkipped and no cookie", tt.path, r.Body, r.Header.Get("Set-Cookie"))
		}
		if finds, commits, _ := st.counts(); finds+commits != 0 {
			t.Errorf("GET %s touched the store: %d finds, %d commits", tt.path, finds, commits)
		}
	}
	if got := c.Get(url + "/").Body; got != "ann false []" {
		t.Fatalf("a normal request: %q", got)
	}
}

func TestRenewedIsEmittedOnlyOnceTheRenewalIsSaved(t *testing.T) {
	var events eventLog
	ms := memstore.NewWithCleanupInterval(0)
	st := &failingSwaps{MemStore: ms}
	sm := scs.New()
	sm.Store = st
	sm.ErrorFunc = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	m := New[user](sm, events.option(), WithLogger(discard))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	st.fail.Store(true)
	if r := c.Post(url + "/login?id=1&name=ann"); r.Status != http.StatusInternalServerError {
		t.Fatalf("a login whose save failed: %d %s, want a 500", r.Status, r.Body)
	}
	if n := events.count(EventRenewed); n != 0 {
		t.Fatalf("a renewal whose save failed emitted %d EventRenewed; want none:\n%s", n, &events)
	}
	st.fail.Store(false)
	c.Post(url + "/login?id=1&name=ann")
	if n := events.count(EventRenewed); n != 1 {
		t.Fatalf("a saved renewal emitted %d EventRenewed; want 1:\n%s", n, &events)
	}
}

// failingSwaps is memstore behind SwapStore whose writes fail while fail is set.
type failingSwaps struct {
	*memstore.MemStore
	fail atomic.Bool
}

func (f *failingSwaps) CompareAndSwap(_ context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	if f.fail.Load() {
		return nil, false, errors.New("store down")
	}
	return swapMem(f.MemStore, key, old, b, exp)
}

func TestRevokeOthersWithoutWithUserIDSaysSo(t *testing.T) {
	m := New[user](nil)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /everywhere", func(w http.ResponseWriter, r *http.Request) {
		_, err := m.RevokeOthers(r.Context())
		fmt.Fprint(w, errors.Is(err, ErrNoUserIndex))
	})
	url := serve(t, m, mux)
	if got := newClient(t).Post(url + "/everywhere").Body; got != "true" {
		t.Fatalf("RevokeOthers without WithUserID: ErrNoUserIndex is %s; want true, not a silent (0, nil)", got)
	}
}

func TestFlashOnASkippedRequestIsLogged(t *testing.T) {
	var logs logBuffer
	m := New[user](nil, WithSkipHeader("X-Skip"), WithLogger(logs.logger()))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) { m.Flash(r.Context(), "info", "hello") })
	url := serve(t, m, mux)
	newClient(t).Post(url+"/flash", "X-Skip", "1")
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "flash message lost") {
		t.Fatalf("a Flash on a skipped request logged nothing at Warn:\n%s", logs.String())
	}
}

// One session has one name: in events, in Sessions and from ID.
func TestASessionHasOneIDEverywhere(t *testing.T) {
	for _, hashed := range []bool{false, true} {
		t.Run(fmt.Sprint("HashTokenInStore=", hashed), func(t *testing.T) {
			var events eventLog
			sm := scs.New()
			sm.HashTokenInStore = hashed
			m := New[user](sm, events.option(), WithUserID(func(u user) string { return u.Name }))
			mux := http.NewServeMux()
			mux.Handle("/", userApp(m))
			mux.HandleFunc("GET /ids", func(w http.ResponseWriter, r *http.Request) {
				infos, _ := m.Sessions(r.Context(), m.Get(r.Context()).Name)
				fmt.Fprint(w, m.ID(r.Context()), " ", infos[0].ID)
			})
			url := serve(t, m, mux)
			c := newClient(t)
			c.Post(url + "/login?id=1&name=ann")
			fromID, fromSessions, _ := strings.Cut(c.Get(url+"/ids").Body, " ")
			m.RevokeUser(t.Context(), "ann")
			var created, destroyed string
			for _, e := range events.events {
				switch e.Kind {
				case EventCreated:
					created = e.Session
				case EventDestroyed:
					destroyed = e.Session
				}
			}
			if fromID == "" || fromID != fromSessions || fromID != created || fromID != destroyed {
				t.Fatalf("one session, several names: ID %q, Sessions %q, EventCreated %q, EventDestroyed %q", fromID, fromSessions, created, destroyed)
			}
		})
	}
}
