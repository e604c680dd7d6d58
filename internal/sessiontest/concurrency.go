package sessiontest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// parallel sends n requests at once from c, the i-th to path(i) on one of
// the apps in turn, and returns their bodies.
func parallel(c *Client, apps []*raceApp, n int, method string, path func(i int) string) []string {
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := c.Do(method, apps[i%len(apps)].url+path(i))
			if r.Status != http.StatusOK {
				c.T().Errorf("%s %s: %d %s", method, path(i), r.Status, r.Body)
			}
			bodies[i] = r.Body
		})
	}
	wg.Wait()
	return bodies
}

// ConcurrentUpdatesAreAllKept: 40 concurrent additions to a cart keep 40.
func ConcurrentUpdatesAreAllKept(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		apps := raceApps(t, st)
		c := NewClient(t)
		c.Post(apps[0].url + "/login")
		parallel(c, apps, 40, http.MethodPost, func(i int) string { return fmt.Sprintf("/add?item=%d", i) })
		if got := c.Get(apps[0].url + "/get").Body; got != "1  40" {
			t.Fatalf("after 40 concurrent additions the session reads %q, want 40 items", got)
		}
	})
}

// ConcurrentFlashesAreAllKeptAndShownOnce: 20 flashes added at once are all
// shown, each on one page only.
func ConcurrentFlashesAreAllKeptAndShownOnce(t *testing.T, stores Stores) {
	each(t, stores, func(t *testing.T, st []scs.Store) {
		apps := raceApps(t, st)
		c := NewClient(t)
		c.Post(apps[0].url + "/login")
		parallel(c, apps, 20, http.MethodPost, func(i int) string { return fmt.Sprintf("/flash?msg=m%d", i) })
		shown := strings.Join(parallel(c, apps, 20, http.MethodGet, func(int) string { return "/flashes" }), "")
		for i := range 20 {
			if n := strings.Count(shown, fmt.Sprintf("m%d\n", i)); n != 1 {
				t.Errorf("message m%d shown %d times, want once", i, n)
			}
		}
	})
}

// LogoutRacingASlowRequestNeverResurrectsTheSession: up to 1,000 logouts,
// each while a slow request of the session is in flight, all stay logged out.
func LogoutRacingASlowRequestNeverResurrectsTheSession(t *testing.T, stores Stores) {
	const tries = 1000
	each(t, stores, func(t *testing.T, st []scs.Store) {
		apps := raceApps(t, st)
		slow, fast := apps[0], apps[len(apps)-1]
		deadline := time.Now().Add(20 * time.Second)
		done := 0
		for ; done < tries && time.Now().Before(deadline); done++ {
			c := NewClient(t)
			c.Post(fast.url + "/login")
			token := c.Cookie(fast.url)
			whileReading(&slow.gates, c, slow.url, func() { c.Post(fast.url + "/logout") })

			if _, found, err := slow.store.Find(token); found || err != nil {
				t.Fatalf("try %d: the logged-out session is back in the store (err %v)", done, err)
			}
			attacker := NewClient(t)
			attacker.SetCookie(fast.url, token)
			if got := attacker.Get(fast.url + "/get").Body; got != "0  0" {
				t.Fatalf("try %d: the old cookie reads %q after logout", done, got)
			}
		}
		t.Logf("%d logouts raced a slow request; none was undone", done)
		if done < tries/10 {
			t.Fatalf("only %d tries in the time allowed", done)
		}
	})
}
