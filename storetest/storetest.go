// Package storetest checks that a session store keeps the contracts
// scsession relies on. A store's author runs it from a test of their own,
// and supplies only a way to open the store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) scs.Store { return mystore.New(...) })
//	}
//
// Run checks scs.Store's contract, and scs.CtxStore's if the store has the
// Ctx methods; scsession.SwapStore's, scsession.RenewStore's and
// scsession.UserIndexStore's if it
// implements them, including compare-and-swap under contention; and then an
// application on the store through a scsession.Manager, as its users see it:
// a login, concurrent requests that keep every change, a logout that a slow
// request cannot undo, and the revocation of a user's sessions. Checks that
// do not apply to the store are skipped, and the skip says why; a store that
// saves last-write-wins sees the concurrency checks skipped with what to
// implement to pass them.
//
// Each failure says what the store did and what the contract asks. Run takes
// a few seconds, most of it waiting for sessions to expire: the store must
// expire them within a second of their expiry.
package storetest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Run checks the store that open returns. open must return a fresh, empty
// store each time; Run calls it for every subtest that needs a store, with
// that subtest's t, so open can register t.Cleanup to close the store. Keys
// and user names are random, so data that other tests left on a shared
// server (one Redis, one database) does no harm.
//
// Its subtests are Store, CtxStore, SwapStore, RenewStore, UserIndexStore and Manager,
// each with a subtest per behaviour, so that, say,
// go test -run 'Conformance/SwapStore' checks one interface.
func Run(t *testing.T, open func(t *testing.T) scs.Store) {
	open = checked(open)
	t.Run("Store", func(t *testing.T) { testStore(t, open, false) })
	t.Run("CtxStore", func(t *testing.T) { testStore(t, open, true) })
	t.Run("SwapStore", func(t *testing.T) { testSwap(t, open) })
	t.Run("RenewStore", func(t *testing.T) { testRenew(t, open) })
	t.Run("UserIndexStore", func(t *testing.T) { testIndex(t, open) })
	t.Run("Manager", func(t *testing.T) { testManager(t, open) })
}

// checked makes open fail the test rather than return nil.
func checked(open func(t *testing.T) scs.Store) func(t *testing.T) scs.Store {
	return func(t *testing.T) scs.Store {
		t.Helper()
		st := open(t)
		if st == nil {
			t.Fatal("storetest: open returned a nil store; it must return a fresh, empty store each time")
		}
		return st
	}
}

// lifetime is how long the sessions that Run waits out live; lateness is how
// long after its expiry a store may still return one (clock skew between the
// test and a server, a coarse clock).
const (
	lifetime = time.Second
	lateness = time.Second
)

// soon is an expiry that Run waits out; later one it does not.
func soon() time.Time  { return time.Now().Add(lifetime) }
func later() time.Time { return time.Now().Add(time.Hour) }

// sleepPast waits until expiry has passed.
func sleepPast(expiry time.Time) { time.Sleep(time.Until(expiry) + 20*time.Millisecond) }

// eventually calls done until it reports true, and gives up lateness after
// expiry; it reports whether done did. Call it once expiry has passed.
func eventually(expiry time.Time, done func() bool) bool {
	for {
		if done() {
			return true
		}
		if time.Since(expiry) > lateness {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// key returns a random store key, such as a session token.
func key() string { return rand.Text() }

// show quotes b for a failure message: nil, or its bytes as a Go string,
// shortened when long.
func show(b []byte) string {
	switch {
	case b == nil:
		return "nil"
	case len(b) > 48:
		return fmt.Sprintf("%q... (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// same reports whether a and b are the same bytes, nil being unlike any
// non-nil slice, empty or not: nil means "nothing" to SwapStore.
func same(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// pattern returns n bytes that run through every byte value.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/256)
	}
	return b
}
