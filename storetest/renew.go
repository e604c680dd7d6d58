package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
)

// renewRule is scsession.RenewStore's contract, which a login's RenewToken
// relies on to retire the old token in the same step as it saves the new one.
const renewRule = "scsession.RenewStore: CompareAndRenew stores b under token until expiry and deletes oldToken, in one atomic step, " +
	"if the store holds old for oldToken and nothing for token; otherwise it changes nothing and returns what the store holds for oldToken, nil for nothing"

// renewer is a RenewStore under test.
type renewer struct {
	methods
	rs scsession.RenewStore
}

func (s renewer) renew(t *testing.T, oldToken string, old []byte, token string, b []byte, expiry time.Time) ([]byte, bool) {
	t.Helper()
	cur, ok, err := s.rs.CompareAndRenew(s.ctx, oldToken, slices.Clone(old), token, slices.Clone(b), expiry)
	if err != nil {
		t.Fatalf("CompareAndRenew failed: %v", err)
	}
	return cur, ok
}

func testRenew(t *testing.T, open func(*testing.T) scs.Store) {
	if st := open(t); !isRenew(st) {
		t.Skipf("%T is not a scsession.RenewStore (it has no CompareAndRenew method): nothing to check; the Manager renews with two compare-and-swaps", st)
	}
	fresh := func(t *testing.T) renewer {
		st := open(t)
		return renewer{methods: methods{st: st, ctx: t.Context()}, rs: st.(scsession.RenewStore)}
	}
	v1, v2 := []byte("before the login"), []byte("after the login")

	t.Run("MatchingOldRenews", func(t *testing.T) {
		s := fresh(t)
		oldToken, token := key(), key()
		s.mustCommit(t, oldToken, v1, later())
		expiry := soon()
		cur, ok := s.renew(t, oldToken, v1, token, v2, expiry)
		if !ok {
			t.Fatalf("CompareAndRenew from a token that holds what it was given returned renewed=false, current %s; want true (%s)", show(cur), renewRule)
		}
		s.wantData(t, token, v2, "a renewal, under the new token", renewRule)
		s.wantMissing(t, oldToken, "a renewal, under the old token", renewRule)
		sleepPast(expiry)
		s.gone(t, token, expiry, "a renewal with an expiry a second away", renewRule)
	})

	t.Run("MismatchChangesNothing", func(t *testing.T) {
		s := fresh(t)
		oldToken, token := key(), key()
		s.mustCommit(t, oldToken, v2, later())
		cur, ok := s.renew(t, oldToken, v1, token, v2, later())
		if ok || !same(cur, v2) {
			t.Errorf("CompareAndRenew from a token that holds something newer returned renewed=%v, current %s; want false and %s (%s)", ok, show(cur), show(v2), renewRule)
		}
		s.wantData(t, oldToken, v2, "a refused renewal, under the old token", renewRule)
		s.wantMissing(t, token, "a refused renewal, under the new token", renewRule)
	})

	t.Run("MissingOldChangesNothing", func(t *testing.T) {
		s := fresh(t)
		oldToken, token := key(), key()
		cur, ok := s.renew(t, oldToken, v1, token, v2, later())
		if ok || cur != nil {
			t.Errorf("CompareAndRenew from a token that holds nothing (a session ended meanwhile) returned renewed=%v, current %s; want false and nil (%s)", ok, show(cur), renewRule)
		}
		s.wantMissing(t, token, "a refused renewal, under the new token", renewRule)
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := fresh(t)
		oldToken := key()
		s.mustCommit(t, oldToken, v1, later())
		tokens := make([]string, raceSwappers)
		won := make([]bool, raceSwappers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range raceSwappers {
			tokens[i] = key()
			wg.Go(func() {
				<-start
				_, won[i], _ = s.rs.CompareAndRenew(s.ctx, oldToken, v1, tokens[i], v2, later())
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, ok := range won {
			if ok {
				winners++
				continue
			}
			s.wantMissing(t, tokens[i], "a renewal that lost the race, under its new token", renewRule)
		}
		if winners != 1 {
			t.Fatalf("%d goroutines renewed one session at once and %d were told they won; want exactly 1 (%s)", raceSwappers, winners, renewRule)
		}
	})
}

func isRenew(st scs.Store) bool {
	_, ok := st.(scsession.RenewStore)
	return ok
}
