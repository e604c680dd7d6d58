package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/storetest"
)

// The conformance test of a store, as its author writes it: here, scs's
// memstore, for which the Manager itself makes saves atomic and keeps the
// user index.
func TestRunOnMemstore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) scs.Store { return memstore.NewWithCleanupInterval(0) })
}

// A store with every interface Run checks: scs.CtxStore,
// scsession.SwapStore and scsession.UserIndexStore.
func TestRunOnSwapIndexStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) scs.Store { return newMapStore("") })
}

// stores are the stores that TestLyingStoreHelper runs Run on, by the name
// in STORETEST_LYING: each breaks one promise, except lastWriteWins, which
// makes none beyond scs.Store's.
var stores = map[string]func() scs.Store{
	"blind swap":     func() scs.Store { return blindSwap{memstore.NewWithCleanupInterval(0)} },
	"timeless":       func() scs.Store { return newMapStore("timeless") },
	"index dropping": func() scs.Store { return newMapStore("index dropping") },
	"blind renew":    func() scs.Store { return newMapStore("blind renew") },
	"last-write-wins": func() scs.Store {
		return lastWriteWins{memstore.NewWithCleanupInterval(0)}
	},
}

// TestLyingStoreHelper runs Run on one of stores, as a child process of
// TestRunCatchesLyingStores, whose failures it must report.
func TestLyingStoreHelper(t *testing.T) {
	open, ok := stores[os.Getenv("STORETEST_LYING")]
	if !ok {
		t.Skip("runs only as a child process of TestRunCatchesLyingStores")
	}
	storetest.Run(t, func(t *testing.T) scs.Store { return open() })
}

func TestRunCatchesLyingStores(t *testing.T) {
	t.Parallel()
	tests := []struct {
		store string
		fails bool
		want  []string
	}{
		{"blind swap", true, []string{"--- FAIL: TestLyingStoreHelper/SwapStore/NilOldOnPresent", "--- FAIL: TestLyingStoreHelper/SwapStore/Concurrent",
			"--- FAIL: TestLyingStoreHelper/Manager/ConcurrentUpdates", "--- FAIL: TestLyingStoreHelper/Manager/LogoutRace", "CompareAndSwap"}},
		{"timeless", true, []string{"--- FAIL: TestLyingStoreHelper/Store/Expiry", "--- FAIL: TestLyingStoreHelper/Store/PastExpiry",
			"--- FAIL: TestLyingStoreHelper/CtxStore/Expiry", "--- FAIL: TestLyingStoreHelper/SwapStore/Expiry", "after its expiry"}},
		{"blind renew", true, []string{"--- FAIL: TestLyingStoreHelper/RenewStore/MismatchChangesNothing", "--- FAIL: TestLyingStoreHelper/RenewStore/Concurrent", "CompareAndRenew"}},
		{"index dropping", true, []string{"--- FAIL: TestLyingStoreHelper/UserIndexStore/ListingDuringSave", "UserSessions", "the entry was dropped"}},
		{"last-write-wins", false, []string{"--- SKIP: TestLyingStoreHelper/Manager/ConcurrentUpdates", "--- SKIP: TestLyingStoreHelper/Manager/LogoutRace",
			"saves it last-write-wins", "Implement CompareAndSwap (scsession.SwapStore)", "--- SKIP: TestLyingStoreHelper/Manager/Revocation"}},
	}
	// The children mostly wait for sessions to expire: run them all at once.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	type child struct {
		out []byte
		err error
	}
	children := make([]chan child, len(tests))
	for i, tt := range tests {
		children[i] = make(chan child, 1)
		go func() {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLyingStoreHelper$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "STORETEST_LYING="+tt.store)
			out, err := cmd.CombinedOutput()
			children[i] <- child{out, err}
		}()
	}
	for i, tt := range tests {
		t.Run(tt.store, func(t *testing.T) {
			c := <-children[i]
			out, err := c.out, c.err
			var exit *exec.ExitError
			switch {
			case tt.fails && (!errors.As(err, &exit) || exit.ExitCode() <= 0):
				t.Errorf("Run on the %s store: %v; want it to fail, with exit status 1", tt.store, err)
			case !tt.fails && err != nil:
				t.Errorf("Run on the %s store: %v; want it to pass", tt.store, err)
			}
			verdict := "\nPASS\n"
			if tt.fails {
				verdict = "\nFAIL\n"
			}
			for _, want := range append(tt.want, verdict) {
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("the output of Run on the %s store does not say %q", tt.store, want)
				}
			}
			for _, bad := range []string{"panic:", "DATA RACE"} {
				if bytes.Contains(out, []byte(bad)) {
					t.Errorf("the output of Run on the %s store says %q", tt.store, bad)
				}
			}
			if t.Failed() {
				t.Logf("the output of Run on the %s store:\n%s", tt.store, out)
			}
		})
	}
}

