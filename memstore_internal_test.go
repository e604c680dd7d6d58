package scsession

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

func countMemIndexes() int {
	n := 0
	memIndexes.Range(func(any, any) bool { n++; return true })
	return n
}

// The user index of a memstore must not keep the memstore alive.
func TestMemIndexesLetTheirStoresGo(t *testing.T) {
	before := countMemIndexes()
	for range 10 {
		sm := scs.New()
		sm.Store = memstore.NewWithCleanupInterval(0)
		New[user](sm, WithUserID(func(u user) string { return u.Name }), WithLogger(discard))
	}
	deadline := time.Now().Add(5 * time.Second)
	for countMemIndexes() > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := countMemIndexes(); n > before {
		t.Fatalf("%d memstore indexes are still held after their stores became garbage", n-before)
	}
}

func TestMemIndexForgetsExpiredEntriesAsItIsUsed(t *testing.T) {
	ms := memstore.NewWithCleanupInterval(0)
	x := newMemIndex(ms)
	past := time.Now().Add(50 * time.Millisecond)
	for i := range 3 * sweepBatch {
		x.AddUserSession(t.Context(), fmt.Sprint("u", i), "k", past)
	}
	time.Sleep(60 * time.Millisecond)
	for range 4 {
		x.AddUserSession(t.Context(), "live", "k", time.Now().Add(time.Hour))
	}
	if len(x.users) != 1 || x.queue.Len() > 4 {
		t.Fatalf("after expiry and 4 calls the index holds %d users and %d queued entries; want only the live one", len(x.users), x.queue.Len())
	}
}

// BenchmarkMemIndexAdd is a login's index entry with the index holding
// sessions entries, half of them expired.
func BenchmarkMemIndexAdd(b *testing.B) {
	for _, sessions := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprint("sessions=", sessions), func(b *testing.B) {
			x := newMemIndex(memstore.NewWithCleanupInterval(0))
			soon, later := time.Now().Add(time.Second), time.Now().Add(time.Hour)
			for i := range sessions {
				at := later
				if i%2 == 0 {
					at = soon
				}
				x.AddUserSession(b.Context(), fmt.Sprint("user", i), fmt.Sprint("key", i), at)
			}
			time.Sleep(time.Until(soon))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				x.AddUserSession(b.Context(), "someone", fmt.Sprint("new", i), later)
				i++
			}
		})
	}
}

// BenchmarkMemIndexAfterExpiry fills the index with a million entries that
// then expire, and reports the heap the index holds before and after one
// sweep of the background sweeper.
func BenchmarkMemIndexAfterExpiry(b *testing.B) {
	const sessions = 1_000_000
	heap := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20)
	}
	for b.Loop() {
		base := heap()
		x := newMemIndex(memstore.NewWithCleanupInterval(0))
		soon := time.Now().Add(8 * time.Second) // after the fill, which takes a few seconds
		for i := range sessions {
			x.AddUserSession(b.Context(), fmt.Sprint("user", i), fmt.Sprint("key", i), soon)
		}
		full := heap() - base
		time.Sleep(time.Until(soon) + 10*time.Millisecond)
		start := time.Now()
		x.sweepAll()
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "sweep-ms")
		b.ReportMetric(full, "MB-full")
		b.ReportMetric(heap()-base, "MB-after-expiry")
		runtime.KeepAlive(x)
	}
}

// Removed entries (logout, renewal, revocation) leave the expiry queue too,
// not only at their session's deadline: with a 24-hour Lifetime, a day of
// logins and logouts must not stay in memory.
func TestMemIndexLetsGoOfRemovedEntries(t *testing.T) {
	x := newMemIndex(memstore.NewWithCleanupInterval(0))
	later := time.Now().Add(24 * time.Hour)
	const n = 5000
	for i := range n {
		x.AddUserSession(t.Context(), fmt.Sprint("user", i), fmt.Sprint("key", i), later)
		x.RemoveUserSession(t.Context(), fmt.Sprint("user", i), fmt.Sprint("key", i)) // logout
	}
	x.sweepAll()
	x.mu.Lock()
	users, queued := len(x.users), x.queue.Len()
	x.mu.Unlock()
	if users != 0 || queued > n/2 {
		t.Fatalf("after %d logins and logouts the index holds %d users and %d queued entries; want the removed ones gone", n, users, queued)
	}
}

// With IdleTimeout, a session idles out long before its absolute deadline,
// which is what the memstore index is keyed by: a sweep drops the entries of
// sessions that idled out.
func TestMemIndexForgetsIdledOutSessions(t *testing.T) {
	sm, ms := memSM()
	sm.IdleTimeout = 100 * time.Millisecond
	sm.Lifetime = time.Hour
	m := New[user](sm, WithUserID(byName), WithLogger(discard))
	url := serve(t, m, userApp(m))
	for i := range 20 {
		newClient(t).Post(fmt.Sprint(url, "/login?id=1&name=u", i))
	}
	time.Sleep(inFlight + 150*time.Millisecond) // past the idle timeout, and past what could be a save in flight
	x := memIndexOf(ms)
	x.sweepAll() // what the background sweeper does
	x.mu.Lock()
	users := len(x.users)
	x.mu.Unlock()
	if users != 0 {
		t.Fatalf("every session idled out, yet after a sweep the memstore index holds %d users", users)
	}
}

func sweepers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "scsession.sweeper(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Only a Manager with WithUserID has a memstore index and its sweeper
// goroutine, and the sweeper ends with its index.
func TestSweeperGoroutinesOnlyForIndexesInUse(t *testing.T) {
	before := sweepers()
	func() {
		for range 20 {
			sm, _ := memSM()
			New[user](sm, WithLogger(discard)) // no WithUserID: no index is ever used
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the goroutines start
	if d := sweepers() - before; d > 0 {
		t.Errorf("20 Managers without WithUserID started %d sweeper goroutines", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for sweepers() > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if d := sweepers() - before; d > 0 {
		t.Errorf("%d sweeper goroutines still run 2s after their memstores and indexes became garbage", d)
	}
}
