package sessiontest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
)

// Visitor is the session of VisitsApp.
type Visitor struct {
	User   string
	Visits int
}

// VisitsApp serves a small app on sm, whose Store and settings the caller
// chose, with opts after a logger that discards: GET /whoami reads the
// session, POST /login renews it and sets its user, POST /visit changes
// it, GET /flashes shows its flashes, POST /logout destroys it and GET
// /static never touches it. It returns the app's URL. The stores' modules
// count on it what a request costs their store (round trips, queries) and
// what their faults do to a request.
func VisitsApp(t testing.TB, sm *scs.SessionManager, opts ...scsession.Option) string {
	m := scsession.New[Visitor](sm, append([]scsession.Option{scsession.WithLogger(discard)}, opts...)...)
	fail := func(w http.ResponseWriter, err error) bool {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return err != nil
	}
	show := func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r.Context())
		fmt.Fprintf(w, "user=%s visits=%d", s.User, s.Visits)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", show)
	mux.HandleFunc("GET /static", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "static") })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if !fail(w, m.RenewToken(r.Context())) && !fail(w, m.Update(r.Context(), func(s *Visitor) { s.User = r.FormValue("user") })) {
			show(w, r)
		}
	})
	mux.HandleFunc("POST /visit", func(w http.ResponseWriter, r *http.Request) {
		if !fail(w, m.Update(r.Context(), func(s *Visitor) { s.Visits++ })) {
			show(w, r)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if !fail(w, m.Destroy(r.Context())) {
			fmt.Fprint(w, "bye")
		}
	})
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, len(m.Flashes(r.Context())))
	})
	return serve(t, m.LoadAndSave(mux))
}
