package scsession

import (
	"fmt"
	"runtime"
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
