package redisstore_test

import (
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/redisstore"
)

// What a Manager guarantees on a store that compares and swaps
// (internal/sessiontest, which the root module runs on memstore), on Redis:
// through one app, and through two instances sharing one Redis, as two
// processes behind a load balancer would.
var (
	oneApp   = sessiontest.Stores{"redis": oneRedis}
	twoApps  = sessiontest.Stores{"redis, two instances": sharedRedis}
	bothWays = sessiontest.Stores{"redis": oneRedis, "redis, two instances": sharedRedis}
)

func oneRedis(t *testing.T) []scs.Store {
	return []scs.Store{redisstore.New(startRedis(t).Pool())}
}

func sharedRedis(t *testing.T) []scs.Store {
	srv := startRedis(t)
	return []scs.Store{redisstore.New(srv.Pool()), redisstore.New(srv.Pool())}
}

func TestConcurrentUpdatesAreAllKept(t *testing.T) {
	sessiontest.ConcurrentUpdatesAreAllKept(t, bothWays)
}

func TestConcurrentFlashesAreAllKeptAndShownOnce(t *testing.T) {
	sessiontest.ConcurrentFlashesAreAllKeptAndShownOnce(t, bothWays)
}

func TestLogoutRacingASlowRequestNeverResurrectsTheSession(t *testing.T) {
	sessiontest.LogoutRacingASlowRequestNeverResurrectsTheSession(t, bothWays)
}

func TestRenewTokenDoesNotBringBackARevokedSession(t *testing.T) {
	sessiontest.RenewTokenDoesNotBringBackARevokedSession(t, oneApp)
}

func TestRenewTokenCarriesOverAConcurrentChange(t *testing.T) {
	sessiontest.RenewTokenCarriesOverAConcurrentChange(t, oneApp)
}

func TestChangePasswordPageKeepsTheCurrentSession(t *testing.T) {
	sessiontest.ChangePasswordPageKeepsTheCurrentSession(t, oneApp)
}
