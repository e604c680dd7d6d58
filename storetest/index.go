package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
)

// indexRule is scsession.UserIndexStore's contract, which WithUserID's
// listings and revocations rely on.
const indexRule = "scsession.UserIndexStore: UserSessions returns, by key, the stored data of the sessions added for the user and not removed, " +
	"leaves out and forgets the entries past their expiry, and keeps (unlisted) an entry whose session the store does not hold"

// indexer is a UserIndexStore under test, with its plain methods to store
// the sessions it lists.
type indexer struct {
	methods
	ix scsession.UserIndexStore
}

func (s indexer) add(t *testing.T, user, key string, expiry time.Time) {
	t.Helper()
	if err := s.ix.AddUserSession(s.ctx, user, key, expiry); err != nil {
		t.Fatalf("AddUserSession(user, key, %s) failed: %v", expiry.Format(time.StampMilli), err)
	}
}

func (s indexer) remove(t *testing.T, user, key string) {
	t.Helper()
	if err := s.ix.RemoveUserSession(s.ctx, user, key); err != nil {
		t.Fatalf("RemoveUserSession(user, key) failed: %v", err)
	}
}

func (s indexer) list(t *testing.T, user string) map[string][]byte {
	t.Helper()
	got, err := s.ix.UserSessions(s.ctx, user)
	if err != nil {
		t.Fatalf("UserSessions(user) failed: %v", err)
	}
	return got
}

// wantListed checks that UserSessions(user) returns want; after says what
// happened before, and why what it means when it does not, for the message.
func (s indexer) wantListed(t *testing.T, user string, want map[string][]byte, after string, why ...string) bool {
	t.Helper()
	got := s.list(t, user)
	if maps.EqualFunc(got, want, same) {
		return true
	}
	t.Errorf("UserSessions after %s returned %s; want %s%s (%s)", after, showListing(got), showListing(want), explain(why), indexRule)
	return false
}

func explain(why []string) string {
	if len(why) == 0 {
		return ""
	}
	return ": " + strings.Join(why, "; ")
}

