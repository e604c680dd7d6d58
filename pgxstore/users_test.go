package pgxstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/pgxstore"
)

// The sessions of a user (internal/sessiontest, which the root module runs on
// memstore), on two instances sharing one database.

func TestSessionsOfAUserCanBeListedAndRevoked(t *testing.T) {
	sessiontest.SessionsOfAUserCanBeListedAndRevoked(t, twoApps(startPostgres(t)))
}

func TestUserIndexFollowsRenewalsAndExpiry(t *testing.T) {
	sessiontest.UserIndexFollowsRenewalsAndExpiry(t, twoApps(startPostgres(t)))
}

func TestRevokedSessionStaysRevokedUnderARequestInFlight(t *testing.T) {
	sessiontest.RevokedSessionStaysRevokedUnderARequestInFlight(t, twoApps(startPostgres(t)))
}

func TestMaxSessionsEndsTheLeastRecentlySeen(t *testing.T) {
	sessiontest.MaxSessionsEndsTheLeastRecentlySeen(t, twoApps(startPostgres(t)))
}

func TestConcurrentLoginsLeaveExactlyTheCap(t *testing.T) {
	sessiontest.ConcurrentLoginsLeaveExactlyTheCap(t, twoApps(startPostgres(t)))
}

func TestRevokeUserRacingRenewalsLeavesNoSession(t *testing.T) {
	sessiontest.RevokeUserRacingRenewalsLeavesNoSession(t, twoApps(startPostgres(t)))
}

// With IdleTimeout a session ends long before the absolute deadline its
// index entry has: a listing drops an entry whose session is gone once it is
// older than a save in flight can be, and keeps a young one.
func TestIndexEntriesOfEndedSessionsGoBeforeTheirDeadline(t *testing.T) {
	pg := startPostgres(t)
	pool := newPool(t, pg, newSchema(t, pg), nil)
	st := newStore(t, pool, pgxstore.Config{})
	ctx := t.Context()
	deadline := time.Now().Add(24 * time.Hour)
	st.AddUserSession(ctx, "ann", "idled-out", deadline) // its session expired at its idle timeout
	st.AddUserSession(ctx, "ann", "in-flight", deadline) // its save is on its way
	if _, err := pool.Exec(ctx, `UPDATE scsession_users SET added = now() - interval '2 minutes' WHERE token = 'idled-out'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserSessions(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, _ := pool.Query(ctx, `SELECT token FROM scsession_users WHERE user_id = 'ann' ORDER BY token`)
	for rows.Next() {
		var token string
		rows.Scan(&token)
		left = append(left, token)
	}
	if err := rows.Err(); err != nil || fmt.Sprint(left) != "[in-flight]" {
		t.Fatalf("after a listing the index holds %v (%v); want only the entry that may be a save in flight", left, err)
	}
}

// Listing a user's sessions is one query, which reads the index and the
// sessions by their primary keys: it touches that user's rows only, however
// many sessions others have.
func TestListingSessionsIsOneQueryOnTheUsersRows(t *testing.T) {
	pg := startPostgres(t)
	var queries queryCounter
	pool := newPool(t, pg, newSchema(t, pg), queries.install)
	app := sessiontest.NewAccountsApp(t, newStore(t, pool, pgxstore.Config{}), time.Hour)
	for i := range 3 {
		sessiontest.NewDevice(t, fmt.Sprint("device ", i)).Post(app.URL + "/login?name=erin")
	}
	// Other users' sessions, which listing erin's must not read.
	for _, sql := range []string{
		`INSERT INTO sessions SELECT 'other' || i, 'data', now() + interval '1 hour' FROM generate_series(1, 20000) i`,
		`INSERT INTO scsession_users SELECT 'user' || i, 'other' || i, now() + interval '1 hour', now() FROM generate_series(1, 20000) i`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(t.Context(), sql); err != nil {
			t.Fatal(err)
		}
	}
	queries.take()
	infos, err := app.M.Sessions(t.Context(), "erin")
	if err != nil || len(infos) != 3 {
		t.Fatalf("erin's sessions: %+v (%v)", infos, err)
	}
	if got := queries.take(); len(got) != 1 || got[0] != "list" {
		t.Fatalf("listing took %q, want one query", got)
	}
	var plan []string
	rows, _ := pool.Query(t.Context(), "EXPLAIN "+pgxstore.ListQuery, "erin")
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); strings.Contains(p, "Seq Scan") {
		t.Errorf("with 20,000 other sessions, the listing's plan scans a table:\n%s", p)
	}
}
