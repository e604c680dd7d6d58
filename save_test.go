package scsession

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

func TestUpdateThatChangesNothingCreatesNoSession(t *testing.T) {
	sm, st := newSM()
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Update(r.Context(), func(u *user) {})
	}))
	r := newClient(t).Get(url)
	if _, commits, _ := st.counts(); commits != 0 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("an Update that changes nothing on a new visitor: %d writes, Set-Cookie %q", commits, r.Header.Get("Set-Cookie"))
	}
}

// IdleTimeout may still be set on sm after New: a WithIdleRefresh at or
// above it must not let sessions in use expire.
func TestIdleRefreshStaysBelowAnIdleTimeoutSetAfterNew(t *testing.T) {
	sm, _ := memSM()
	m := New[user](sm, WithIdleRefresh(time.Second), WithLogger(discard))
	sm.IdleTimeout = 300 * time.Millisecond // configured after New, before serving, as New's doc allows
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	start := time.Now()
	for range 8 {
		time.Sleep(100 * time.Millisecond)
		if got := c.Get(url + "/get").Body; !strings.Contains(got, "name=ann") {
			t.Fatalf("a session read every 100ms expired after %v with IdleTimeout 300ms: %q", time.Since(start).Round(10*time.Millisecond), got)
		}
	}
}

// retriedSwaps is memstore behind SwapStore as a Redis client that retries
// a command whose answer was lost: every save is applied, then answered as
// the retry would answer it, with what the store now holds.
type retriedSwaps struct{ *memstore.MemStore }

func (r retriedSwaps) CompareAndSwap(_ context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	cur, ok, err := swapMem(r.MemStore, key, old, b, exp)
	if ok && b != nil {
		return b, false, err // applied, but the retry sees the store holding b
	}
	return cur, ok, err
}

// A save that the store applied but answered as a mismatch (a client's
// retry after a lost reply) is not applied again: the Update runs once.
func TestASaveRetriedByTheClientIsAppliedOnce(t *testing.T) {
	sm := scs.New()
	sm.Store = retriedSwaps{memstore.NewWithCleanupInterval(0)}
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	if got := c.Post(url + "/add?item=jam").Body; !strings.Contains(got, "cart=[tea jam]") {
		t.Fatalf("after two adds whose saves were retried: %q, want the cart [tea jam]", got)
	}
	if got := c.Get(url + "/get").Body; !strings.Contains(got, "cart=[tea jam]") {
		t.Fatalf("the next request reads %q, want the cart [tea jam]", got)
	}
}

// A renewal on a SwapStore without CompareAndRenew whose save under the new
// token was applied but answered as a mismatch is a renewal all the same,
// not a token taken: the login succeeds and the old token is retired.
func TestARenewalRetriedByTheClientSucceeds(t *testing.T) {
	sm := scs.New()
	sm.Store = retriedSwaps{memstore.NewWithCleanupInterval(0)}
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(url + "/add?item=tea")
	before := c.Cookie(url)
	if r := c.Post(url + "/login?id=7&name=ann"); r.Status != http.StatusOK || !strings.Contains(r.Body, "name=ann cart=[tea]") {
		t.Fatalf("login whose save was retried: %d %q", r.Status, r.Body)
	}
	if got := c.Replay(http.MethodGet, url+"/get", before).Body; strings.Contains(got, "tea") {
		t.Fatalf("the renewed-away token still reads %q", got)
	}
}

// Turning IdleTimeout on for a live app does not log out those reading
// actively: the store's expiry decides, not the time of the last save.
func TestTurningOnIdleTimeoutKeepsActiveReaders(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = ms
	m := New[user](sm, WithLogger(discard))
	before := serve(t, m, userApp(m))
	c := newClient(t)
	c.Post(before + "/login?name=ann")
	for range 10 { // reading, actively, for 100 ms
		c.Get(before + "/get")
		time.Sleep(10 * time.Millisecond)
	}

	sm2 := scs.New()
	sm2.Store, sm2.IdleTimeout = ms, 50*time.Millisecond
	m2 := New[user](sm2, WithLogger(discard))
	after := serve(t, m2, userApp(m2))
	if got := c.Get(after + "/get").Body; !strings.Contains(got, "name=ann") {
		t.Fatalf("the first request after IdleTimeout was turned on, 10 ms after the last one, reads %q", got)
	}
}
