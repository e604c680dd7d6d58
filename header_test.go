package scsession

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// apiApp is userApp for API clients: /login answers the session's token in
// its body, as a JSON API's login does.
func apiApp(m *Manager[user]) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := m.RenewToken(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		m.Update(ctx, func(u *user) { u.Name = r.FormValue("name") })
		token, err := m.Token(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, token)
	})
	mux.HandleFunc("GET /api/token", func(w http.ResponseWriter, r *http.Request) {
		token, err := m.Token(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, token)
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		m.RenewToken(r.Context())
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		m.Destroy(r.Context())
	})
	return mux
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func TestTokenHeaderCarriesTheSession(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithTokenHeader("Authorization"), WithSigningKeys(newKey))
	url := serve(t, m, apiApp(m))
	api := newClient(t) // an API client: it never sends the cookie it may get

	login := api.Post(url + "/api/login?name=ann")
	token := login.Body
	if c := login.Header.Values("Set-Cookie"); len(c) > 0 || login.Header.Get("Authorization") != "Bearer "+token {
		t.Fatalf("a login that called Token set cookies %q and Authorization %q; want no cookie and the token", c, login.Header.Get("Authorization"))
	}
	r := api.Replay(http.MethodGet, url+"/get", "") // no cookie
	if strings.Contains(r.Body, "ann") {
		t.Fatal("a request without the token read the session")
	}
	r = newClient(t).Post(url+"/add?item=tea", bearer(token)...)
	if !strings.Contains(r.Body, "name=ann cart=[tea]") {
		t.Fatalf("with the bearer token: %q, want ann's session", r.Body)
	}
	if c := r.Header.Values("Set-Cookie"); len(c) > 0 {
		t.Fatalf("a request with the token header was sent a cookie: %q", c)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Fatalf("the token did not change, but the response carries %q", got)
	}
	if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Authorization") {
		t.Fatalf("Vary %q does not name the token header", r.Header.Values("Vary"))
	}

	// RenewToken: the new token in the response header, the old one dead.
	r = newClient(t).Post(url+"/renew", bearer(token)...)
	renewed, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || renewed == token || !strings.Contains(renewed, ".") {
		t.Fatalf("after RenewToken the response header is %q, want Bearer and a new signed token", r.Header.Get("Authorization"))
	}
	if got := newClient(t).Get(url+"/get", bearer(token)...).Body; strings.Contains(got, "ann") {
		t.Fatal("the token RenewToken replaced still reads the session")
	}
	if got := newClient(t).Get(url+"/get", bearer(renewed)...).Body; !strings.Contains(got, "cart=[tea]") {
		t.Fatalf("the renewed token reads %q", got)
	}

	// Destroy: the response says to drop the token, which is dead.
	r = newClient(t).Post(url+"/logout", bearer(renewed)...)
	if v, ok := r.Header["Authorization"]; !ok || v[0] != "" {
		t.Fatalf("after Destroy the response header is %q, want an empty Authorization", v)
	}
	if got := newClient(t).Get(url+"/get", bearer(renewed)...).Body; strings.Contains(got, "ann") {
		t.Fatal("a destroyed session's token still reads it")
	}

	// A token that is not ours never reaches the store.
	finds := st.finds
	r = newClient(t).Get(url+"/get", "Authorization", "Bearer forged.token")
	if st.finds != finds {
		t.Fatal("a malformed bearer token reached the store")
	}
	if v, ok := r.Header["Authorization"]; !ok || v[0] != "" {
		t.Fatalf("a malformed token got %q, want an empty Authorization telling the client to drop it", v)
	}
}

func TestTokenHeaderWinsOverTheCookie(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithTokenHeader("X-Session-Token"))
	url := serve(t, m, apiApp(m))
	browser, api := newClient(t), newClient(t)
	browser.Post(url + "/add?item=cookie")
	token := api.Post(url + "/api/login?name=api").Body

	r := browser.Post(url+"/add?item=header", "X-Session-Token", token) // both: the header's session
	if !strings.Contains(r.Body, "name=api cart=[header]") {
		t.Fatalf("with a cookie and the header: %q, want the header's session", r.Body)
	}
	if len(r.Header.Values("Set-Cookie")) > 0 {
		t.Fatal("a request with both was sent a cookie")
	}
	if got := browser.Get(url + "/get").Body; !strings.Contains(got, "cart=[cookie]") {
		t.Fatalf("the cookie's session, untouched: %q", got)
	}
}

func TestTokenHeaderLeavesOtherClientsAlone(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithTokenHeader("Authorization"))
	url := serve(t, m, apiApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=1&name=bob")
	cookie := c.Cookie(url)

	for _, tc := range []struct{ name, header, value string }{
		{"basic auth is the app's", "Authorization", "Basic Ym9iOnNlY3JldA=="},
		{"an empty header", "Authorization", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Post(url+"/add?item=tea", tc.header, tc.value)
			if !strings.Contains(r.Body, "name=bob") {
				t.Fatalf("the cookie session was not used: %q", r.Body)
			}
			if r.Header.Get("Authorization") != "" {
				t.Fatal("a cookie client was answered in the token header")
			}
		})
	}
	if c.Cookie(url) != cookie {
		t.Fatal("the cookie changed")
	}
}

