// Command quickstart is the README's first program: a visit counter and a
// login, with typed sessions on chi. Its test keeps it compiling, working,
// and identical to the README's copy.
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/scsession/scsession"
)

// Session is everything the app keeps per visitor: a struct of your own.
type Session struct {
	User   string
	Visits int
}

func routes(m *scsession.Manager[Session]) http.Handler {
	r := chi.NewRouter()
	r.Use(m.LoadAndSave)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Update(r.Context(), func(s *Session) { s.Visits++ }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s := m.Get(r.Context())
		fmt.Fprintf(w, "Hello %q, visit %d\n", s.User, s.Visits)
	})
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		// Check the password here. Then: a new token against session fixation.
		if err := m.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := m.Update(r.Context(), func(s *Session) { s.User = r.FormValue("user") }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	loggedIn := func(s Session) bool { return s.User != "" }
	r.With(m.Require(loggedIn, nil)).Get("/account", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Account of %s\n", m.Get(r.Context()).User)
	})
	return r
}

func main() {
	sm := scs.New() // scs's settings: memory store, 24 h lifetime, cookie "session"
	m := scsession.New[Session](sm)
	log.Println("listening on http://127.0.0.1:4000")
	log.Fatal(http.ListenAndServe("127.0.0.1:4000", routes(m)))
}
