package sessiontest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
)

// SessionsOfAUserCanBeListedAndRevoked: a user's devices are listed, one is
// revoked, then all others, then another user's; a forged revoke is refused.
func SessionsOfAUserCanBeListedAndRevoked(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		a, b := accountsApps(t, st, time.Hour)
		laptop, phone, tablet := NewDevice(t, "laptop"), NewDevice(t, "phone"), NewDevice(t, "tablet")
		bob := NewDevice(t, "bob's")
		laptop.Post(a.URL + "/login?name=alice")
		phone.Post(b.URL + "/login?name=alice")
		tablet.Post(a.URL + "/login?name=alice")
		bob.Post(b.URL + "/login?name=bob")

		if got := agents(sessions(laptop, b.URL)); got != "laptop* phone tablet" {
			t.Fatalf("alice's sessions seen from her laptop: %q", got)
		}
		if got := agents(sessions(bob, a.URL)); got != "bob's*" {
			t.Fatalf("bob's sessions: %q", got)
		}

		var phoneID string
		for _, in := range sessions(laptop, a.URL) {
			if in.Agent == "phone" {
				phoneID = in.ID
			}
			if strings.Contains(in.ID, phone.Cookie(a.URL)) || in.Created.IsZero() || in.LastSeen.IsZero() || !in.Expires.After(time.Now()) {
				t.Fatalf("session info %+v: want an opaque ID and times", in)
			}
		}
		if r := bob.Post(b.URL + "/revoke?id=" + phoneID); r.Status != http.StatusForbidden {
			t.Fatalf("bob revoking alice's phone: %d %q, want it refused", r.Status, r.Body)
		}
		if got := phone.Get(b.URL + "/whoami").Body; got != "alice" {
			t.Fatalf("bob's forged revoke logged alice's phone out: %q", got)
		}
		laptop.Post(a.URL + "/revoke?id=" + phoneID)
		if got := phone.Get(b.URL + "/whoami").Body; got != "" {
			t.Fatalf("the revoked phone is still logged in as %q", got)
		}

		if got := laptop.Post(b.URL + "/revoke-others").Body; got != "1" {
			t.Fatalf("log out everywhere else ended %s sessions, want 1 (the tablet)", got)
		}
		if got := tablet.Get(a.URL + "/whoami").Body; got != "" {
			t.Fatalf("the tablet is still logged in as %q", got)
		}
		if got := laptop.Get(b.URL + "/whoami").Body; got != "alice" {
			t.Fatalf("log out everywhere else logged out the laptop too: %q", got)
		}
		if got := agents(sessions(laptop, a.URL)); got != "laptop*" {
			t.Fatalf("alice's sessions after: %q", got)
		}

		if got := laptop.Post(a.URL + "/revoke-user?name=bob").Body; got != "1" {
			t.Fatalf("RevokeUser(bob) ended %s sessions, want 1", got)
		}
		if got := bob.Get(a.URL + "/whoami").Body; got != "" {
			t.Fatalf("bob is still logged in as %q", got)
		}

		laptop.Post(a.URL + "/logout")
		laptop.Post(a.URL + "/login?name=carol")
		if got := sessions(laptop, b.URL); len(got) != 1 {
			t.Fatalf("carol has %d sessions, want 1", len(got))
		}
		if n, err := a.M.Sessions(t.Context(), "alice"); err != nil || len(n) != 0 {
			t.Fatalf("alice, logged out everywhere, still has %v (%v)", n, err)
		}
	})
}

// UserIndexFollowsRenewalsAndExpiry: a renewal replaces the listed session,
// and an expired one is no longer listed.
func UserIndexFollowsRenewalsAndExpiry(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		a, b := accountsApps(t, st, 700*time.Millisecond)
		laptop := NewDevice(t, "laptop")
		laptop.Post(a.URL + "/login?name=alice")
		first := sessions(laptop, b.URL)
		laptop.Post(b.URL + "/login?name=alice") // a privilege change: a new token
		second := sessions(laptop, a.URL)
		if len(second) != 1 || !second[0].Current || second[0].ID == first[0].ID || !second[0].Created.After(first[0].Created) {
			t.Fatalf("after renewal: %+v, before %+v; want one, current, with a new ID and creation time", second, first)
		}
		time.Sleep(800 * time.Millisecond)
		if infos, err := a.M.Sessions(t.Context(), "alice"); err != nil || len(infos) != 0 {
			t.Fatalf("after the lifetime: %+v (%v), want none", infos, err)
		}
	})
}

