package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/redisstore"
)

// The sessions of a user (internal/sessiontest, which the root module runs on
// memstore), on two instances sharing one Redis.

func TestSessionsOfAUserCanBeListedAndRevoked(t *testing.T) {
	sessiontest.SessionsOfAUserCanBeListedAndRevoked(t, twoApps)
}

func TestUserIndexFollowsRenewalsAndExpiry(t *testing.T) {
	sessiontest.UserIndexFollowsRenewalsAndExpiry(t, twoApps)
}

func TestRevokedSessionStaysRevokedUnderARequestInFlight(t *testing.T) {
	sessiontest.RevokedSessionStaysRevokedUnderARequestInFlight(t, twoApps)
}

func TestListingSessionsIsOneRoundTripWithoutScanning(t *testing.T) {
	srv := startRedis(t)
	var trips tripCounter
	pool := countingPool(t, srv.Addr, &trips)
	app := sessiontest.NewAccountsApp(t, redisstore.New(pool), time.Hour)
	for i := range 3 {
		sessiontest.NewDevice(t, fmt.Sprint("device ", i)).Post(app.URL + "/login?name=erin")
	}
	for i := range 50 { // other users' sessions, which listing erin's must not touch
		sessiontest.NewDevice(t, "other").Post(app.URL + fmt.Sprintf("/login?name=user%d", i))
	}
	app.M.Sessions(t.Context(), "erin") // Redis learns the script (EVALSHA fails, EVAL follows) once
	trips.take()
	infos, err := app.M.Sessions(t.Context(), "erin")
	if err != nil || len(infos) != 3 {
		t.Fatalf("erin's sessions: %+v (%v)", infos, err)
	}
	if got := trips.take(); len(got) != 1 || got[0] != "EVALSHA" {
		t.Fatalf("listing took %q, want one script call", got)
	}
	keys, _ := redis.Strings(srv.Do("KEYS", "scs:user:*"), nil)
	if len(keys) != 51 {
		t.Fatalf("%d index keys, want one per user (51)", len(keys))
	}
}

func TestRevokeUserRacingRenewalsLeavesNoSession(t *testing.T) {
	sessiontest.RevokeUserRacingRenewalsLeavesNoSession(t, twoApps)
}
