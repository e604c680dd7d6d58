package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"
)

// The demo account, shown on the login page.
const (
	demoUser     = "demo"
	demoPassword = "demo"
)

type product struct {
	ID, Name, Price string
}

var products = []product{
	{"tea", "Green tea", "€3.50"},
	{"coffee", "Coffee beans", "€8.90"},
	{"croissant", "Croissant", "€1.80"},
	{"jam", "Apricot jam", "€4.20"},
}

// special is the product the home page offers.
const special = "croissant"

func productByID(id string) (product, bool) {
	for _, p := range products {
		if p.ID == id {
			return p, true
		}
	}
	return product{}, false
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Update(r.Context(), func(s *Session) { s.Visits++ }); err != nil {
		a.serverError(w, r, err)
		return
	}
	p, _ := productByID(special)
	a.render(w, r, http.StatusOK, "home", p)
}

func (a *app) setTheme(w http.ResponseWriter, r *http.Request) {
	theme := r.PostFormValue("theme")
	if theme != "light" && theme != "dark" {
		a.render(w, r, http.StatusBadRequest, "error", "The theme must be light or dark.")
		return
	}
	if err := a.sessions.Update(r.Context(), func(s *Session) { s.Theme = theme }); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/")
}

// loginState is what the login page shows besides the form.
type loginState struct {
	DemoUser, DemoPassword string
	LockedSeconds          int // this session's lock; zero when login is open
	AddrLockedSeconds      int // the client address's lock
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.Get(r.Context())
	a.render(w, r, http.StatusOK, "login", loginState{
		DemoUser:          demoUser,
		DemoPassword:      demoPassword,
		LockedSeconds:     seconds(a.lockedFor(s)),
		AddrLockedSeconds: seconds(a.addrs.lockedFor(clientAddr(r))),
	})
}

// lockedFor is how long login stays locked for s, rounded up to the second.
func (a *app) lockedFor(s Session) time.Duration {
	return roundUp(s.LockedUntil.Sub(a.now()))
}

func seconds(d time.Duration) int { return int(d.Seconds()) }

// login checks the form against the demo account, after the three limits of
// throttle.go: this session's, the client address's and the account's.
// Every failure counts against all three.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	username := r.PostFormValue("username")
	addr, account := clientAddr(r), accountKey(username)
	if msg := a.loginLocked(ctx, addr, account); msg != "" {
		a.sessions.Flash(ctx, "error", msg)
		redirect(w, r, "/login")
		return
	}

	if !demoAccount(username, r.PostFormValue("password")) {
		msg, err := a.loginFailed(ctx, addr, account)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		a.sessions.Flash(ctx, "error", msg)
		redirect(w, r, "/login")
		return
	}
	a.loggedIn(addr, account)

	// A new token for the new privilege, against session fixation, and a new
	// CSRF token with it.
	if err := a.sessions.RenewToken(ctx); err != nil {
		a.serverError(w, r, err)
		return
	}
	err := a.sessions.Update(ctx, func(s *Session) {
		s.User = demoUser
		s.LoggedInAt = a.now().Truncate(time.Second)
		s.Failures, s.LockedUntil = 0, time.Time{}
		s.CSRF = rand.Text()
	})
	if err == nil {
		err = a.sessions.RememberMe(ctx, r.PostFormValue("remember") != "")
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.sessions.Flash(ctx, "success", "Welcome back!")
	redirect(w, r, "/members")
}

// demoAccount reports whether username and password are the demo account's,
// comparing both fields in constant time, whatever the first one says.
func demoAccount(username, password string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(username), []byte(demoUser))
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(demoPassword))
	return userOK&passOK == 1
}

// loginLocked says why login is refused before the password is even
// checked, or "" if it is open; an attempt it lets through is counted
// against the address and the account (serverAttempt).
func (a *app) loginLocked(ctx context.Context, addr, account string) string {
	if left := a.lockedFor(a.sessions.Get(ctx)); left > 0 {
		return fmt.Sprintf("Too many failed attempts: login is locked for %d more seconds.", seconds(left))
	}
	msg, _ := a.serverAttempt(addr, account)
	return msg
}

// serverAttempt counts a login attempt against the address and the account
// limits, before the password is checked, and says why they refuse it and
// for how long; "" and zero if they let it through. The API's login has
// these limits only.
func (a *app) serverAttempt(addr, account string) (string, time.Duration) {
	if ok, left := a.addrs.attempt(addr); !ok {
		return fmt.Sprintf("Too many failed attempts from your network address: login is locked for %d more seconds.", seconds(left)), left
	}
	if ok, left := a.accounts.attempt(account); !ok {
		return fmt.Sprintf("Too many failed attempts for this account: it is locked for %d more seconds, on every device. Other accounts can still log in.", seconds(left)), left
	}
	return "", 0
}

