package scsession

import (
	"bytes"
	"container/heap"
	"context"
	"hash/fnv"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"
	"weak"

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
// shared by every Manager of the process on it. The index does not keep the
// memstore alive: once nothing else holds it, both go.
func memIndexOf(st *memstore.MemStore) *memIndex {
	key := weak.Make(st)
	if idx, ok := memIndexes.Load(key); ok {
		return idx.(*memIndex)
	}
	idx, loaded := memIndexes.LoadOrStore(key, newMemIndex(st))
	if !loaded {
		runtime.AddCleanup(st, func(key weak.Pointer[memstore.MemStore]) { memIndexes.Delete(key) }, key)
		go sweeper(weak.Make(idx.(*memIndex)), time.Minute)
	}
	return idx.(*memIndex)
}

// sweeper sweeps x every interval until x is garbage, so that an index no
// one calls any more still lets go of what expired: a batch at a time, so no
// call waits long on it, and then the index's memory, since Go's maps and
// slices never shrink by themselves.
func sweeper(x weak.Pointer[memIndex], interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for range t.C {
		idx := x.Value()
		if idx == nil {
			return
		}
		idx.sweepAll()
		idx = nil // let it go between ticks
	}
}

// sweepAll drops every entry that has expired, a batch per lock, then
// compacts the index.
func (x *memIndex) sweepAll() {
	for more := true; more; {
		x.mu.Lock()
		x.sweep(time.Now())
		more = x.queue.Len() > 0 && time.Now().After(x.queue[0].at)
		if !more {
			x.compact()
		}
		x.mu.Unlock()
	}
}

// compact copies the index into maps and a queue sized for what it holds
// now, once it holds less than a quarter of its peak. x.mu is held.
func (x *memIndex) compact() {
	if x.peak > 1024 && len(x.users)*4 < x.peak {
		users := make(map[string]map[string]time.Time, len(x.users)) // maps.Clone would keep the size
		maps.Copy(users, x.users)
		x.users, x.peak = users, len(x.users)
	}
	if cap(x.queue) > 1024 && len(x.queue)*4 < cap(x.queue) {
		x.queue = slices.Clone(x.queue)
	}
}

var memIndexes sync.Map // weak.Pointer[memstore.MemStore] → *memIndex

// memIndex is the user index of a memstore: user → key → expiry, and the
// entries in order of expiry, so that expired ones are dropped as they
// come, a few at every call, never by a scan of the whole index.
type memIndex struct {
	store weak.Pointer[memstore.MemStore]
	mu    sync.Mutex
	users map[string]map[string]time.Time
	peak  int // the most users the map has held since it was made
	queue expiries
}

func newMemIndex(st *memstore.MemStore) *memIndex {
	return &memIndex{store: weak.Make(st), users: map[string]map[string]time.Time{}}
}

// An expiry is an entry of the index and the expiry it was added with; the
// queue may hold entries removed or added again since, which sweep skips.
type expiry struct {
	at        time.Time
	user, key string
}

type expiries []expiry

func (q expiries) Len() int           { return len(q) }
func (q expiries) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q expiries) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiries) Push(x any)        { *q = append(*q, x.(expiry)) }
func (q *expiries) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// sweep drops up to sweepBatch entries that have expired, the earliest
// first, and the users left with none: no call waits on a sweep of the whole
// index, and the index shrinks as fast as it is used. x.mu is held.
func (x *memIndex) sweep(now time.Time) {
	for range sweepBatch {
		if x.queue.Len() == 0 || !now.After(x.queue[0].at) {
			return
		}
		e := heap.Pop(&x.queue).(expiry)
		if at, ok := x.users[e.user][e.key]; ok && !now.Before(at) {
			x.forget(e.user, e.key)
		}
	}
}

const sweepBatch = 256

// forget drops one entry. x.mu is held.
func (x *memIndex) forget(user, key string) {
	delete(x.users[user], key)
	if len(x.users[user]) == 0 {
		delete(x.users, user)
	}
}

func (x *memIndex) AddUserSession(_ context.Context, user, key string, at time.Time) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sweep(time.Now())
	if x.users[user] == nil {
		x.users[user] = map[string]time.Time{}
		x.peak = max(x.peak, len(x.users))
	}
	x.users[user][key] = at
	heap.Push(&x.queue, expiry{at: at, user: user, key: key})
	return nil
}

func (x *memIndex) RemoveUserSession(_ context.Context, user, key string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sweep(time.Now())
	x.forget(user, key)
	return nil
}

func (x *memIndex) UserSessions(_ context.Context, user string) (map[string][]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sweep(time.Now())
	out := map[string][]byte{}
	st := x.store.Value()
	if st == nil {
		return out, nil
	}
	for key := range x.users[user] {
		b, found, err := st.Find(key)
		if err != nil {
			return nil, err
		}
		if found {
			out[key] = b
		}
	}
	return out, nil
}
