package goredisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/scsession/scsession/goredisstore"
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

func TestMaxSessionsEndsTheLeastRecentlySeen(t *testing.T) {
	sessiontest.MaxSessionsEndsTheLeastRecentlySeen(t, twoApps(t))
}

func TestConcurrentLoginsLeaveExactlyTheCap(t *testing.T) {
	sessiontest.ConcurrentLoginsLeaveExactlyTheCap(t, twoApps(t))
}

func TestRevokeUserRacingRenewalsLeavesNoSession(t *testing.T) {
	sessiontest.RevokeUserRacingRenewalsLeavesNoSession(t, twoApps(t))
}

// With IdleTimeout a session ends long before the absolute deadline its
// index entry is scored by: a listing drops an entry whose session is gone
// once it is older than a save in flight can be, and keeps a young one, on
// one node and on a cluster.
func TestIndexEntriesOfEndedSessionsGoBeforeTheirDeadline(t *testing.T) {
	clients := map[string]func(t *testing.T) redis.UniversalClient{
		"node":    func(t *testing.T) redis.UniversalClient { return newClient(t, startRedis(t).Addr) },
		"cluster": func(t *testing.T) redis.UniversalClient { return newClusterClient(t, startCluster(t)) },
	}
	for name, open := range clients {
		t.Run(name, func(t *testing.T) {
			client := open(t)
			st := goredisstore.New(client)
			ctx := t.Context()
			deadline := time.Now().Add(24 * time.Hour)
			st.AddUserSession(ctx, "ann", "idled-out", deadline) // its session expired at its idle timeout
			st.AddUserSession(ctx, "ann", "in-flight", deadline) // its save is on its way
			client.HSet(ctx, "scs:user-added:{ann}", "idled-out", time.Now().Add(-2*time.Minute).UnixMilli())
			if _, err := st.UserSessions(ctx, "ann"); err != nil {
				t.Fatal(err)
			}
			members, err := client.ZRange(ctx, "scs:user:{ann}", 0, -1).Result()
			if err != nil || fmt.Sprint(members) != "[in-flight]" {
				t.Fatalf("after a listing the index holds %v (%v); want only the entry that may be a save in flight", members, err)
			}
			if n, _ := client.HLen(ctx, "scs:user-added:{ann}").Result(); n != 1 {
				t.Fatalf("the hash of when entries were added holds %d fields; want 1", n)
			}
		})
	}
}
