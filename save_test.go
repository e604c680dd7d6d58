package scsession

import (
	"net/http"
	"testing"
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
