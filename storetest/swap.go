package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
)

// swapRule is scsession.SwapStore's contract, which the Manager's saves rely
// on to keep concurrent requests from losing each other's changes.
const swapRule = "scsession.SwapStore: CompareAndSwap stores b until expiry (a nil b deletes) if the store holds old for the token, " +
	"a nil old meaning nothing stored or an expired session, in one atomic step; " +
	"otherwise it changes nothing and returns what the store holds, nil for nothing"

// swapExpiryRule is the part of swapRule about expiry.
const swapExpiryRule = "scsession.SwapStore: CompareAndSwap stores b until the expiry it is given, which replaces the one stored before"

// swapper is a SwapStore under test, with its plain methods to look at what
// it holds.
type swapper struct {
	methods
	sw scsession.SwapStore
}

// cas calls CompareAndSwap with copies of old and b, and stops the test if
// it fails.
func (s swapper) cas(t *testing.T, call, token string, old, b []byte, expiry time.Time) ([]byte, bool) {
	t.Helper()
	cur, ok, err := s.sw.CompareAndSwap(s.ctx, token, slices.Clone(old), slices.Clone(b), expiry)
	if err != nil {
		t.Fatalf("%s failed: %v", call, err)
	}
	return cur, ok
}

// swaps checks that call swapped.
func swaps(t *testing.T, call string, cur []byte, ok bool) bool {
	t.Helper()
	if !ok {
		t.Errorf("%s returned swapped=false, current %s; want swapped=true (%s)", call, show(cur), swapRule)
	}
	return ok
}

// refuses checks that call did not swap and returned holds, what the store
// holds.
func refuses(t *testing.T, call string, cur []byte, ok bool, holds []byte) {
	t.Helper()
	switch {
	case ok:
		t.Errorf("%s returned swapped=true; want swapped=false and current %s (%s)", call, show(holds), swapRule)
	case !same(cur, holds):
		t.Errorf("%s returned swapped=false, current %s; want current %s, what the store holds (%s)", call, show(cur), show(holds), swapRule)
	}
}

func casCall(old, b []byte, on string) string {
	return fmt.Sprintf("CompareAndSwap(token, old %s, b %s) on a token that %s", show(old), show(b), on)
}

func testSwap(t *testing.T, open func(*testing.T) scs.Store) {
	switch st := open(t); {
	case isMem(st):
		t.Skipf("%T is not a scsession.SwapStore, but need not be: the Manager makes its saves atomic itself (checked under Manager)", st)
	case !isSwap(st):
		t.Skipf("%T is not a scsession.SwapStore (it has no CompareAndSwap method): nothing to check; the Manager saves it last-write-wins", st)
	}
	fresh := func(t *testing.T) swapper {
		st := open(t)
		return swapper{methods: methods{st: st, ctx: t.Context()}, sw: st.(scsession.SwapStore)}
	}
	v1, v2 := []byte("version 1"), []byte("version 2")

	t.Run("NilOldOnMissing", func(t *testing.T) {
		s := fresh(t)
		token := key()
		call := casCall(nil, v1, "holds nothing")
		cur, ok := s.cas(t, call, token, nil, v1, later())
		if swaps(t, call, cur, ok) {
			s.wantData(t, token, v1, call)
		}
	})

	t.Run("NilOldOnPresent", func(t *testing.T) {
		s := fresh(t)
		token := key()
		s.mustCommit(t, token, v1, later())
		call := casCall(nil, v2, "holds "+show(v1))
		cur, ok := s.cas(t, call, token, nil, v2, later())
		refuses(t, call, cur, ok, v1)
		s.wantData(t, token, v1, call, swapRule)
	})

	t.Run("MatchingOldReplaces", func(t *testing.T) {
		s := fresh(t)
		token := key()
		s.mustCommit(t, token, v1, later())
		prev := v1
		for _, next := range [][]byte{v2, []byte("version 3, longer"), {0}} {
			call := casCall(prev, next, "holds "+show(prev))
			cur, ok := s.cas(t, call, token, prev, next, later())
			if !swaps(t, call, cur, ok) || !s.wantData(t, token, next, call) {
				return
			}
			prev = next
		}
	})

	t.Run("MismatchChangesNothing", func(t *testing.T) {
		s := fresh(t)
		token := key()
		s.mustCommit(t, token, v1, later())
		for _, old := range [][]byte{[]byte("version 0"), []byte("version"), []byte("version 1 and more"), {0}} {
			for _, b := range [][]byte{v2, nil} {
				call := casCall(old, b, "holds "+show(v1))
				cur, ok := s.cas(t, call, token, old, b, later())
				refuses(t, call, cur, ok, v1)
				if !s.wantData(t, token, v1, call, swapRule) {
					return
				}
			}
		}
	})

	t.Run("NilBDeletes", func(t *testing.T) {
		s := fresh(t)
		token := key()
		s.mustCommit(t, token, v1, later())
		call := casCall(v1, nil, "holds "+show(v1))
		cur, ok := s.cas(t, call, token, v1, nil, time.Time{})
		if swaps(t, call, cur, ok) {
			s.wantMissing(t, token, call)
		}
	})

	t.Run("MissingReturnsNil", func(t *testing.T) {
		s := fresh(t)
		token := key()
		for _, b := range [][]byte{v2, nil} {
			call := casCall(v1, b, "holds nothing")
			cur, ok := s.cas(t, call, token, v1, b, later())
			refuses(t, call, cur, ok, nil)
			s.wantMissing(t, token, call, swapRule)
		}
	})

	t.Run("Expiry", func(t *testing.T) { testSwapExpiry(t, fresh(t)) })
	t.Run("Concurrent", func(t *testing.T) { testSwapRace(t, fresh(t)) })
}

