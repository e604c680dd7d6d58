package pgxstore_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scsession/scsession/pgxstore"
)

// rows counts the rows of a table.
func rows(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// expiredAndLive stores a session and an index entry that expire at once,
// and one of each that lasts an hour.
func expiredAndLive(t *testing.T, st *pgxstore.Store, expiry time.Time) {
	t.Helper()
	ctx, later := t.Context(), time.Now().Add(time.Hour)
	for _, err := range []error{
		st.Commit("expiring", []byte("expiring"), expiry),
		st.Commit("live", []byte("live"), later),
		st.AddUserSession(ctx, "ann", "expiring", expiry),
		st.AddUserSession(ctx, "ann", "live", later),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestExpiredRowsAreNeverReturnedEvenBeforeTheCleanup(t *testing.T) {
	pg := startPostgres(t)
	pool := newPool(t, pg, newSchema(t, pg), nil)
	st := newStore(t, pool, pgxstore.Config{CleanupInterval: -1})
	expiredAndLive(t, st, time.Now().Add(-time.Second))
	if _, ok, err := st.Find("expiring"); ok || err != nil {
		t.Errorf("Find of an expired session: found %v, %v; want nothing", ok, err)
	}
	if all, err := st.All(); err != nil || len(all) != 1 || all["live"] == nil {
		t.Errorf("All: %q %v, want the live session only", all, err)
	}
	if cur, ok, err := st.CompareAndSwap(t.Context(), "expiring", []byte("expiring"), []byte("back"), time.Now().Add(time.Hour)); ok || cur != nil || err != nil {
		t.Errorf("CompareAndSwap from an expired session's data: current %q, swapped %v, %v; want refused, with nothing", cur, ok, err)
	}
	if list, err := st.UserSessions(t.Context(), "ann"); err != nil || len(list) != 1 || list["live"] == nil {
		t.Errorf("UserSessions: %q %v, want the live session only", list, err)
	}
	if n := rows(t, pool, "sessions"); n != 2 {
		t.Errorf("without a cleanup, sessions has %d rows, want both, the expired one unread", n)
	}
}

func TestCleanupDeletesExpiredRowsUntilStopped(t *testing.T) {
	pg := startPostgres(t)
	pool := newPool(t, pg, newSchema(t, pg), nil)
	st := newStore(t, pool, pgxstore.Config{CleanupInterval: 100 * time.Millisecond})
	expiry := time.Now().Add(300 * time.Millisecond)
	expiredAndLive(t, st, expiry)
	for deadline := time.Now().Add(5 * time.Second); rows(t, pool, "sessions") != 1 || rows(t, pool, "scsession_users") != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("5s after the expiry, with a cleanup every 100ms, sessions has %d rows and scsession_users %d; want 1 each, the live ones",
				rows(t, pool, "sessions"), rows(t, pool, "scsession_users"))
		}
	}
	t.Logf("expired rows of both tables gone %v after their expiry", time.Since(expiry).Round(10*time.Millisecond))

	st.StopCleanup()
	st.StopCleanup() // a second call is harmless
	expiredAndLive(t, st, time.Now())
	time.Sleep(400 * time.Millisecond)
	if n, m := rows(t, pool, "sessions"), rows(t, pool, "scsession_users"); n != 2 || m != 2 {
		t.Errorf("after StopCleanup, expired rows were deleted: sessions has %d rows and scsession_users %d, want 2 each", n, m)
	}
}

// A backlog of expired rows bigger than one batch goes in a few statements.
func TestCleanupDeletesABacklogInBatches(t *testing.T) {
	pg := startPostgres(t)
	pool := newPool(t, pg, newSchema(t, pg), nil)
	st := newStore(t, pool, pgxstore.Config{CleanupInterval: -1})
	if _, err := pool.Exec(t.Context(), `INSERT INTO sessions SELECT 'old' || i, 'data', now() - interval '1 hour' FROM generate_series(1, 2500) i`); err != nil {
		t.Fatal(err)
	}
	st.StopCleanup()
	newStore(t, pool, pgxstore.Config{CleanupInterval: 50 * time.Millisecond})
	for deadline := time.Now().Add(5 * time.Second); rows(t, pool, "sessions") != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("5s on, %d of 2,500 expired sessions are left", rows(t, pool, "sessions"))
		}
	}
}
