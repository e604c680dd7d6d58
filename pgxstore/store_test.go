package pgxstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	scspgx "github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/pgxstore"
)

// What the Manager discovers by type assertion, checked at compile time.
var (
	_ scs.CtxStore             = (*pgxstore.Store)(nil)
	_ scs.IterableCtxStore     = (*pgxstore.Store)(nil)
	_ scsession.RenewStore     = (*pgxstore.Store)(nil)
	_ scsession.UserIndexStore = (*pgxstore.Store)(nil)
)

func TestCancelledRequestDoesNotWaitOnTheDatabase(t *testing.T) {
	store := freshStore(t, startPostgres(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := store.FindCtx(ctx, "token"); !errors.Is(err, context.Canceled) {
		t.Errorf("FindCtx with a cancelled context returned %v, want context.Canceled", err)
	}
	if _, _, err := store.CompareAndSwap(ctx, "token", nil, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("CompareAndSwap with a cancelled context returned %v, want context.Canceled", err)
	}
}

// Instances that start together each create the tables if they are
// missing: none fails, and each finds them.
func TestConcurrentNewCreatesTheTablesOnce(t *testing.T) {
	pg := startPostgres(t)
	schema := newSchema(t, pg)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		pool := newPool(t, pg, schema, nil)
		wg.Go(func() {
			st, err := pgxstore.New(t.Context(), pool)
			if err == nil {
				st.StopCleanup()
				err = st.Commit("token", []byte("data"), time.Now().Add(time.Hour))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("New number %d, at the same time as 7 others: %v", i, err)
		}
	}
	// Again, now that they exist: New only looks.
	freshAgain := newStore(t, newPool(t, pg, schema, nil), pgxstore.Config{})
	if b, ok, err := freshAgain.Find("token"); err != nil || !ok || string(b) != "data" {
		t.Errorf("a New on existing tables finds %q %v %v, want the session stored before", b, ok, err)
	}
}

// Switching from scs's pgxstore keeps the sessions: its table is ours, and
// New adds only the index beside it.
func TestSwitchingFromScsPgxstoreKeepsTheSessions(t *testing.T) {
	pg := startPostgres(t)
	pool := newPool(t, pg, newSchema(t, pg), nil)
	// scs's pgxstore's README: the table its users created by hand.
	if _, err := pool.Exec(t.Context(), `CREATE TABLE sessions (
		token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
		CREATE INDEX sessions_expiry_idx ON sessions (expiry);`); err != nil {
		t.Fatal(err)
	}
	old := scspgx.NewWithCleanupInterval(pool, 0)
	if err := old.Commit("before", []byte("saved by scs's pgxstore"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st := newStore(t, pool, pgxstore.Config{})
	if b, ok, err := st.Find("before"); err != nil || !ok || string(b) != "saved by scs's pgxstore" {
		t.Fatalf("after the switch Find returns %q %v %v, want the session scs's pgxstore saved", b, ok, err)
	}
	if err := st.Commit("after", []byte("saved by pgxstore"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := old.Find("after"); err != nil || !ok || string(b) != "saved by pgxstore" {
		t.Fatalf("switching back, scs's pgxstore finds %q %v %v, want the session pgxstore saved", b, ok, err)
	}
}

// An empty session is stored as empty bytes, not as nothing: the
// compare-and-swap tells them apart.
func TestEmptyDataIsNotNothing(t *testing.T) {
	st := freshStore(t, startPostgres(t))
	ctx, later := t.Context(), time.Now().Add(time.Hour)
	if _, ok, err := st.CompareAndSwap(ctx, "token", nil, []byte{}, later); err != nil || !ok {
		t.Fatalf("swap from nothing to empty: %v %v", ok, err)
	}
	if b, ok, err := st.Find("token"); err != nil || !ok || b == nil || len(b) != 0 {
		t.Fatalf("Find of empty data: %q (nil: %v) %v %v, want empty and found", b, b == nil, ok, err)
	}
	if cur, ok, err := st.CompareAndSwap(ctx, "token", nil, []byte("x"), later); err != nil || ok || cur == nil {
		t.Fatalf("swap from nothing on empty data: current %q (nil: %v) swapped %v %v, want refused with empty current", cur, cur == nil, ok, err)
	}
	if _, ok, err := st.CompareAndSwap(ctx, "token", []byte{}, []byte("x"), later); err != nil || !ok {
		t.Fatalf("swap from empty data: %v %v", ok, err)
	}
}

// A swap from nothing to nothing (a nil old and a nil b) changes nothing, and
// is refused where a session is stored.
func TestSwapFromNothingToNothing(t *testing.T) {
	st := freshStore(t, startPostgres(t))
	ctx := t.Context()
	if cur, ok, err := st.CompareAndSwap(ctx, "token", nil, nil, time.Time{}); err != nil || !ok || cur != nil {
		t.Fatalf("on nothing: current %q, swapped %v, %v; want swapped", cur, ok, err)
	}
	st.Commit("token", []byte("stored"), time.Now().Add(time.Hour))
	if cur, ok, err := st.CompareAndSwap(ctx, "token", nil, nil, time.Time{}); err != nil || ok || string(cur) != "stored" {
		t.Fatalf("on a stored session: current %q, swapped %v, %v; want refused with what is stored", cur, ok, err)
	}
}