// blindSwap is memstore with a CompareAndSwap that does not compare: it
// stores b and reports a swap whatever the store holds.
type blindSwap struct{ *memstore.MemStore }

func (s blindSwap) CompareAndSwap(_ context.Context, token string, _, b []byte, expiry time.Time) ([]byte, bool, error) {
	if b == nil {
		return nil, true, s.Delete(token)
	}
	return nil, true, s.Commit(token, b, expiry)
}

// lastWriteWins is memstore under another type, which the Manager cannot
// make atomic: a store that keeps scs.Store's contract and no more.
type lastWriteWins struct{ *memstore.MemStore }

// mapStore keeps sessions and a user index in maps under a mutex: a correct
// scs.CtxStore, scsession.SwapStore and scsession.UserIndexStore. With a
// flaw it breaks one promise: "timeless" keeps sessions past their expiry;
// "index dropping" drops index entries whose session it does not hold, as a
// listing during a save finds them.
type mapStore struct {
	flaw     string
	mu       sync.Mutex
	sessions map[string]stored
	users    map[string]map[string]time.Time // user → key → expiry
}

type stored struct {
	b      []byte
	expiry time.Time
}

var (
	_ scs.CtxStore             = (*mapStore)(nil)
	_ scsession.RenewStore     = (*mapStore)(nil)
	_ scsession.UserIndexStore = (*mapStore)(nil)
)

func newMapStore(flaw string) *mapStore {
	return &mapStore{flaw: flaw, sessions: map[string]stored{}, users: map[string]map[string]time.Time{}}
}

// find and set are Find and Commit with s.mu held.
func (s *mapStore) find(token string) ([]byte, bool) {
	e, ok := s.sessions[token]
	if !ok || !time.Now().Before(e.expiry) {
		return nil, false
	}
	return slices.Clone(e.b), true
}

func (s *mapStore) set(token string, b []byte, expiry time.Time) {
	if s.flaw == "timeless" {
		expiry = time.Now().AddDate(100, 0, 0)
	}
	s.sessions[token] = stored{slices.Clone(b), expiry}
}

func (s *mapStore) Find(token string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, found := s.find(token)
	return b, found, nil
}

func (s *mapStore) Commit(token string, b []byte, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(token, b, expiry)
	return nil
}

func (s *mapStore) Delete(token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, token)
	return nil
}

func (s *mapStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	return s.Find(token)
}

func (s *mapStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Commit(token, b, expiry)
}

func (s *mapStore) DeleteCtx(ctx context.Context, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Delete(token)
}

func (s *mapStore) CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, _ := s.find(token)
	if (cur == nil) != (old == nil) || !bytes.Equal(cur, old) {
		return cur, false, nil
	}
	if b == nil {
		delete(s.sessions, token)
	} else {
		s.set(token, b, expiry)
	}
	return nil, true, nil
}

func (s *mapStore) CompareAndRenew(ctx context.Context, oldToken string, old []byte, token string, b []byte, expiry time.Time) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, _ := s.find(oldToken)
	if s.flaw != "blind renew" && (cur == nil || !bytes.Equal(cur, old)) {
		return cur, false, nil
	}
	if _, taken := s.find(token); taken {
		return nil, false, errors.New("mapStore: a session is stored under the new token already")
	}
	s.set(token, b, expiry)
	delete(s.sessions, oldToken)
	return nil, true, nil
}

func (s *mapStore) AddUserSession(_ context.Context, user, key string, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[user] == nil {
		s.users[user] = map[string]time.Time{}
	}
	s.users[user][key] = expiry
	return nil
}

func (s *mapStore) RemoveUserSession(_ context.Context, user, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users[user], key)
	return nil
}

func (s *mapStore) UserSessions(_ context.Context, user string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	now := time.Now()
	for key, expiry := range s.users[user] {
		b, found := s.find(key)
		switch {
		case !now.Before(expiry):
			delete(s.users[user], key)
		case found:
			out[key] = b
		case s.flaw == "index dropping":
			delete(s.users[user], key)
		}
	}
	if len(s.users[user]) == 0 {
		delete(s.users, user)
	}
	return out, nil
}
