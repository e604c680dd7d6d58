package scsession

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestUpdateThatChangesNothingCreatesNoSession(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) {})
	}))
	r := newClient(t).Get(url)
	if _, commits, _ := st.counts(); commits != 0 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("an Update that changes nothing on a new visitor: %d writes, Set-Cookie %q", commits, r.Header.Get("Set-Cookie"))
	}
}

// IdleTimeout may still be set on sm after New: a WithIdleRefresh at or
// above it must not let sessions in use expire.
func TestIdleRefreshStaysBelowAnIdleTimeoutSetAfterNew(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithIdleRefresh(time.Second), WithLogger(discard))
	sm.IdleTimeout = 300 * time.Millisecond // configured after New, before serving, as New's doc allows
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	start := time.Now()
	for range 8 {
		time.Sleep(100 * time.Millisecond)
		if got := c.Get(url + "/get").Body; !strings.Contains(got, "name=ann") {
			t.Fatalf("a session read every 100ms expired after %v with IdleTimeout 300ms: %q", time.Since(start).Round(10*time.Millisecond), got)
		}
	}
}
