package scsession_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"

	"github.com/scsession/scsession"
)

// Session is what this application keeps per visitor.
type Session struct {
	UserID int
	Visits int
	Cart   []string
}

// browser returns a client that keeps cookies and does not follow
// redirects, so the examples can show each step.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func body(c *http.Client, method, url string) string {
	req, _ := http.NewRequest(method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		return fmt.Sprintf("%d to %s", resp.StatusCode, loc)
	}
	return strings.TrimSpace(string(b))
}

// A visit counter: Get reads the typed session, Update changes it.
func Example() {
	sm := scs.New() // cookie, lifetime and store settings are scs's
	sm.Lifetime = 12 * time.Hour
	m := scsession.New[Session](sm)

	r := chi.NewRouter()
	r.Use(m.LoadAndSave)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(s *Session) { s.Visits++ })
		fmt.Fprintf(w, "visit %d", m.Get(r.Context()).Visits)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	c := browser()
	fmt.Println(body(c, "GET", srv.URL))
	fmt.Println(body(c, "GET", srv.URL))
	// Output:
	// visit 1
	// visit 2
}

// Require guards a chi group: anonymous visitors are sent to the login page.
func ExampleManager_Require() {
	m := scsession.New[Session](nil)
	loggedIn := func(s Session) bool { return s.UserID != 0 }

	r := chi.NewRouter()
	r.Use(m.LoadAndSave)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		m.RenewToken(r.Context()) // a new token at login, against session fixation
		m.Update(r.Context(), func(s *Session) { s.UserID = 42 })
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	r.Group(func(r chi.Router) {
		r.Use(m.Require(loggedIn, http.RedirectHandler("/login", http.StatusSeeOther)))
		r.Get("/account", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "account of user %d", m.Get(r.Context()).UserID)
		})
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	c := browser()
	fmt.Println(body(c, "GET", srv.URL+"/account"))
	fmt.Println(body(c, "POST", srv.URL+"/login"))
	fmt.Println(body(c, "GET", srv.URL+"/account"))
	// Output:
	// 303 to /login
	// 303 to /account
	// account of user 42
}

// A flash message survives one redirect and is shown once.
func ExampleManager_Flashes() {
	m := scsession.New[Session](nil)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(s *Session) { s.Cart = append(s.Cart, "tea") })
		m.Flash(r.Context(), "info", "Added tea to your cart.")
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		for _, f := range m.Flashes(r.Context()) { // before writing the response
			fmt.Fprintf(w, "[%s] %s\n", f.Kind, f.Message)
		}
		fmt.Fprintf(w, "cart: %v", m.Get(r.Context()).Cart)
	})
	srv := httptest.NewServer(m.LoadAndSave(mux))
	defer srv.Close()

	c := browser()
	body(c, "POST", srv.URL+"/cart")
	fmt.Println(body(c, "GET", srv.URL+"/cart"))
	fmt.Println(body(c, "GET", srv.URL+"/cart"))
	// Output:
	// [info] Added tea to your cart.
	// cart: [tea]
	// cart: [tea]
}

// Signed cookies with key rotation: the new key signs, the old one still
// verifies the cookies it signed until they expire.
func ExampleWithSigningKeys() {
	newKey, oldKey := make([]byte, 32), make([]byte, 32)
	rand.Read(newKey) // in production, load keys from your secret store
	rand.Read(oldKey)

	m := scsession.New[Session](nil, scsession.WithSigningKeys(newKey, oldKey))
	srv := httptest.NewServer(m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(s *Session) { s.Visits++ })
	})))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	value := resp.Cookies()[0].Value
	token, signature, _ := strings.Cut(value, ".")
	fmt.Println(len(token), "characters of token,", len(signature), "of signature")
	// Output: 43 characters of token, 43 of signature
}

// Account is a session that belongs to a user once logged in.
type Account struct{ Username string }

// "Log out everywhere else": the sessions of a user are indexed by
// WithUserID, so they can be listed and ended.
func ExampleManager_RevokeOthers() {
	m := scsession.New[Account](nil, scsession.WithUserID(func(a Account) string { return a.Username }))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		m.RenewToken(r.Context())
		m.Update(r.Context(), func(a *Account) { a.Username = "ada" })
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		sessions, _ := m.Sessions(r.Context(), m.Get(r.Context()).Username)
		fmt.Fprintf(w, "%q with %d session(s)", m.Get(r.Context()).Username, len(sessions))
	})
	mux.HandleFunc("POST /logout-others", func(w http.ResponseWriter, r *http.Request) {
		n, _ := m.RevokeOthers(r.Context())
		fmt.Fprintf(w, "ended %d", n)
	})
	srv := httptest.NewServer(m.LoadAndSave(mux))
	defer srv.Close()

	laptop, phone := browser(), browser()
	body(laptop, "POST", srv.URL+"/login")
	body(phone, "POST", srv.URL+"/login")
	fmt.Println(body(laptop, "GET", srv.URL+"/me"))
	fmt.Println(body(laptop, "POST", srv.URL+"/logout-others"))
	fmt.Println(body(phone, "GET", srv.URL+"/me"))
	fmt.Println(body(laptop, "GET", srv.URL+"/me"))
	// Output:
	// "ada" with 2 session(s)
	// ended 1
	// "" with 0 session(s)
	// "ada" with 1 session(s)
}
