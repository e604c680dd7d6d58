package pgxstore_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/pgxstore"
)

// A database (or role) with default_transaction_isolation = 'repeatable
// read' or 'serializable', a common hardening, makes a concurrent swap of
// one session fail with SQLSTATE 40001 rather than be refused with the
// current value: the store runs it again, and no save fails.
func TestConcurrentSwapsUnderStricterDefaultIsolation(t *testing.T) {
	pg := startPostgres(t)
	for _, level := range []string{"repeatable read", "serializable"} {
		t.Run(strings.ReplaceAll(level, " ", "_"), func(t *testing.T) {
			pool := newPool(t, pg, newSchema(t, pg), func(c *pgxpool.Config) {
				c.ConnConfig.RuntimeParams["default_transaction_isolation"] = level
				c.MaxConns = 8
			})
			st := newStore(t, pool, pgxstore.Config{CleanupInterval: -1})
			ctx, later := t.Context(), time.Now().Add(time.Hour)
			var failures []error
			for round := range 20 {
				token := fmt.Sprint("token", round)
				base := []byte("v0")
				if err := st.Commit(token, base, later); err != nil {
					t.Fatal(err)
				}
				const n = 6
				var wg sync.WaitGroup
				won := make([]bool, n)
				errs := make([]error, n)
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						_, won[i], errs[i] = st.CompareAndSwap(ctx, token, base, []byte(fmt.Sprint("v", i+1)), later)
					})
				}
				close(start)
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						failures = append(failures, err)
					}
				}
			}
			if len(failures) > 0 {
				t.Errorf("with default_transaction_isolation=%q, %d concurrent CompareAndSwap calls failed instead of being refused; first: %v",
					level, len(failures), failures[0])
			}
		})
	}
}

// RenewStore's contract: a session stored under the brand-new token makes
// CompareAndRenew change nothing and return an error, also when the old
// token does not hold what the caller read.
func TestRenewOntoATakenTokenIsAnErrorEvenWhenRefused(t *testing.T) {
	st := freshStore(t, startPostgres(t))
	ctx, later := t.Context(), time.Now().Add(time.Hour)
	st.Commit("old", []byte("newer"), later)
	st.Commit("new", []byte("someone else's"), later)
	_, renewed, err := st.CompareAndRenew(ctx, "old", []byte("read"), "new", []byte("b"), later)
	if renewed || err == nil {
		t.Errorf("CompareAndRenew onto a token that holds a session (old token mismatching): renewed %v, err %v; want an error (RenewStore: token is brand new)", renewed, err)
	}
}

// An expired row under the new token is nothing, as everywhere else
// (CompareAndSwap with a nil old overwrites it): it does not make the token
// taken.
func TestRenewOntoAnExpiredRowIsNotTaken(t *testing.T) {
	pg := startPostgres(t)
	st := newStore(t, newPool(t, pg, newSchema(t, pg), nil), pgxstore.Config{CleanupInterval: -1})
	ctx, later := t.Context(), time.Now().Add(time.Hour)
	st.Commit("old", []byte("read"), later)
	st.Commit("new", []byte("long gone"), time.Now().Add(-time.Hour))
	if _, ok, err := st.Find("new"); ok || err != nil {
		t.Fatalf("the expired session is found: %v %v", ok, err)
	}
	_, renewed, err := st.CompareAndRenew(ctx, "old", []byte("read"), "new", []byte("b"), later)
	if !renewed || err != nil {
		t.Errorf("CompareAndRenew onto a token whose only row expired an hour ago: renewed %v, err %v; want renewed (the store holds nothing there)", renewed, err)
	}
}

// StopCleanup cancels a cleanup statement in flight: on a stalled server it
// returns at once, not after the whole Timeout.
func TestStopCleanupReturnsPromptlyOnAStalledServer(t *testing.T) {
	pg := startPostgres(t)
	pool := newPool(t, pg, newSchema(t, pg), nil)
	st, err := pgxstore.NewWithConfig(t.Context(), pool, pgxstore.Config{CleanupInterval: 50 * time.Millisecond, Timeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pg.Pause()
	time.Sleep(300 * time.Millisecond) // a tick's statement is now waiting on the server
	start := time.Now()
	st.StopCleanup()
	took := time.Since(start)
	pg.Resume()
	if took > time.Second {
		t.Errorf("StopCleanup on a stalled server took %v; want it to cancel the statement in flight", took.Round(10*time.Millisecond))
	}
}

// A port another process took between NewPostgres and Start (another test
// package's server): the server cannot bind it and exits, and Start moves
// it to another port rather than let the test use the other server.
func TestStartPostgresMovesOffATakenPort(t *testing.T) {
	other := sessiontest.StartPostgres(t)
	p := sessiontest.NewPostgres(t)
	p.Addr = other.Addr // as if another process took the port meanwhile
	p.Start()
	if p.Addr == other.Addr {
		t.Fatalf("Start kept the taken port %s", p.Addr)
	}
	p.Stop() // its own server: the other one still answers
	pool, err := pgxpool.New(t.Context(), other.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatalf("stopping the moved server stopped the other one: %v", err)
	}
}

// Under READ COMMITTED the retry on a stale snapshot is sound: concurrent increments by compare-and-swap lose none, never exhaust
// the attempts, and a delete that won is never undone by a swap from the
// value it deleted.
func TestSwapRetryIsSoundUnderReadCommitted(t *testing.T) {
	st := freshStore(t, startPostgres(t))
	ctx, later := t.Context(), time.Now().Add(time.Hour)
	const workers, each = 6, 40
	if _, ok, err := st.CompareAndSwap(ctx, "n", nil, []byte("0"), later); !ok || err != nil {
		t.Fatal(ok, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			cur := []byte("0")
			for done := 0; done < each; {
				var v int
				fmt.Sscan(string(cur), &v)
				next := []byte(fmt.Sprint(v + 1))
				got, ok, err := st.CompareAndSwap(ctx, "n", cur, next, later)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					cur, done = next, done+1
					continue
				}
				if got == nil {
					errs <- fmt.Errorf("refused with nothing stored, after reading %q", cur)
					return
				}
				cur = got
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if b, _, _ := st.Find("n"); string(b) != fmt.Sprint(workers*each) {
		t.Errorf("after %d increments the value is %q", workers*each, b)
	}

	// Delete racing updates from the same value: if the delete wins, nothing
	// is stored afterwards.
	for round := range 30 {
		token := fmt.Sprint("d", round)
		st.Commit(token, []byte("v"), later)
		var deleted bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; _, deleted, _ = st.CompareAndSwap(ctx, token, []byte("v"), nil, time.Time{}) })
		for i := range 3 {
			wg.Go(func() { <-start; st.CompareAndSwap(ctx, token, []byte("v"), []byte(fmt.Sprint("w", i)), later) })
		}
		close(start)
		wg.Wait()
		if _, found, _ := st.Find(token); deleted && found {
			t.Fatalf("round %d: the delete won and the session is back", round)
		}
	}
}