// testSwapExpiry checks that an expired session counts as nothing, and that
// CompareAndSwap sets the expiry it is given.
func testSwapExpiry(t *testing.T, s swapper) {
	v1, v2 := []byte("version 1"), []byte("version 2")
	expiry := soon()
	insert, compare, created, shortened, extended := key(), key(), key(), key(), key()
	s.mustCommit(t, insert, v1, expiry)
	s.mustCommit(t, compare, v1, expiry)
	s.mustCommit(t, shortened, v1, later())
	s.mustCommit(t, extended, v1, expiry)

	call := casCall(nil, v1, "holds nothing, with an expiry 1s away")
	cur, ok := s.cas(t, call, created, nil, v1, expiry)
	swaps(t, call, cur, ok)
	call = casCall(v1, v2, "holds it with an expiry an hour away, with an expiry 1s away")
	cur, ok = s.cas(t, call, shortened, v1, v2, expiry)
	swaps(t, call, cur, ok)
	call = casCall(v1, v2, "holds it with an expiry 1s away, with an expiry an hour away")
	cur, ok = s.cas(t, call, extended, v1, v2, later())
	swaps(t, call, cur, ok)
	past := key()
	call = casCall(nil, v1, "holds nothing, with an expiry 1s ago")
	cur, ok = s.cas(t, call, past, nil, v1, time.Now().Add(-time.Second))
	swaps(t, call, cur, ok)
	s.wantMissing(t, past, call, swapExpiryRule)

	sleepPast(expiry)
	s.gone(t, created, expiry, casCall(nil, v1, "held nothing, with an expiry 1s away"), swapExpiryRule)
	s.gone(t, shortened, expiry, casCall(v1, v2, "held it until an hour later, with an expiry 1s away"), swapExpiryRule)
	s.wantData(t, extended, v2, casCall(v1, v2, "held it until 1s later, with an expiry an hour away")+", past the old expiry", swapExpiryRule)

	s.gone(t, insert, expiry, "a Commit with an expiry 1s away")
	call = casCall(nil, v2, "holds an expired session")
	cur, ok = s.cas(t, call, insert, nil, v2, later())
	if swaps(t, call, cur, ok) {
		s.wantData(t, insert, v2, call)
	}
	call = casCall(v1, v2, "holds an expired session "+show(v1))
	cur, ok = s.cas(t, call, compare, v1, v2, later())
	refuses(t, call, cur, ok, nil)
	s.wantMissing(t, compare, call, swapRule)
}

// The rounds and contenders of testSwapRace, and how long a round may take.
const (
	raceRounds   = 20
	raceSwappers = 16
	roundTimeout = 10 * time.Second
)

// testSwapRace releases raceSwappers CompareAndSwap calls at once on one
// key, each from the round's value to its own: exactly one must win, and the
// others must be told what it stored.
func testSwapRace(t *testing.T, s swapper) {
	ctx, cancel := context.WithTimeout(s.ctx, raceRounds*roundTimeout)
	defer cancel()
	token := key()
	var expect []byte // what the store holds at the round's start; nil: nothing
	type result struct {
		cur []byte
		ok  bool
		err error
	}
	for round := range raceRounds {
		start := make(chan struct{})
		results := make([]result, raceSwappers)
		var wg sync.WaitGroup
		for i := range raceSwappers {
			wg.Go(func() {
				mine := fmt.Appendf(nil, "round %d, swapper %d", round, i)
				<-start
				cur, ok, err := s.sw.CompareAndSwap(ctx, token, slices.Clone(expect), mine, later())
				results[i] = result{cur, ok, err}
			})
		}
		close(start)
		if !waitFor(&wg, roundTimeout) {
			t.Fatalf("round %d: %d concurrent CompareAndSwap calls on one token did not all return within %v", round, raceSwappers, roundTimeout)
		}
		var winners []int
		for i, r := range results {
			if r.err != nil {
				t.Fatalf("round %d: CompareAndSwap failed: %v", round, r.err)
			}
			if r.ok {
				winners = append(winners, i)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d concurrent CompareAndSwap calls from old %s, each to its own b, reported swapped=true %d times (swappers %v); "+
				"exactly one must win, atomically, and the others be refused (%s)",
				round, raceSwappers, show(expect), len(winners), winners, swapRule)
		}
		won := fmt.Appendf(nil, "round %d, swapper %d", round, winners[0])
		for i, r := range results {
			if i != winners[0] && (r.cur == nil || same(r.cur, expect)) {
				t.Fatalf("round %d: a refused CompareAndSwap from old %s returned current %s while the store held %s; "+
					"a refused swap must return what the store holds (%s)", round, show(expect), show(r.cur), show(won), swapRule)
			}
		}
		after := fmt.Sprintf("round %d of %d concurrent CompareAndSwap calls, won by the one storing %s", round, raceSwappers, show(won))
		if !s.wantData(t, token, won, after) {
			t.FailNow()
		}
		expect = won
	}
}

// waitFor waits for wg, for up to d, and reports whether it finished.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func isSwap(st scs.Store) bool {
	_, ok := st.(scsession.SwapStore)
	return ok
}
