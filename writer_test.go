package scsession

import (
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

func TestErrorFuncAnswersWithoutTheHandlersHeaders(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.UserID = 1 })
		w.Header().Set("Cache-Control", "public, max-age=86400")
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	}))
	st.fail = errors.New("store down")
	r := newClient(t).Get(url)
	if r.Status != http.StatusInternalServerError || r.Header.Get("Location") != "" || strings.Contains(r.Header.Get("Cache-Control"), "public") {
		t.Fatalf("the ErrorFunc's answer: %d, Location %q, Cache-Control %q", r.Status, r.Header.Get("Location"), r.Header.Get("Cache-Control"))
	}
}

func TestErrorFuncKeepsTheHeadersOfMiddlewareAbove(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.UserID = 1 })
		w.Header().Set("Location", "/account")
		w.Header().Set("X-Request-Id", "changed by the handler")
		w.WriteHeader(http.StatusSeeOther)
	}))
	url := serveRaw(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // CORS and request IDs, above the sessions
		w.Header().Set("Access-Control-Allow-Origin", "https://app.example")
		w.Header().Set("X-Request-Id", "req-1")
		h.ServeHTTP(w, r)
	}))
	st.fail = errors.New("store down")
	r := newClient(t).Get(url)
	if r.Status != http.StatusInternalServerError {
		t.Fatalf("status %d, want the ErrorFunc's 500", r.Status)
	}
	for name, want := range map[string]string{"Access-Control-Allow-Origin": "https://app.example", "X-Request-Id": "req-1", "Location": ""} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("the ErrorFunc's answer has %s %q, want %q", name, got, want)
		}
	}
}

func TestHijackSavesTheSessionFirst(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	var late error
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.UserID = 7 })
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		late = m.Update(r.Context(), func(u *user) { u.UserID = 8 })
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		buf.Flush()
	}))
	newClient(t).Get(url)
	if _, commits, _ := st.counts(); commits != 1 || !errors.Is(late, ErrCommitted) {
		t.Fatalf("hijack: %d saves, a change after it returned %v; want 1 save before, ErrCommitted after", commits, late)
	}
}

func TestEarlyHintsDoNotStartTheResponse(t *testing.T) {
	m := New[user](nil, WithLogger(discard))
	var err error
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		err = m.Update(r.Context(), func(u *user) { u.UserID = 1 })
	}))
	if r := newClient(t).Get(url); err != nil || r.Header.Get("Set-Cookie") == "" {
		t.Fatalf("Update after 103 Early Hints: %v, Set-Cookie %q", err, r.Header.Get("Set-Cookie"))
	}
}

// scs's default ErrorFunc logs with the log package; the Manager's logger
// is where the app's other lines go, so store errors go there instead.
func TestStoreErrorsGoToTheManagersLogger(t *testing.T) {
	var logs logBuffer
	sm, st := newSM()
	m := New[user](sm, WithLogger(logs.logger()))
	url := serve(t, m, userApp(m))
	st.fail = errors.New("store down")
	if r := newClient(t).Post(url + "/add?item=tea"); r.Status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", r.Status)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "store down") {
		t.Fatalf("the store error is not in the Manager's logger:\n%s", logs.String())
	}
}

// Telling scs's default ErrorFunc from the app's starts nothing: no
// memstore, no goroutine.
func TestDefaultErrorFuncCheckStartsNoGoroutine(t *testing.T) {
	cleanups := func() int {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		return strings.Count(string(buf[:n]), "memstore.(*MemStore).startCleanup(")
	}
	sm := scs.New()
	time.Sleep(20 * time.Millisecond)
	before := cleanups()
	if !isSCSDefault(sm.ErrorFunc) || isSCSDefault(func(http.ResponseWriter, *http.Request, error) {}) {
		t.Fatal("scs's default ErrorFunc is not told apart from an app's")
	}
	if d := cleanups() - before; d > 0 {
		t.Fatalf("the check started %d memstore cleanup goroutines", d)
	}
}