// RevokedSessionStaysRevokedUnderARequestInFlight: up to 200 "log out
// everywhere else", each while a slow request of the revoked session is in
// flight, all stay revoked.
func RevokedSessionStaysRevokedUnderARequestInFlight(t *testing.T, stores Stores) {
	const tries = 200
	each(t, stores, func(t *testing.T, st []scs.Store) {
		a, b := accountsApps(t, st, time.Hour)
		deadline := time.Now().Add(15 * time.Second)
		done := 0
		for ; done < tries && time.Now().Before(deadline); done++ {
			stolen, owner := NewDevice(t, "stolen"), NewDevice(t, "owner")
			stolen.Post(a.URL + "/login?name=dave")
			owner.Post(b.URL + "/login?name=dave")
			whileReading(&a.gates, stolen, a.URL, func() { owner.Post(b.URL + "/revoke-others") })
			if got := stolen.Get(a.URL + "/whoami").Body; got != "" {
				t.Fatalf("try %d: the revoked session came back as %q", done, got)
			}
			owner.Post(b.URL + "/logout")
		}
		if done < tries/10 {
			t.Fatalf("only %d tries in the time allowed", done)
		}
	})
}

// RevokeUserRacingRenewalsLeavesNoSession: over rounds, every device of a
// user renews its session (RenewToken and Update, as a privilege change
// does) while RevokeUser runs: once RevokeUser has returned, no device is
// logged in, whichever order the store saw.
func RevokeUserRacingRenewalsLeavesNoSession(t *testing.T, stores Stores) {
	const rounds, devices = 10, 30
	each(t, stores, func(t *testing.T, st []scs.Store) {
		a, b := accountsApps(t, st, time.Hour)
		apps := []*AccountsApp{a, b}
		left := 0
		for round := range rounds {
			name := fmt.Sprint("erin-", round)
			var cs []*Client
			for i := range devices {
				c := NewDevice(t, fmt.Sprint("device ", i))
				c.Post(apps[i%2].URL + "/login?name=" + name)
				cs = append(cs, c)
			}
			var wg sync.WaitGroup
			for i, c := range cs {
				wg.Go(func() { c.Post(apps[i%2].URL + "/sudo") })
			}
			if _, err := a.M.RevokeUser(context.Background(), name); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			for i, c := range cs {
				if c.Get(apps[i%2].URL+"/whoami").Body != "" {
					left++
				}
			}
		}
		if left > 0 {
			t.Fatalf("%d of %d device-rounds were still logged in after RevokeUser returned", left, rounds*devices)
		}
	})
}

// evictions counts EventEvicted, as an app's event hook would see them.
func evictions() (*atomic.Int64, scsession.Option) {
	var n atomic.Int64
	return &n, scsession.WithEvents(func(_ context.Context, e scsession.Event) {
		if e.Kind == scsession.EventEvicted {
			n.Add(1)
		}
	})
}

// MaxSessionsEndsTheLeastRecentlySeen: with WithMaxSessions(2), four
// devices logging in one after the other leave the two newest logged in,
// and a device logging in again does not count twice.
func MaxSessionsEndsTheLeastRecentlySeen(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		evicted, count := evictions()
		a, b := accountsApps(t, st, time.Hour, scsession.WithMaxSessions(2), count)
		var devices []*Client
		for i, agent := range []string{"laptop", "phone", "tablet", "tv"} {
			d := NewDevice(t, agent)
			d.Post([]string{a.URL, b.URL}[i%2] + "/login?name=alice")
			devices = append(devices, d)
		}
		if got := agents(sessions(devices[3], a.URL)); got != "tablet tv*" {
			t.Fatalf("after 4 logins with a cap of 2, alice's sessions are %q, want the two newest", got)
		}
		for i, want := range []string{"", "", "alice", "alice"} {
			if got := devices[i].Get(b.URL + "/whoami").Body; got != want {
				t.Fatalf("%s is logged in as %q, want %q", devices[i].Agent, got, want)
			}
		}
		if n := evicted.Load(); n != 2 {
			t.Fatalf("%d EventEvicted, want 2", n)
		}
		devices[2].Post(a.URL + "/login?name=alice") // the tablet again: renews its own session
		if got := agents(sessions(devices[3], b.URL)); got != "tablet tv*" {
			t.Fatalf("after the tablet logged in again, alice's sessions are %q, want the same two", got)
		}
	})
}

// ConcurrentLoginsLeaveExactlyTheCap: 20 devices logging in at once with
// WithMaxSessions(3) leave exactly 3 sessions, and exactly 3 devices logged
// in.
func ConcurrentLoginsLeaveExactlyTheCap(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		a, b := accountsApps(t, st, time.Hour, scsession.WithMaxSessions(3))
		devices := make([]*Client, 20)
		var wg sync.WaitGroup
		for i := range devices {
			devices[i] = NewDevice(t, fmt.Sprintf("device %02d", i))
			wg.Go(func() { devices[i].Post([]string{a.URL, b.URL}[i%2] + "/login?name=carol") })
		}
		wg.Wait()
		admin := a.M
		infos, err := admin.Sessions(context.Background(), "carol")
		if err != nil || len(infos) != 3 {
			t.Fatalf("after 20 concurrent logins with a cap of 3: %d sessions (%v), want 3", len(infos), err)
		}
		in := 0
		for _, d := range devices {
			if d.Get(b.URL+"/whoami").Body == "carol" {
				in++
			}
		}
		if in != 3 {
			t.Fatalf("%d devices are logged in, want 3", in)
		}
	})
}
