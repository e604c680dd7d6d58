package scsessiontest_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/scsessiontest"
)

type big struct {
	UserID int
	Blob   string
}

func renewAndShrink(m *scsession.Manager[big], blob string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		m.Update(r.Context(), func(s *big) { s.UserID++; s.Blob = blob })
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestWithSessionOnEveryKindOfManager(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	cases := map[string]func() *scsession.Manager[big]{
		"signing keys, custom name": func() *scsession.Manager[big] {
			sm := scs.New()
			sm.Cookie.Name = "sid"
			return scsession.New[big](sm, scsession.WithSigningKeys(key, bytes.Repeat([]byte("o"), 32)))
		},
		"cookie store, custom name": func() *scsession.Manager[big] {
			sm := scs.New()
			sm.Cookie.Name = "sid"
			return scsession.New[big](sm, scsession.WithCookieStore(key))
		},
	}
	for name, mk := range cases {
		for _, sizes := range [][2]int{{0, 0}, {3000, 10}, {10, 3000}, {3000, 3000}} {
			t.Run(name, func(t *testing.T) {
				m := mk()
				start, end := randomHex(sizes[0]), randomHex(sizes[1])
				r := scsessiontest.WithSession(t, m, httptest.NewRequest(http.MethodPost, "/login", nil), big{UserID: 1, Blob: start})
				r.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
				if got := scsessiontest.Session(t, m, r, httptest.NewRecorder()); got.UserID != 1 || got.Blob != start {
					t.Fatalf("WithSession then Session: user %d, blob %d chars", got.UserID, len(got.Blob))
				}
				w := httptest.NewRecorder()
				m.LoadAndSave(renewAndShrink(m, end)).ServeHTTP(w, r)
				if got := scsessiontest.Session(t, m, r, w); w.Code != 200 || got.UserID != 2 || got.Blob != end {
					t.Fatalf("%v: after a renewal: %d, user %d, blob %d chars (want %d); cookies %d", sizes, w.Code, got.UserID, len(got.Blob), len(end), len(w.Result().Cookies()))
				}
			})
		}
	}
}

func TestSessionAfterDestroyOfALargeCookieSession(t *testing.T) {
	m := scsession.New[big](nil, scsession.WithCookieStore(bytes.Repeat([]byte("k"), 32)))
	r := scsessiontest.WithSession(t, m, httptest.NewRequest(http.MethodPost, "/logout", nil), big{UserID: 1, Blob: randomHex(3000)})
	w := httptest.NewRecorder()
	m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.Destroy(r.Context()) })).ServeHTTP(w, r)
	if got := scsessiontest.Session(t, m, r, w); got.UserID != 0 {
		t.Fatalf("after Destroy: user %d", got.UserID)
	}
}
