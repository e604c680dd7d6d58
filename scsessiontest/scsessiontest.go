// Package scsessiontest helps unit-test handlers that use a
// scsession.Manager, without a cookie dance: WithSession gives a request a
// session holding the value the test needs (a logged-in user, a cart), and
// Session reads what the handler left there. Both go through the Manager's
// own LoadAndSave and store, so the handler under test sees exactly what it
// would in production. Production code does not import this package. It
// works through cookies (WithCookieStore's too); to test a handler for
// WithTokenHeader clients, send the token a login handler's Token gave.
package scsessiontest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scsession/scsession"
)

// WithSession returns a copy of r whose cookies carry a session holding v,
// saved in m's store as a client's earlier request would have saved it.
// Serve it through m.LoadAndSave, as the app's router does; the handler's
// m.Get then returns v. A zero v is no session at all. WithSession fails t
// if the session cannot be saved.
func WithSession[T any](t testing.TB, m *scsession.Manager[T], r *http.Request, v T) *http.Request {
	t.Helper()
	w := httptest.NewRecorder()
	var err error
	m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err = m.Update(r.Context(), func(s *T) { *s = v })
	})).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if err != nil || w.Code != http.StatusOK {
		t.Fatalf("scsessiontest: saving the session failed: %d %v %s", w.Code, err, w.Body)
	}
	return withCookies(r, w.Result().Cookies())
}

// Session returns the session a client holds after w answered r: the one
// the cookies w set name, or r's if w set none. It is the zero T if the
// handler destroyed the session. Session fails t if the session cannot be
// loaded.
func Session[T any](t testing.TB, m *scsession.Manager[T], r *http.Request, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	rec := httptest.NewRecorder()
	req := withCookies(httptest.NewRequest(http.MethodGet, "/", nil), append(r.Cookies(), w.Result().Cookies()...))
	m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v = m.Get(r.Context())
	})).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scsessiontest: loading the session failed: %d %s", rec.Code, rec.Body)
	}
	return v
}

// withCookies returns a copy of r with cookies set as a cookie jar sets
// them: a later cookie replaces an earlier one of its name, and an expired
// one removes it.
func withCookies(r *http.Request, cookies []*http.Cookie) *http.Request {
	jar := append(r.Cookies(), cookies...)
	kept := map[string]*http.Cookie{}
	var order []string
	for _, c := range jar {
		if _, ok := kept[c.Name]; !ok {
			order = append(order, c.Name)
		}
		kept[c.Name] = c
	}
	r = r.Clone(r.Context())
	r.Header.Del("Cookie")
	for _, name := range order {
		if c := kept[name]; c.MaxAge >= 0 {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return r
}
