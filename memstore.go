package scsession

import (
	"bytes"
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
)

// memBackend is scs's memstore, made atomic among the Managers of this
// process: every write the Manager makes to it holds its key's lock, so a
// find, a compare and a commit cannot interleave with another's.
type memBackend struct{ st *memstore.MemStore }

// memLocks are memstore's locks, striped by key.
var memLocks [64]sync.Mutex

func memLock(key string) *sync.Mutex { return &memLocks[memStripe(key)] }

func memStripe(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(memLocks)))
}

func (m memBackend) atomic() bool { return true }

func (m memBackend) find(_ context.Context, key string) ([]byte, error) {
	b, found, err := m.st.Find(key)
	if !found || err != nil {
		return nil, err
	}
	return b, nil
}

func (m memBackend) delete(_ context.Context, key string) error {
	mu := memLock(key)
	mu.Lock()
	defer mu.Unlock()
	return m.st.Delete(key)
}

func (m memBackend) swap(_ context.Context, key string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	return swapMem(m.st, key, old, b, expiry)
}

func (m memBackend) renew(ctx context.Context, oldKey string, old []byte, key string, b []byte, expiry time.Time) ([]byte, bool, error) {
	a, b2 := memStripe(oldKey), memStripe(key)
	if a > b2 {
		a, b2 = b2, a // one order for every renewal, or two could deadlock
	}
	memLocks[a].Lock()
	defer memLocks[a].Unlock()
	if b2 != a {
		memLocks[b2].Lock()
		defer memLocks[b2].Unlock()
	}
	cur, err := m.find(ctx, oldKey)
	if err != nil || cur == nil || !bytes.Equal(cur, old) {
		return cur, false, err
	}
	if taken, err := m.find(ctx, key); err != nil || taken != nil {
		if err == nil {
			err = errTokenTaken
		}
		return nil, false, err
	}
	if err := m.st.Commit(key, b, expiry); err != nil {
		return nil, false, err
	}
	return nil, true, m.st.Delete(oldKey)
}

// swapMem is SwapStore's CompareAndSwap for scs's memstore.
func swapMem(st *memstore.MemStore, key string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	mu := memLock(key)
	mu.Lock()
	defer mu.Unlock()
	cur, found, err := st.Find(key)
	if err != nil {
		return nil, false, err
	}
	if !found {
		cur = nil
	}
	if (cur == nil) != (old == nil) || !bytes.Equal(cur, old) {
		return cur, false, nil
	}
	if b == nil {
		return nil, true, st.Delete(key)
	}
	return nil, true, st.Commit(key, b, expiry)
}

// memIndexOf returns the user index of a memstore, kept in memory and
// shared by every Manager of the process on it.
func memIndexOf(st *memstore.MemStore) *memIndex {
	idx, _ := memIndexes.LoadOrStore(st, newMemIndex(st))
	return idx.(*memIndex)
}

var memIndexes sync.Map // *memstore.MemStore → *memIndex

// memIndex is the user index of a memstore: user → key → expiry.
type memIndex struct {
	store *memstore.MemStore
	mu    sync.Mutex
	users map[string]map[string]time.Time
	adds  int // since the last sweep of expired entries
}

func newMemIndex(st *memstore.MemStore) *memIndex {
	return &memIndex{store: st, users: map[string]map[string]time.Time{}}
}

func (x *memIndex) AddUserSession(_ context.Context, user, key string, expiry time.Time) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.users[user] == nil {
		x.users[user] = map[string]time.Time{}
	}
	x.users[user][key] = expiry
	if x.adds++; x.adds >= 1024 { // users who never come back must not pile up
		x.adds = 0
		now := time.Now()
		for u, keys := range x.users {
			for k, e := range keys {
				if now.After(e) {
					delete(keys, k)
				}
			}
			if len(keys) == 0 {
				delete(x.users, u)
			}
		}
	}
	return nil
}

func (x *memIndex) RemoveUserSession(_ context.Context, user, key string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.users[user], key)
	if len(x.users[user]) == 0 {
		delete(x.users, user)
	}
	return nil
}

func (x *memIndex) UserSessions(_ context.Context, user string) (map[string][]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string][]byte{}
	now := time.Now()
	for key, expiry := range x.users[user] {
		b, found, err := x.store.Find(key)
		if err != nil {
			return nil, err
		}
		switch {
		case now.After(expiry):
			delete(x.users[user], key)
		case found:
			out[key] = b
		}
	}
	if len(x.users[user]) == 0 {
		delete(x.users, user)
	}
	return out, nil
}
