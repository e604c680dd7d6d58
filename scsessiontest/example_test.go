package scsessiontest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/scsessiontest"
)

type Session struct {
	UserID int
	Cart   []string
}

// addToCart is the handler under test: it needs a logged-in session.
func addToCart(m *scsession.Manager[Session]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.Get(r.Context()).UserID == 0 {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		m.Update(r.Context(), func(s *Session) { s.Cart = append(s.Cart, r.FormValue("item")) })
	})
}

func Example() {
	t := &testing.T{} // in a real test, the test's own t
	m := scsession.New[Session](nil)

	r := httptest.NewRequest(http.MethodPost, "/cart?item=tea", nil)
	r = scsessiontest.WithSession(t, m, r, Session{UserID: 7})
	w := httptest.NewRecorder()
	m.LoadAndSave(addToCart(m)).ServeHTTP(w, r)

	fmt.Println(w.Code, scsessiontest.Session(t, m, r, w).Cart)
	// Output: 200 [tea]
}