func TestTokenInTheURLIsNeverAccepted(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithTokenHeader("X-Session-Token"))
	url := serve(t, m, apiApp(m))
	token := newClient(t).Post(url + "/api/login?name=eve").Body
	for _, q := range []string{"session", "token", "X-Session-Token", "access_token"} {
		if got := newClient(t).Get(url + "/get?" + q + "=" + token).Body; strings.Contains(got, "eve") {
			t.Fatalf("?%s= gave the session: %q", q, got)
		}
	}
}

func TestTokenOfANewSessionWorks(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithTokenHeader("X-Session-Token"))
	url := serve(t, m, apiApp(m))
	token := newClient(t).Get(url + "/api/token").Body
	if !isToken(token) {
		t.Fatalf("Token gave %q", token)
	}
	r := newClient(t).Post(url+"/add?item=tea", "X-Session-Token", token)
	if !strings.Contains(r.Body, "cart=[tea]") || r.Header.Get("X-Session-Token") != "" {
		t.Fatalf("the token Token gave a new session does not hold it: %q %q", r.Body, r.Header)
	}
	if got := newClient(t).Get(url+"/get", "X-Session-Token", token).Body; !strings.Contains(got, "cart=[tea]") {
		t.Fatalf("got %q", got)
	}
}

func TestTokenHeaderRotatesSigningKeys(t *testing.T) {
	st := newCountingStore()
	url := func(keys ...[]byte) string {
		sm, _ := newSM()
		sm.Store = st
		m := New[user](sm, WithTokenHeader("X-Session-Token"), WithSigningKeys(keys...))
		return serve(t, m, apiApp(m))
	}
	old, rotating := url(oldKey), url(newKey, oldKey)
	token := newClient(t).Post(old + "/api/login?name=kim").Body
	r := newClient(t).Get(rotating+"/get", "X-Session-Token", token)
	resigned := r.Header.Get("X-Session-Token")
	if !strings.Contains(r.Body, "kim") || resigned == token || !strings.HasPrefix(resigned, strings.Split(token, ".")[0]+".") {
		t.Fatalf("rotating server: body %q, header %q; want kim's session and the same token signed anew", r.Body, resigned)
	}
}

func TestTokenHeaderKeepsConcurrentUpdates(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithTokenHeader("Authorization"))
	url := serve(t, m, apiApp(m))
	token := newClient(t).Post(url + "/api/login?name=max").Body
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { newClient(t).Post(url+fmt.Sprintf("/add?item=i%d", i), bearer(token)...) })
	}
	wg.Wait()
	got := newClient(t).Get(url+"/get", bearer(token)...).Body
	if n := strings.Count(got, " i") + strings.Count(got, "[i"); n != 20 {
		t.Fatalf("%d of 20 concurrent additions kept: %q", n, got)
	}
}

// Token on a new session, then RenewToken in the same request (a login
// handler that asks for the token first, or middleware that hands every API
// response its token): the session must be saved and the token must work.
func TestTokenThenRenewTokenSavesTheSession(t *testing.T) {
	sm, _ := memSM()
	events := &eventLog{}
	m := New[user](sm, WithTokenHeader("X-Session-Token"), WithLogger(discard), events.option())
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if _, err := m.Token(ctx); err != nil { // e.g. middleware exposing the token
			http.Error(w, err.Error(), 500)
			return
		}
		if err := m.RenewToken(ctx); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		m.Update(ctx, func(u *user) { u.Name = "ann" })
		token, _ := m.Token(ctx)
		fmt.Fprint(w, token)
	})
	u := serve(t, m, mux)
	r := newClient(t).Post(u + "/api/login")
	if got := newClient(t).Get(u+"/get", "X-Session-Token", r.Body).Body; !strings.Contains(got, "name=ann") {
		t.Fatalf("the token the login handed out reads %q; events:\n%s", got, events)
	}
}

// A browser, logged in by cookie with a cart, opens a page whose handler
// renews the token and then calls Token (a shared login endpoint that also
// answers API clients): the response keeps the browser's cookie up to date,
// so the browser keeps its session, cart included.
func TestRenewThenTokenOnACookieRequestKeepsTheBrowsersSession(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithTokenHeader("Authorization"), WithLogger(discard))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		m.Update(r.Context(), func(u *user) { u.Name = r.FormValue("name") })
		tok, err := m.Token(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, tok)
	})
	u := serve(t, m, mux)
	b := newClient(t)
	b.Post(u + "/add?item=tea")
	if got := b.Get(u + "/get").Body; !strings.Contains(got, "cart=[tea]") {
		t.Fatalf("before: %q", got)
	}
	r := b.Post(u + "/api/login?name=ann")
	if got := b.Get(u + "/get").Body; !strings.Contains(got, "cart=[tea]") {
		t.Fatalf("after a page that called RenewToken then Token, the browser reads %q (Set-Cookie %q): its cookie names a retired token",
			got, r.Header.Values("Set-Cookie"))
	}
}
