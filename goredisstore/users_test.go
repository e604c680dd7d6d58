package goredisstore_test

import (
	"testing"

	"github.com/scsession/scsession/internal/sessiontest"
)

// The sessions of a user (internal/sessiontest), on two instances sharing
// one Redis, and sharing one cluster.

func TestSessionsOfAUserCanBeListedAndRevoked(t *testing.T) {
	sessiontest.SessionsOfAUserCanBeListedAndRevoked(t, twoApps(t))
}

func TestUserIndexFollowsRenewalsAndExpiry(t *testing.T) {
	sessiontest.UserIndexFollowsRenewalsAndExpiry(t, twoApps(t))
}

func TestRevokedSessionStaysRevokedUnderARequestInFlight(t *testing.T) {
	sessiontest.RevokedSessionStaysRevokedUnderARequestInFlight(t, twoApps(t))
}

func TestRevokeUserRacingRenewalsLeavesNoSession(t *testing.T) {
	sessiontest.RevokeUserRacingRenewalsLeavesNoSession(t, twoApps(t))
}
