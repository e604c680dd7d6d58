package scsession_test

import (
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/scsession/scsession/internal/sessiontest"
)

// What a Manager guarantees on a store that compares and swaps
// (internal/sessiontest), on scs's memstore: one app, whose Manager makes the
// saves atomic and keeps the user index in memory. redisstore runs the same
// tests on Redis.
var memstores = sessiontest.Stores{
	"memstore": func(*testing.T) []scs.Store { return []scs.Store{memstore.NewWithCleanupInterval(0)} },
}

func TestConcurrentUpdatesAreAllKept(t *testing.T) {
	sessiontest.ConcurrentUpdatesAreAllKept(t, memstores)
}

func TestConcurrentFlashesAreAllKeptAndShownOnce(t *testing.T) {
	sessiontest.ConcurrentFlashesAreAllKeptAndShownOnce(t, memstores)
}

func TestLogoutRacingASlowRequestNeverResurrectsTheSession(t *testing.T) {
	sessiontest.LogoutRacingASlowRequestNeverResurrectsTheSession(t, memstores)
}

func TestSessionsOfAUserCanBeListedAndRevoked(t *testing.T) {
	sessiontest.SessionsOfAUserCanBeListedAndRevoked(t, memstores)
}

func TestUserIndexFollowsRenewalsAndExpiry(t *testing.T) {
	sessiontest.UserIndexFollowsRenewalsAndExpiry(t, memstores)
}

func TestMaxSessionsEndsTheLeastRecentlySeen(t *testing.T) {
	sessiontest.MaxSessionsEndsTheLeastRecentlySeen(t, memstores)
}

func TestConcurrentLoginsLeaveExactlyTheCap(t *testing.T) {
	sessiontest.ConcurrentLoginsLeaveExactlyTheCap(t, memstores)
}

func TestRevokedSessionStaysRevokedUnderARequestInFlight(t *testing.T) {
	sessiontest.RevokedSessionStaysRevokedUnderARequestInFlight(t, memstores)
}

func TestRenewTokenDoesNotBringBackARevokedSession(t *testing.T) {
	sessiontest.RenewTokenDoesNotBringBackARevokedSession(t, memstores)
}

func TestRenewTokenCarriesOverAConcurrentChange(t *testing.T) {
	sessiontest.RenewTokenCarriesOverAConcurrentChange(t, memstores)
}

func TestChangePasswordPageKeepsTheCurrentSession(t *testing.T) {
	sessiontest.ChangePasswordPageKeepsTheCurrentSession(t, memstores)
}

func TestRevokeUserRacingRenewalsLeavesNoSession(t *testing.T) {
	sessiontest.RevokeUserRacingRenewalsLeavesNoSession(t, memstores)
}
