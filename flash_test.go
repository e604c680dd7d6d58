package scsession

import (
	"fmt"
	"net/http"
	"testing"
)

func TestFlashesSurviveOneRedirectAndShowOnce(t *testing.T) {
	m := New[user](nil)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /save", func(w http.ResponseWriter, r *http.Request) {
		m.Flash(r.Context(), "info", "saved")
		m.Flash(r.Context(), "warn", "but check the date")
		http.Redirect(w, r, "/page", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, m.Flashes(r.Context()))
	})
	url := serve(t, m, mux)
	c := newClient(t)

	r := c.post(url + "/save")
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /save: %d", r.status)
	}
	if got := c.get(url + "/page").body; got != "[{info saved} {warn but check the date}]" {
		t.Fatalf("page after the redirect shows %q", got)
	}
	if got := c.get(url + "/page").body; got != "[]" {
		t.Fatalf("the next page shows %q again, want []", got)
	}
}

func TestFlashesAfterResponseStartedAreKeptForTheNextPage(t *testing.T) {
	m := New[user](nil)
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/add":
			m.Flash(r.Context(), "info", "hello")
		case "/late":
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, m.Flashes(r.Context()))
		default:
			fmt.Fprint(w, m.Flashes(r.Context()))
		}
	}))
	c := newClient(t)
	c.get(url + "/add")
	if got := c.get(url + "/late").body; got != "[]" {
		t.Fatalf("Flashes after the response started returned %q; they could not be removed, so want []", got)
	}
	if got := c.get(url + "/show").body; got != "[{info hello}]" {
		t.Fatalf("the next page shows %q, want the message once", got)
	}
}
