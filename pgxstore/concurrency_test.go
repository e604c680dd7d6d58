package pgxstore_test

import (
	"testing"

	"github.com/scsession/scsession/internal/sessiontest"
)

// What a Manager guarantees on a store that compares and swaps
// (internal/sessiontest, which the root module runs on memstore and the
// Redis stores on their servers), on PostgreSQL: through one app, and
// through two instances sharing the tables. Each test starts one server,
// shared by its subtests, each in a schema of its own.

func TestConcurrentUpdatesAreAllKept(t *testing.T) {
	sessiontest.ConcurrentUpdatesAreAllKept(t, bothWays(startPostgres(t)))
}

func TestConcurrentFlashesAreAllKeptAndShownOnce(t *testing.T) {
	sessiontest.ConcurrentFlashesAreAllKeptAndShownOnce(t, bothWays(startPostgres(t)))
}

func TestLogoutRacingASlowRequestNeverResurrectsTheSession(t *testing.T) {
	sessiontest.LogoutRacingASlowRequestNeverResurrectsTheSession(t, bothWays(startPostgres(t)))
}

func TestRenewTokenDoesNotBringBackARevokedSession(t *testing.T) {
	sessiontest.RenewTokenDoesNotBringBackARevokedSession(t, oneApp(startPostgres(t)))
}

func TestRenewTokenCarriesOverAConcurrentChange(t *testing.T) {
	sessiontest.RenewTokenCarriesOverAConcurrentChange(t, oneApp(startPostgres(t)))
}

func TestChangePasswordPageKeepsTheCurrentSession(t *testing.T) {
	sessiontest.ChangePasswordPageKeepsTheCurrentSession(t, oneApp(startPostgres(t)))
}
