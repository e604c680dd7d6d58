package scsession

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// indexOnly keeps a user index but saves last-write-wins: a revocation could
// be undone by a request in flight, so New refuses it.
type indexOnly struct {
	*memstore.MemStore
	*memIndex
}

func TestNewRefusesAUserIndexWithoutCompareAndSwap(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = indexOnly{ms, newMemIndex(ms)}
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "SwapStore") || !strings.Contains(msg, "revoked") {
			t.Fatalf("New panicked with %q; want a message naming SwapStore and why", msg)
		}
	}()
	New[user](sm, WithUserID(func(u user) string { return u.Name }))
	t.Fatal("New accepted a user index without compare-and-swap")
}

// casStore is memstore behind SwapStore, as a store of a third party.
type casStore struct{ *memstore.MemStore }

func (s casStore) CompareAndSwap(_ context.Context, key string, old, b []byte, exp time.Time) ([]byte, bool, error) {
	return swapMem(s.MemStore, key, old, b, exp)
}

func TestNewWarnsOnceAboutALastWriteWinsStore(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store scs.Store
		warns int
	}{
		{"memstore", memstore.NewWithCleanupInterval(0), 0},
		{"a SwapStore", casStore{memstore.NewWithCleanupInterval(0)}, 0},
		{"a plain scs store", newCountingStore(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			sm := scs.New()
			sm.Store = tc.store
			m := New[user](sm, WithLogger(logs.logger()))
			c := newClient(t)
			url := serve(t, m, userApp(m))
			c.Post(url + "/login?id=1&name=ann")
			c.Get(url + "/get")
			got := strings.Count(logs.String(), "last-write-wins")
			if got != tc.warns {
				t.Fatalf("%d warnings about last-write-wins, want %d; log:\n%s", got, tc.warns, logs.String())
			}
			if got > 0 && (!strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "redisstore, goredisstore or pgxstore")) {
				t.Fatalf("the warning should be a Warn naming a store that keeps the guarantees; log:\n%s", logs.String())
			}
		})
	}
}

func TestMemstoreDeletesAreNotUndoneByAConcurrentSave(t *testing.T) {
	sm := scs.New()
	st := memstore.NewWithCleanupInterval(0)
	sm.Store = st
	m := New[user](sm, WithLogger(discard))
	v1, v2 := []byte("v1"), []byte("v2")
	expiry := time.Now().Add(time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	undone, tries := 0, 0
	for ; tries < 20000 && time.Now().Before(deadline); tries++ {
		key := fmt.Sprint("k", tries)
		st.Commit(key, v1, expiry)
		var wg sync.WaitGroup
		wg.Go(func() { swapMem(st, key, v1, v2, expiry) })
		wg.Go(func() { m.store.delete(t.Context(), key) })
		wg.Wait()
		if _, found, _ := st.Find(key); found {
			undone++
		}
		st.Delete(key)
	}
	if undone > 0 {
		t.Fatalf("%d of %d deletes were undone by a concurrent save", undone, tries)
	}
}

// New's doc says Store may still be set on sm after New ("Keep using sm to
// configure ... Store ... before serving requests"), but the backend is
// chosen in New: sessions silently go to the store sm had then.
func TestStoreSetAfterNewIsRefused(t *testing.T) {
	sm := scs.New()
	m := New[user](sm, WithLogger(discard))
	sm.Store = newCountingStore() // after New, which chose how to save from the store it had
	defer func() {
		if msg := fmt.Sprint(recover()); !strings.Contains(msg, "set sm.Store before calling New") {
			t.Fatalf("LoadAndSave with a store changed after New: panic %q, want one naming the fix", msg)
		}
	}()
	m.LoadAndSave(userApp(m))
}
