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

	r := c.Post(url + "/save")
	if r.Status != http.StatusSeeOther {
		t.Fatalf("POST /save: %d", r.Status)
	}
	if got := c.Get(url + "/page").Body; got != "[{info saved} {warn but check the date}]" {
		t.Fatalf("page after the redirect shows %q", got)
	}
	if got := c.Get(url + "/page").Body; got != "[]" {
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
	c.Get(url + "/add")
	if got := c.Get(url + "/late").Body; got != "[]" {
		t.Fatalf("Flashes after the response started returned %q; they could not be removed, so want []", got)
	}
	if got := c.Get(url + "/show").Body; got != "[{info hello}]" {
		t.Fatalf("the next page shows %q, want the message once", got)
	}
}
