package scsession

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
)

func TestRequireGuardsChiGroupsAndPlainHandlers(t *testing.T) {
	m := New[user](nil)
	loggedIn := func(u user) bool { return u.UserID != 0 }
	toLogin := http.RedirectHandler("/login", http.StatusSeeOther)

	r := chi.NewRouter()
	r.Use(m.LoadAndSave)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) { u.UserID = 1 })
	})
	r.Group(func(r chi.Router) {
		r.Use(m.Require(loggedIn, toLogin))
		r.Get("/members", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "members") })
	})
	r.With(m.Require(loggedIn, nil)).Get("/api", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "api") })
	r.Handle("/plain", m.Require(loggedIn, toLogin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "plain")
	})))
	srvURL := serveRaw(t, r)

	tests := []struct {
		path             string
		anonStatus       int
		anonLocation     string
		loggedInResponse string
	}{
		{"/members", http.StatusSeeOther, "/login", "members"},
		{"/api", http.StatusUnauthorized, "", "api"},
		{"/plain", http.StatusSeeOther, "/login", "plain"},
	}
	anon, member := newClient(t), newClient(t)
	member.Post(srvURL + "/login")
	for _, tt := range tests {
		r := anon.Get(srvURL + tt.path)
		if r.Status != tt.anonStatus || r.Header.Get("Location") != tt.anonLocation {
			t.Errorf("anonymous GET %s: %d to %q, want %d to %q", tt.path, r.Status, r.Header.Get("Location"), tt.anonStatus, tt.anonLocation)
		}
		if r := member.Get(srvURL + tt.path); r.Status != http.StatusOK || r.Body != tt.loggedInResponse {
			t.Errorf("logged-in GET %s: %d %q", tt.path, r.Status, r.Body)
		}
	}
}
