package main

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The JSON API: programs (a phone app, a command-line tool, curl) log in
// with the demo account and keep a cart, carrying the session token in
// "Authorization: Bearer <token>" instead of a cookie. They share the pages'
// Manager and sessions (WithTokenHeader in newApp):
//
//	POST /api/login   {"username":"demo","password":"demo"}, or form values: {"token":"..."}
//	GET  /api/cart    the cart: {"user":"demo","items":[...],"count":1}
//	POST /api/cart    {"item":"tea"}, or form values: the cart
//	POST /api/logout  {"logged_out":true}, and an empty Authorization header: drop the token
//
// Errors are {"error":"..."}: 401 without a logged-in token, 429 while
// login is locked, 501 for every endpoint with -cookie-store, which has no
// server store for a token to stand for.
//
// Cross-site requests: a browser never adds an Authorization header by
// itself, and a page of another site can make it send one only after a CORS
// preflight, which this app never answers; so a request with the bearer
// token needs no CSRF token. A request without it is the browser's cookie at
// work: it gets the pages' CSRF check, and then /api/cart and /api/logout
// refuse it anyway (401), so the cookie alone never drives the API.

func (a *app) apiRoutes(r chi.Router) {
	if a.cookies {
		r.HandleFunc("/api/*", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusNotImplemented, apiError{"this instance keeps each session in its cookie (-cookie-store), so there is no session on the server for a token to stand for, and no API; run the example with its memory store, -redis or -postgres to use it"})
		})
		return
	}
	r.Use(a.crossOrigin().Handler, a.apiCSRF)
	r.Post("/api/login", a.apiLogin)
	r.Group(func(r chi.Router) {
		r.Use(a.requireToken)
		r.Get("/api/cart", a.apiCart)
		r.Post("/api/cart", a.apiCartAdd)
		r.Post("/api/logout", a.apiLogout)
	})
	r.HandleFunc("/api/*", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{"there is no such endpoint; the page /api lists them"})
	})
}

// apiError is the body of every error of the API.
type apiError struct {
	Error string `json:"error"`
}

// apiCSRF lets through, without a CSRF token, what a forged cross-site
// request cannot be: a safe method, or a request with the bearer token.
// Every other request must carry the session's CSRF token as a form does.
// The exception is a login by a client that has never been shown a page, so
// has no token: there is no session for a forged request to ride, and
// CrossOriginProtection (before this) refuses what a browser says came from
// another site. What is left, a browser too old to say so, could be logged
// in to the demo account by another site; a login with a JSON body cannot
// be forged at all, as no cross-site form can send one.
func (a *app) apiCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet || r.Method == http.MethodHead || a.sessions.ViaHeader(r.Context()):
		case r.URL.Path == "/api/login" && a.sessions.Get(r.Context()).CSRF == "":
		case !a.csrfOK(w, r):
			writeJSON(w, http.StatusForbidden, apiError{"this request carries the session cookie but not its CSRF token; API clients send the token from POST /api/login as Authorization: Bearer <token>, and no cookie"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireToken answers 401 to a request without the bearer token, or whose
// token is not a logged-in session.
func (a *app) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !a.sessions.ViaHeader(r.Context()): // its session is the header's, never the cookie's
			w.Header().Set("WWW-Authenticate", `Bearer realm="scsession example"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"send the token from POST /api/login in the header Authorization: Bearer <token>"})
		case a.sessions.Get(r.Context()).User == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="scsession example", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"this token is not a logged-in session (logged out, expired, or never logged in): log in again with POST /api/login"})
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// apiLogin is login for programs, after the same account and address
// limits (throttle.go); a session's own count would mean nothing, as each
// attempt of a program without a token is a new session. A failure saves
// no session: it is only counted.
func (a *app) apiLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	in, err := fields(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	addr, account := clientAddr(r), accountKey(in["username"])
	if msg, left := a.serverAttempt(addr, account); left > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(seconds(left)))
		writeJSON(w, http.StatusTooManyRequests, apiError{msg})
		return
	}
	if !demoAccount(in["username"], in["password"]) {
		msg := "Wrong username or password."
		if locked := a.countFailure(addr, account); locked != "" {
			msg += " " + locked
		}
		writeJSON(w, http.StatusUnauthorized, apiError{msg})
		return
	}
	a.loggedIn(addr, account)

	// A new token for the new privilege, against session fixation: a
	// client that logs in again with its token gets a new one.
	if err := a.sessions.RenewToken(ctx); err != nil {
		a.serverError(w, r, err)
		return
	}
	err = a.sessions.Update(ctx, func(s *Session) {
		s.User = demoUser
		s.LoggedInAt = a.now().Truncate(time.Second)
	})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	token, err := a.sessions.Token(ctx)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Token string `json:"token"`
	}{token})
}

// apiCartBody is what the cart endpoints answer.
type apiCartBody struct {
	User  string        `json:"user"`
	Items []apiCartItem `json:"items"`
	Count int           `json:"count"`
}

type apiCartItem struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Price    string `json:"price"`
	Quantity int    `json:"quantity"`
}

func (a *app) apiCart(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.Get(r.Context())
	body := apiCartBody{User: s.User, Items: []apiCartItem{}}
	for _, p := range products { // in catalogue order, not the map's
		if q := s.Cart[p.ID]; q > 0 {
			body.Items = append(body.Items, apiCartItem{p.ID, p.Name, p.Price, q})
			body.Count += q
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// apiCartAdd puts one of the item in the cart and answers the cart.
func (a *app) apiCartAdd(w http.ResponseWriter, r *http.Request) {
	in, err := fields(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	p, ok := productByID(in["item"])
	if !ok {
		ids := make([]string, len(products))
		for i, p := range products {
			ids[i] = p.ID
		}
		writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("there is no item %q in the shop; there are %s", in["item"], strings.Join(ids, ", "))})
		return
	}
	if err := a.addToCart(r.Context(), p); err != nil {
		a.serverError(w, r, err)
		return
	}
	a.apiCart(w, r)
}

// apiLogout ends the session: its token no longer works, and the response's
// Authorization header is empty, telling the client to drop it.
func (a *app) apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Destroy(r.Context()); err != nil {
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		LoggedOut bool `json:"logged_out"`
	}{true})
}

// fields reads a request's body: a JSON object of strings, or form values
// (curl -d name=value).
func fields(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var m map[string]string
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, fmt.Errorf("the body is not a JSON object of strings: %v", err)
		}
		return m, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("the body is neither JSON (Content-Type: application/json) nor form values: %v", err)
	}
	m := make(map[string]string, len(r.PostForm))
	for k := range r.PostForm {
		m[k] = r.PostForm.Get(k)
	}
	return m, nil
}

// writeJSON answers v as JSON. The answers are the user's own data, and a
// login's is a credential: no cache may keep them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// apiPage is the page that shows the API, with curl commands for this
// server.
func (a *app) apiPage(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if a.secure || r.TLS != nil {
		scheme = "https"
	}
	a.render(w, r, http.StatusOK, "api", struct {
		Base     string
		Products []product
	}{scheme + "://" + r.Host, products})
}