// showListing shows a listing in key order, keys shortened.
func showListing(m map[string][]byte) string {
	if len(m) == 0 {
		return "no sessions"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		short := k
		if len(short) > 8 {
			short = short[:8] + "..."
		}
		parts = append(parts, fmt.Sprintf("%s: %s", short, show(m[k])))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func testIndex(t *testing.T, open func(*testing.T) scs.Store) {
	switch st := open(t); {
	case isMem(st):
		t.Skipf("%T is not a scsession.UserIndexStore, but need not be: the Manager keeps its user index in memory (checked under Manager/Revocation)", st)
	case !isIndex(st):
		t.Skipf("%T is not a scsession.UserIndexStore (no AddUserSession, RemoveUserSession, UserSessions): nothing to check; "+
			"a Manager can use WithUserID only with a store that is one", st)
	}
	fresh := func(t *testing.T) indexer {
		st := open(t)
		return indexer{methods: methods{st: st, ctx: t.Context()}, ix: st.(scsession.UserIndexStore)}
	}
	user := func() string { return "user-" + key() }

	t.Run("AddThenList", func(t *testing.T) {
		s := fresh(t)
		u, k := user(), key()
		s.mustCommit(t, k, []byte("data 1"), later())
		s.add(t, u, k, later())
		s.wantListed(t, u, map[string][]byte{k: []byte("data 1")}, "a Commit of the session, then AddUserSession(user, its key)")
		s.mustCommit(t, k, []byte("data 2"), later())
		s.wantListed(t, u, map[string][]byte{k: []byte("data 2")}, "a second Commit of the listed session", "a listing gives the data the store holds now")
		s.wantListed(t, user(), nil, "AddUserSession for another user")
	})

	t.Run("RemoveForgets", func(t *testing.T) {
		s := fresh(t)
		u, k, kept := user(), key(), key()
		s.mustCommit(t, k, []byte("removed"), later())
		s.mustCommit(t, kept, []byte("kept"), later())
		s.add(t, u, k, later())
		s.add(t, u, kept, later())
		s.remove(t, u, k)
		s.wantListed(t, u, map[string][]byte{kept: []byte("kept")}, "AddUserSession of two sessions, then RemoveUserSession of one")
		s.remove(t, u, k)
		s.remove(t, user(), key())
	})

	t.Run("UsersAreSeparate", func(t *testing.T) {
		s := fresh(t)
		u1, u2 := user(), user()
		k1, k2, k3 := key(), key(), key()
		for _, k := range []string{k1, k2, k3} {
			s.mustCommit(t, k, []byte(k), later())
		}
		s.add(t, u1, k1, later())
		s.add(t, u2, k2, later())
		s.add(t, u1, k3, later())
		s.wantListed(t, u1, map[string][]byte{k1: []byte(k1), k3: []byte(k3)}, "AddUserSession of two sessions for a user and one for another")
		s.wantListed(t, u2, map[string][]byte{k2: []byte(k2)}, "AddUserSession of one session for a user and two for another")
		s.remove(t, u2, k1)
		s.remove(t, u1, k2)
		s.wantListed(t, u1, map[string][]byte{k1: []byte(k1), k3: []byte(k3)}, "RemoveUserSession of this user's sessions under another user")
		s.wantListed(t, u2, map[string][]byte{k2: []byte(k2)}, "RemoveUserSession of this user's session under another user")
	})

	t.Run("Expiry", func(t *testing.T) {
		s := fresh(t)
		u, expiring, live, past := user(), key(), key(), key()
		for _, k := range []string{expiring, live, past} {
			s.mustCommit(t, k, []byte(k), later()) // the sessions outlive their entries
		}
		expiry := soon()
		s.add(t, u, expiring, expiry)
		s.add(t, u, live, later())
		s.add(t, u, past, time.Now().Add(-time.Second))
		both := map[string][]byte{expiring: []byte(expiring), live: []byte(live)}
		if !s.wantListed(t, u, both, "AddUserSession with expiries 1s away, an hour away and 1s ago", "an entry past its expiry is not listed") {
			return
		}
		sleepPast(expiry)
		want := map[string][]byte{live: []byte(live)}
		var got map[string][]byte
		if !eventually(expiry, func() bool { got = s.list(t, u); return maps.EqualFunc(got, want, same) }) {
			t.Errorf("UserSessions %v after the expiry of one of two entries returned %s; want %s (%s)", lateness, showListing(got), showListing(want), indexRule)
			return
		}
		s.wantListed(t, u, want, "a listing that left out an expired entry", "it must stay forgotten")
	})

	t.Run("ListingDuringSave", func(t *testing.T) {
		// The Manager indexes a session before it saves it, so that a
		// revocation never misses a session; a listing in between must keep
		// the entry.
		s := fresh(t)
		u, k := user(), key()
		s.add(t, u, k, later())
		s.wantListed(t, u, nil, "AddUserSession of a session the store does not hold yet")
		s.wantListed(t, u, nil, "a second listing before the session's Commit")
		s.mustCommit(t, k, []byte("saved"), later())
		if !s.wantListed(t, u, map[string][]byte{k: []byte("saved")}, "AddUserSession, a listing while the store did not hold the session, then its Commit",
			"the entry was dropped, which leaves a session that was being saved out of every later listing and revocation") {
			return
		}
		if err := s.delete(k); err != nil {
			t.Fatalf("Delete failed: %v", err)
		}
		s.wantListed(t, u, nil, "a Delete of the listed session")
		s.mustCommit(t, k, []byte("saved again"), later())
		s.wantListed(t, u, map[string][]byte{k: []byte("saved again")}, "a Delete of the listed session, a listing, then a Commit of it again",
			"an entry whose session the store does not hold must stay until it expires or is removed")
	})
}

func isIndex(st scs.Store) bool {
	_, ok := st.(scsession.UserIndexStore)
	return ok
}
