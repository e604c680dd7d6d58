package scsession

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to the store side: whatever a store
// returns, a request gets a 200 and a usable session, never a panic or a 500.
func FuzzDecode(f *testing.F) {
	now := time.Now()
	f.Add((&envelope{deadline: now.Add(time.Hour), data: packed(`{"UserID":1,"Cart":["a"]}`)}).encode())
	f.Add((&envelope{deadline: now.Add(time.Hour), flashes: []Flash{{"info", "hi"}}, remember: true}).encode())
	f.Add([]byte(magic))
	f.Add([]byte("garbage"))

	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	h := m.LoadAndSave(userApp(m))
	token := newToken()
	f.Fuzz(func(t *testing.T, b []byte) {
		if env, err := decodeEnvelope(b); err == nil {
			again, err := decodeEnvelope(env.encode())
			if err != nil || again.deadline != env.deadline || len(again.flashes) != len(env.flashes) || string(again.data) != string(env.data) {
				t.Fatalf("envelope does not survive a round trip: %v", err)
			}
		}
		codec{}.Decode(b)

		st.Store.Commit(token, b, time.Now().Add(time.Hour))
		for _, target := range []string{"/get", "/add?item=x"} {
			method := http.MethodGet
			if target != "/get" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, target, nil)
			req.AddCookie(&http.Cookie{Name: "session", Value: token})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s on stored %q: status %d %s", method, target, b, rec.Code, rec.Body)
			}
		}
	})
}

// FuzzCookie feeds arbitrary cookie values to the middleware: only a value
// the Manager itself issued reaches the store, and nothing panics.
func FuzzCookie(f *testing.F) {
	signed := New[user](nil, WithSigningKeys(newKey, oldKey))
	token := newToken()
	f.Add(token)
	f.Add(signed.sign(token))
	f.Add(token + "." + token)
	f.Add("")
	f.Add("a.b.c")

	type app struct {
		m  *Manager[user]
		st *countingStore
		h  http.Handler
	}
	var apps []app
	for _, keys := range [][][]byte{nil, {newKey, oldKey}} {
		sm, st := newSM()
		m := New[user](sm, WithSigningKeys(keys...), WithLogger(discard))
		apps = append(apps, app{m, st, m.LoadAndSave(userApp(m))})
	}
	f.Fuzz(func(t *testing.T, value string) {
		req := httptest.NewRequest(http.MethodGet, "/get", nil)
		req.Header.Set("Cookie", "session="+value)
		c, err := req.Cookie("session")
		if err != nil {
			c = &http.Cookie{}
		}
		for _, a := range apps {
			got, _, _ := a.m.verify(t.Context(), c.Value)
			if got != "" && !isToken(got) {
				t.Fatalf("verify(%q) accepted %q, which is not a token", c.Value, got)
			}
			if got != "" && len(a.m.cfg.keys) > 0 && c.Value != a.m.sign(got) && c.Value != signWith(t, oldKey, got) {
				t.Fatalf("verify(%q) accepted a value that no key signed", c.Value)
			}

			a.st.counts()
			rec := httptest.NewRecorder()
			a.h.ServeHTTP(rec, req)
			finds, _, _ := a.st.counts()
			if rec.Code != http.StatusOK {
				t.Fatalf("cookie %q: status %d", value, rec.Code)
			}
			if got == "" && finds != 0 {
				t.Fatalf("cookie %q was rejected but reached the store", value)
			}
		}
	})
}