// loggedIn takes back the attempt of a right password: the account's count
// starts again, and the address's successful logins do not count.
func (a *app) loggedIn(addr, account string) {
	a.addrs.refund(addr)
	a.accounts.forget(account)
}

// loginFailed counts a wrong password against the session, the address and
// the account, and returns what to tell the user.
func (a *app) loginFailed(ctx context.Context, addr, account string) (string, error) {
	msg := "Wrong username or password."
	err := a.sessions.Update(ctx, func(s *Session) {
		s.Failures++
		if s.Failures >= maxFailures {
			s.Failures = 0
			s.LockedUntil = a.now().Add(lockout)
			return
		}
		msg = fmt.Sprintf("Wrong username or password. %d attempts left.", maxFailures-s.Failures)
	})
	if err != nil {
		return "", err
	}
	// The server-side limits are counted even when the session's is what
	// the user sees: a new cookie must not start them again.
	if locked := a.countFailure(addr, account); locked != "" {
		msg = "Wrong username or password. " + locked
	}
	return msg, nil
}

// countFailure says whether a wrong password, counted by serverAttempt,
// locked the address or the account; "" if it did not.
func (a *app) countFailure(addr, account string) string {
	addrLocked, accountLocked := a.addrs.failed(addr), a.accounts.failed(account)
	switch {
	case addrLocked > 0:
		return fmt.Sprintf("Too many failed attempts from your network address: login is locked for %d minutes.", int(addrLocked.Minutes()))
	case accountLocked > 0:
		return fmt.Sprintf("Too many failed attempts for this account: it is locked for %d minutes, on every device.", int(accountLocked.Minutes()))
	}
	return ""
}

// pleaseLogIn is where Require sends anonymous visitors of the pages that
// need a login; what names the page in the message.
func (a *app) pleaseLogIn(what string) http.Handler {
	msg := "Please log in to see " + what + "."
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.sessions.Flash(r.Context(), "info", msg)
		redirect(w, r, "/login")
	})
}

func (a *app) members(w http.ResponseWriter, r *http.Request) {
	// Not even the back button may show this page from a cache once the user
	// has logged out.
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, r, http.StatusOK, "members", nil)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	theme := a.sessions.Get(ctx).Theme
	if err := a.sessions.Destroy(ctx); err != nil {
		a.serverError(w, r, err)
		return
	}
	// What follows Destroy goes to a new, empty session: the theme is kept,
	// as a courtesy, and the flash is shown on the next page.
	if theme != "" {
		if err := a.sessions.Update(ctx, func(s *Session) { s.Theme = theme }); err != nil {
			a.serverError(w, r, err)
			return
		}
	}
	a.sessions.Flash(ctx, "info", "You have been logged out.")
	redirect(w, r, "/")
}

// cartLine is one row of the cart page.
type cartLine struct {
	product
	Quantity int
}

// cartPage is what the cart page shows.
type cartPage struct {
	Lines    []cartLine
	Products []product
}

func (a *app) cart(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.Get(r.Context())
	var page cartPage
	for _, p := range products { // in catalogue order, not the map's
		if q := s.Cart[p.ID]; q > 0 {
			page.Lines = append(page.Lines, cartLine{p, q})
		}
	}
	page.Products = products
	a.render(w, r, http.StatusOK, "cart", page)
}

func (a *app) cartAdd(w http.ResponseWriter, r *http.Request) {
	p, ok := productByID(r.PostFormValue("item"))
	if !ok {
		a.render(w, r, http.StatusBadRequest, "error", "There is no such item in the shop.")
		return
	}
	if err := a.addToCart(r.Context(), p); err != nil {
		a.serverError(w, r, err)
		return
	}
	a.sessions.Flash(r.Context(), "success", p.Name+" added to your cart.")
	redirect(w, r, "/cart")
}

// cartRemove takes one of the item out of the cart.
func (a *app) cartRemove(w http.ResponseWriter, r *http.Request) {
	p, ok := productByID(r.PostFormValue("item"))
	if !ok {
		a.render(w, r, http.StatusBadRequest, "error", "There is no such item in the shop.")
		return
	}
	err := a.sessions.Update(r.Context(), func(s *Session) {
		if s.Cart[p.ID] <= 1 {
			delete(s.Cart, p.ID)
			return
		}
		s.Cart[p.ID]--
	})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/cart")
}

// addToCart puts one more of p in the session's cart, for the page and the
// API alike.
func (a *app) addToCart(ctx context.Context, p product) error {
	return a.sessions.Update(ctx, func(s *Session) {
		if s.Cart == nil {
			s.Cart = map[string]int{}
		}
		s.Cart[p.ID]++
	})
}
