package scsession

import (
	"container/heap"
	"context"
	"maps"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/alexedwards/scs/v2/memstore"
)

// memIndexOf returns the user index of a memstore, kept in memory and
// shared by every Manager of the process on it. The index does not keep the
// memstore alive: once nothing else holds it, both go, with the index's
// sweeper.
func memIndexOf(st *memstore.MemStore) *memIndex {
	key := weak.Make(st)
	if idx, ok := memIndexes.Load(key); ok {
		return idx.(*memIndex)
	}
	idx, loaded := memIndexes.LoadOrStore(key, newMemIndex(st))
	x := idx.(*memIndex)
	if !loaded {
		runtime.AddCleanup(st, func(key weak.Pointer[memstore.MemStore]) { memIndexes.Delete(key) }, key)
		stop := make(chan struct{})
		runtime.AddCleanup(x, func(stop chan struct{}) { close(stop) }, stop)
		go sweeper(weak.Make(x), time.Minute, stop)
	}
	return x
}

var memIndexes sync.Map // weak.Pointer[memstore.MemStore] → *memIndex

// memIndex is the user index of a memstore: user → key → entry, and the
// entries in order of expiry, so that expired ones are dropped as they
// come, a few at every call, never by a scan of the whole index.
type memIndex struct {
	store weak.Pointer[memstore.MemStore]
	mu    sync.Mutex
	users map[string]map[string]memEntry
	live  int // entries in users
	peak  int // the most users the map has held since it was made
	queue expiries
}

// A memEntry is when an index entry expires at the latest, and when it was
// added: an entry whose session is not stored may be a save in flight for
// a moment, not for a second.
type memEntry struct{ expiry, added time.Time }

// inFlight is how long after it was added an entry whose session is not
// stored is kept, as a save in flight: saves to a memstore take microseconds.
const inFlight = time.Second

func newMemIndex(st *memstore.MemStore) *memIndex {
	return &memIndex{store: weak.Make(st), users: map[string]map[string]memEntry{}}
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

const sweepBatch = 256

// sweep drops up to sweepBatch entries that have expired, the earliest
// first, and the users left with none: no call waits on a sweep of the whole
// index, and the index shrinks as fast as it is used. x.mu is held.
func (x *memIndex) sweep(now time.Time) {
	for range sweepBatch {
		if x.queue.Len() == 0 || !now.After(x.queue[0].at) {
			return
		}
		e := heap.Pop(&x.queue).(expiry)
		if en, ok := x.users[e.user][e.key]; ok && !now.Before(en.expiry) {
			x.forget(e.user, e.key)
		}
	}
}

// forget drops one entry. x.mu is held.
func (x *memIndex) forget(user, key string) {
	if _, ok := x.users[user][key]; !ok {
		return
	}
	delete(x.users[user], key)
	x.live--
	if len(x.users[user]) == 0 {
		delete(x.users, user)
	}
}

// sweeper sweeps x every interval until x is garbage (stop closes), so
// that an index no one calls any more still lets go of what ended.
func sweeper(x weak.Pointer[memIndex], interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if idx := x.Value(); idx != nil {
			idx.sweepAll()
		}
	}
}

// sweepAll drops every entry that has expired, a batch per lock; then the
// entries of sessions that ended before their expiry (an idle timeout, a
// logout elsewhere), checking up to a few thousand; then compacts the index,
// since Go's maps and slices never shrink by themselves.
func (x *memIndex) sweepAll() {
	for more := true; more; {
		x.mu.Lock()
		x.sweep(time.Now())
		more = x.queue.Len() > 0 && time.Now().After(x.queue[0].at)
		x.mu.Unlock()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropEnded(4096)
	x.compact()
}

// dropEnded checks up to n entries, from a random user on, and drops those
// whose session the memstore no longer holds. x.mu is held.
func (x *memIndex) dropEnded(n int) {
	st := x.store.Value()
	if st == nil {
		return
	}
	now := time.Now()
	for user, keys := range x.users {
		for key, en := range keys {
			if n--; n < 0 {
				return
			}
			if _, found, err := st.Find(key); err == nil && !found && now.Sub(en.added) > inFlight {
				x.forget(user, key)
			}
		}
	}
}

// compact copies the index into maps and a queue sized for what it holds
// now, once it holds much less than its peak, and drops from the queue the
// entries removed or added again since. x.mu is held.
func (x *memIndex) compact() {
	if x.peak > 1024 && len(x.users)*4 < x.peak {
		users := make(map[string]map[string]memEntry, len(x.users)) // maps.Clone would keep the size
		maps.Copy(users, x.users)
		x.users, x.peak = users, len(x.users)
	}
	if len(x.queue) > 2*x.live+1024 {
		q := make(expiries, 0, x.live)
		for user, keys := range x.users {
			for key, en := range keys {
				q = append(q, expiry{at: en.expiry, user: user, key: key})
			}
		}
		heap.Init(&q)
		x.queue = q
	}
}

func (x *memIndex) AddUserSession(_ context.Context, user, key string, at time.Time) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	now := time.Now()
	x.sweep(now)
	if x.users[user] == nil {
		x.users[user] = map[string]memEntry{}
		x.peak = max(x.peak, len(x.users))
	}
	if _, ok := x.users[user][key]; !ok {
		x.live++
	}
	x.users[user][key] = memEntry{expiry: at, added: now}
	heap.Push(&x.queue, expiry{at: at, user: user, key: key}) // removed ones leave it at the sweeper's compact
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
