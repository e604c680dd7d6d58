package scsessiontest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/scsessiontest"
)

func TestHandlerSeesTheSessionItWasGiven(t *testing.T) {
	m := scsession.New[Session](nil)
	r := httptest.NewRequest(http.MethodPost, "/cart?item=tea", nil)
	r.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
	r = scsessiontest.WithSession(t, m, r, Session{UserID: 7, Cart: []string{"jam"}})
	if c, err := r.Cookie("theme"); err != nil || c.Value != "dark" {
		t.Fatalf("the request's own cookie was lost: %v", err)
	}
	w := httptest.NewRecorder()
	m.LoadAndSave(addToCart(m)).ServeHTTP(w, r)
	if got := scsessiontest.Session(t, m, r, w); w.Code != http.StatusOK || got.UserID != 7 || len(got.Cart) != 2 {
		t.Fatalf("after the handler: %d %+v, want 200 and user 7 with jam and tea", w.Code, got)
	}
}

func TestWithoutASessionTheHandlerRefuses(t *testing.T) {
	m := scsession.New[Session](nil)
	r := httptest.NewRequest(http.MethodPost, "/cart?item=tea", nil)
	w := httptest.NewRecorder()
	m.LoadAndSave(addToCart(m)).ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || scsessiontest.Session(t, m, r, w).Cart != nil {
		t.Fatalf("%d, want 401 and no session", w.Code)
	}
}

func TestSessionAfterDestroyIsZero(t *testing.T) {
	m := scsession.New[Session](nil)
	r := scsessiontest.WithSession(t, m, httptest.NewRequest(http.MethodPost, "/logout", nil), Session{UserID: 7})
	w := httptest.NewRecorder()
	m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.Destroy(r.Context()) })).ServeHTTP(w, r)
	if got := scsessiontest.Session(t, m, r, w); got.UserID != 0 {
		t.Fatalf("after Destroy: %+v, want the zero session", got)
	}
}
