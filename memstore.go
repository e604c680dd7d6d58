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
