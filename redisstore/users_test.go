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

func TestMaxSessionsEndsTheLeastRecentlySeen(t *testing.T) {
	sessiontest.MaxSessionsEndsTheLeastRecentlySeen(t, twoApps)
}

func TestConcurrentLoginsLeaveExactlyTheCap(t *testing.T) {
	sessiontest.ConcurrentLoginsLeaveExactlyTheCap(t, twoApps)
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

// With IdleTimeout a session ends long before the absolute deadline its
// index entry is scored by: a listing drops an entry whose session is gone
// once it is older than a save in flight can be, and keeps a young one.
func TestIndexEntriesOfEndedSessionsGoBeforeTheirDeadline(t *testing.T) {
	srv := startRedis(t)
	st := redisstore.New(srv.Pool())
	ctx := t.Context()
	deadline := time.Now().Add(24 * time.Hour)
	st.AddUserSession(ctx, "ann", "idled-out", deadline) // its session expired at its idle timeout
	st.AddUserSession(ctx, "ann", "in-flight", deadline) // its save is on its way
	srv.Do("HSET", "scs:user-added:ann", "idled-out", time.Now().Add(-2*time.Minute).UnixMilli())
	if _, err := st.UserSessions(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	members, err := redis.Strings(srv.Do("ZRANGE", "scs:user:ann", 0, -1), nil)
	if err != nil || fmt.Sprint(members) != "[in-flight]" {
		t.Fatalf("after a listing the index holds %v (%v); want only the entry that may be a save in flight", members, err)
	}
	if n, _ := redis.Int(srv.Do("HLEN", "scs:user-added:ann"), nil); n != 1 {
		t.Fatalf("the hash of when entries were added holds %d fields; want 1", n)
	}
}
