package sessiontest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
)

// Renewals (RenewToken) racing other requests of the session: defects a
// review of the core found, each kept from coming back. The tests use the
// first store of each way.

// RenewTokenDoesNotBringBackARevokedSession: a request that read the
// session, then renews it after RevokeUser ended it, leaves it ended.
func RenewTokenDoesNotBringBackARevokedSession(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		m := NewAccountsApp(t, st[0], time.Hour).M
		loaded, release := make(chan struct{}), make(chan struct{})
		url := serve(t, m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/login":
				m.RenewToken(r.Context())
				m.Update(r.Context(), func(u *User) { u.Name = "alice" })
			case "/sudo": // reads, then renews (a privilege change) after a revocation
				m.Get(r.Context())
				close(loaded)
				<-release
				m.RenewToken(r.Context())
			default:
				fmt.Fprint(w, m.Get(r.Context()).Name)
			}
		})))
		c := NewClient(t)
		c.Post(url + "/login")
		done := make(chan struct{})
		go func() { defer close(done); c.Post(url + "/sudo") }()
		<-loaded
		if n, err := m.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
			t.Fatalf("RevokeUser = %d, %v", n, err)
		}
		close(release)
		<-done
		if got := c.Get(url + "/whoami").Body; got != "" {
			t.Fatalf("after RevokeUser, the renewing client is logged in as %q", got)
		}
		if infos, _ := m.Sessions(context.Background(), "alice"); len(infos) != 0 {
			t.Fatalf("alice has %d sessions after RevokeUser", len(infos))
		}
	})
}

// RenewTokenCarriesOverAConcurrentChange: a login while another tab saves
// the session keeps that tab's change. It used to fail with a 500: moving the
// newer data to the new token compared against the wrong bytes.
func RenewTokenCarriesOverAConcurrentChange(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		sm := scs.New()
		sm.Store = st[0]
		m := scsession.New[User](sm, scsession.WithLogger(discard))
		loaded, release := make(chan struct{}), make(chan struct{})
		url := serve(t, m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/add":
				m.Update(r.Context(), func(u *User) { u.Cart = append(u.Cart, r.FormValue("item")) })
			case "/login": // reads, then renews while /add saves
				m.Get(r.Context())
				close(loaded)
				<-release
				m.RenewToken(r.Context())
			default:
				fmt.Fprint(w, strings.Join(m.Get(r.Context()).Cart, ","))
			}
		})))
		c := NewClient(t)
		c.Post(url + "/add?item=bread")
		old := c.Cookie(url)
		tab := NewClient(t) // another tab of the same browser
		tab.SetCookie(url, old)

		done := make(chan Response, 1)
		go func() { done <- c.Post(url + "/login") }()
		<-loaded
		tab.Post(url + "/add?item=tea")
		close(release)
		if r := <-done; r.Status != http.StatusOK {
			t.Fatalf("login while another request saved: %d %s", r.Status, r.Body)
		}
		if c.Cookie(url) == old {
			t.Fatal("the token was not renewed")
		}
		if got := c.Get(url + "/").Body; got != "bread,tea" {
			t.Fatalf("after the renewal the cart is %q, want bread,tea", got)
		}
		if got := tab.Get(url + "/").Body; got != "" {
			t.Fatalf("the old token still reads %q", got)
		}
	})
}

// ChangePasswordPageKeepsTheCurrentSession: a page that renews the token,
// lists the user's devices and logs out the others keeps its own session.
// Sessions used to mark none as current after RenewToken, and RevokeOthers
// revoked the old token as another session, which ended the renewed one too.
func ChangePasswordPageKeepsTheCurrentSession(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		sm := scs.New()
		sm.Store = st[0]
		sm.HashTokenInStore = true
		m := scsession.New[User](sm, scsession.WithLogger(discard), scsession.WithUserID(func(u User) string { return u.Name }))
		url := serve(t, m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/login":
				m.RenewToken(r.Context())
				m.Update(r.Context(), func(u *User) { u.Name = "alice" })
			case "/password":
				m.RenewToken(r.Context())
				infos, _ := m.Sessions(r.Context(), "alice")
				current := 0
				for _, info := range infos {
					if info.Current {
						current++
					}
				}
				n, err := m.RevokeOthers(r.Context())
				fmt.Fprintf(w, "%d listed, %d current, %d revoked, %v", len(infos), current, n, err)
			default:
				fmt.Fprint(w, m.Get(r.Context()).Name)
			}
		})))
		c, other := NewClient(t), NewClient(t)
		c.Post(url + "/login")
		other.Post(url + "/login")
		if got := c.Post(url + "/password").Body; got != "2 listed, 1 current, 1 revoked, <nil>" {
			t.Fatalf("the password page says %q", got)
		}
		if got := c.Get(url + "/").Body; got != "alice" {
			t.Fatalf("after the password change this browser reads %q, want alice", got)
		}
		if got := other.Get(url + "/").Body; got != "" {
			t.Fatalf("the other device reads %q", got)
		}
	})
}
