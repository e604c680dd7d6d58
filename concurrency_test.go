package scsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// The guarantees under concurrency run on every store that compares and
// swaps (internal/sessiontest): here on memstore (memstore_test.go), and on
// Redis in redisstore/. What follows needs the package's internals.

// busyStore is a store where some other request always saved first.
type busyStore struct {
	*memstore.MemStore
	swaps int
}

func (s *busyStore) CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	s.swaps++
	newer := (&envelope{deadline: expiry, data: packed(fmt.Sprintf(`{"UserID":%d}`, s.swaps))}).encode()
	return newer, false, nil
}

func TestEndlessConflictsFailThroughTheErrorFunc(t *testing.T) {
	store := &busyStore{MemStore: memstore.NewWithCleanupInterval(0)}
	sm := scs.New()
	sm.Store = store
	var gotErr error
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		gotErr = err
		http.Error(w, "try again", http.StatusServiceUnavailable)
	}
	m := New[user](sm, WithLogger(discard))
	url := serve(t, m, userApp(m))
	if r := newClient(t).Post(url + "/add?item=tea"); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("a save that never wins answered %d %q", r.Status, r.Body)
	}
	if !errors.Is(gotErr, ErrConflict) || store.swaps != maxAttempts {
		t.Fatalf("ErrorFunc got %v after %d attempts; want ErrConflict after %d", gotErr, store.swaps, maxAttempts)
	}
}
