package storetest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// The sizes of the end-to-end checks.
const (
	concurrentAdds = 40
	logoutRounds   = 20
	devices        = 3
)

// testManager runs the app on the store and checks what its clients see.
func testManager(t *testing.T, open func(*testing.T) scs.Store) {
	t.Run("Login", func(t *testing.T) { testLogin(t, open(t)) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { testConcurrentUpdates(t, open(t)) })
	t.Run("LogoutRace", func(t *testing.T) { testLogoutRace(t, open(t)) })
	t.Run("Revocation", func(t *testing.T) { testRevocation(t, open(t)) })
}

func testLogin(t *testing.T, st scs.Store) {
	a := newApp(t, st, hasIndex(st))
	c := a.client(t)
	c.do(http.MethodPost, "/add?item=tea")
	anon := c.token()
	if anon == "" {
		t.Fatal("the first save of a session set no session cookie")
	}
	if got := c.session(""); !got.is("", "tea") {
		t.Fatalf("after POST /add?item=tea the session reads %+v; want the item in the cart: the store did not give back what the Manager committed (%s)", got, foundRule)
	}

	c.login("alice")
	renewed := c.token()
	if renewed == anon || renewed == "" {
		t.Fatalf("the login (Update, RenewToken) left the session cookie %q; want a new token", renewed)
	}
	if got := c.session(""); !got.is("alice", "tea") {
		t.Errorf("after the login the session reads %+v; want User alice and the cart kept", got)
	}
	if got := c.do(http.MethodGet, "/flashes"); got != "Welcome, alice\n" {
		t.Errorf("the page after the login shows the flash messages %q; want %q", got, "Welcome, alice\n")
	}
	if got := c.do(http.MethodGet, "/flashes"); got != "" {
		t.Errorf("the second page after the login shows the flash messages %q again; want none", got)
	}
	if got := c.session(anon); !got.is("") {
		t.Errorf("the session cookie from before the login still reads %+v; want a fresh session: "+
			"once the renewed session is saved the Manager deletes the old token (Delete, or CompareAndSwap with a nil b), "+
			"and the store must then not find it (%s)", got, missingRule)
	}
	(methods{st: st, ctx: t.Context()}).wantMissing(t, anon, "a login's RenewToken, under the token from before the login")

	c.do(http.MethodPost, "/logout")
	if got := c.session(""); !got.is("") {
		t.Errorf("after the logout (Destroy) the session reads %+v; want a fresh session", got)
	}
	if got := c.session(renewed); !got.is("") {
		t.Errorf("after the logout (Destroy) the logged-in session cookie still reads %+v; want a fresh session (%s)", got, deleteRule)
	}
}

func testConcurrentUpdates(t *testing.T, st scs.Store) {
	if !guarded(st) {
		t.Skip(lastWriteWins(st))
	}
	a := newApp(t, st, hasIndex(st))
	c := a.client(t)
	c.do(http.MethodPost, "/add?item=first")
	failed := make([]response, concurrentAdds)
	var wg sync.WaitGroup
	for i := range concurrentAdds {
		wg.Go(func() {
			if r := c.send(http.MethodPost, fmt.Sprintf("/add?item=%d", i), ""); r.err != nil || r.status != http.StatusOK {
				failed[i] = r
			}
		})
	}
	if !waitFor(&wg, 2*wait) {
		t.Fatalf("%d concurrent requests did not finish within %v", concurrentAdds, 2*wait)
	}
	for _, r := range failed {
		if r.method != "" {
			t.Fatalf("one of %d concurrent additions to a cart failed: %s", concurrentAdds, r)
		}
	}
	got := c.session("")
	var missing []string
	for i := range concurrentAdds {
		if !slices.Contains(got.Cart, fmt.Sprint(i)) {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 || len(got.Cart) != concurrentAdds+1 {
		t.Errorf("after %d concurrent requests each adding an item to one session's cart, it holds %d of the %d items (lost: %v): "+
			"saves overwrote each other. The Manager saves with CompareAndSwap(token, what the request read, ...) and, refused, applies "+
			"the request's change again to the current bytes it is given (%s)", concurrentAdds, len(got.Cart), concurrentAdds+1, missing, swapRule)
	}
}

func testLogoutRace(t *testing.T, st scs.Store) {
	if !guarded(st) {
		t.Skip(lastWriteWins(st))
	}
	a := newApp(t, st, hasIndex(st))
	s := methods{st: st, ctx: t.Context()}
	for round := range logoutRounds {
		c := a.client(t)
		c.login(fmt.Sprintf("erin-%d", round))
		token := c.token()
		a.whileReading(t, c, func() { c.do(http.MethodPost, "/logout") })
		if got := c.session(token); !got.is("") {
			t.Fatalf("round %d: a request read the session, a logout (Destroy) ended it, then the request changed and saved it: "+
				"the session came back, reading %+v; want it to stay ended. That save was CompareAndSwap(token, what it read, ...), "+
				"which must be refused once the session is deleted (%s)", round, got, swapRule)
		}
		s.wantMissing(t, token, fmt.Sprintf("round %d: a logout while a slow request of the session was in flight", round))
	}
}

func testRevocation(t *testing.T, st scs.Store) {
	if !hasIndex(st) {
		t.Skipf("%T has no user index (it is not a scsession.UserIndexStore, nor scs's memstore): a Manager cannot use WithUserID with it, "+
			"so Sessions and the Revoke methods are not available; implement AddUserSession, RemoveUserSession and UserSessions to have them", st)
	}
	a := newApp(t, st, true)
	ctx := t.Context()
	user := "frank-" + key()
	var cs []*client
	for range devices {
		c := a.client(t)
		c.do(http.MethodPost, "/add?item=x") // an anonymous session first, as a shopper's
		c.login(user)
		cs = append(cs, c)
	}
	bystander := a.client(t)
	bystander.login("grace-" + key())
	loggedIn := func(c *client, want bool, after string) {
		t.Helper()
		if got := c.session("").User; (got == user) != want {
			t.Fatalf("after %s, a client reads the session of user %q; want logged in %v", after, got, want)
		}
	}
	listed := func(want int, after string) {
		t.Helper()
		if infos, err := a.m.Sessions(ctx, user); err != nil || len(infos) != want {
			t.Fatalf("after %s, Sessions(user) lists %d sessions (error %v); want %d (%s)", after, len(infos), err, want, indexRule)
		}
	}

	listed(devices, fmt.Sprintf("logins from %d clients", devices))
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.own())
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(ids))); len(distinct) != devices {
		t.Fatalf("Sessions gives %d clients the IDs %v; want one each", devices, ids)
	}

	cs[0].do(http.MethodPost, "/revoke?id="+url.QueryEscape(ids[1]))
	loggedIn(cs[1], false, "Revoke of its session by another client")
	loggedIn(cs[0], true, "Revoke of another of the user's sessions")
	loggedIn(cs[2], true, "Revoke of another of the user's sessions")
	listed(devices-1, "Revoke of one of them")

	if n := cs[0].do(http.MethodPost, "/revoke-others"); n != fmt.Sprint(devices-2) {
		t.Errorf("RevokeOthers ended %s sessions; want %d", n, devices-2)
	}
	loggedIn(cs[2], false, "RevokeOthers from another client")
	loggedIn(cs[0], true, "RevokeOthers from this client")
	listed(1, "RevokeOthers")

	for _, c := range cs[1:] {
		c.login(user)
	}
	listed(devices, "new logins")
	if n, err := a.m.RevokeUser(ctx, user); err != nil || n != devices {
		t.Errorf("RevokeUser ended %d sessions (error %v); want %d", n, err, devices)
	}
	for _, c := range cs {
		loggedIn(c, false, "RevokeUser")
	}
	listed(0, "RevokeUser")
	if bystander.session("").User == "" {
		t.Errorf("RevokeUser ended the session of another user too")
	}

	cs[0].login(user)
	if err := a.m.RevokeUserSession(ctx, user, cs[0].own()); err != nil {
		t.Fatalf("RevokeUserSession of the user's session: %v", err)
	}
	loggedIn(cs[0], false, "RevokeUserSession")
}

// is reports whether the session is user's with the items in its cart.
func (c cart) is(user string, items ...string) bool {
	return c.User == user && slices.Equal(c.Cart, items)
}

// guarded reports whether the Manager's saves on st are compare-and-swap.
func guarded(st scs.Store) bool { return isSwap(st) || isMem(st) }

// hasIndex reports whether a Manager on st can index sessions by user.
func hasIndex(st scs.Store) bool { return isIndex(st) || isMem(st) }

func isMem(st scs.Store) bool {
	_, ok := st.(*memstore.MemStore)
	return ok
}

func lastWriteWins(st scs.Store) string {
	return fmt.Sprintf("%T is neither a scsession.SwapStore nor scs's memstore, so the Manager saves it last-write-wins: "+
		"concurrent requests of a session lose each other's changes, and a request in flight during a logout saves the session back. "+
		"Implement CompareAndSwap (scsession.SwapStore) to have these guarantees, and Run checks them", st)
}
