package main

import (
	"crypto/sha256"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Login throttling happens at three levels, each for its own attacker:
//
//   - per session (Session.Failures): an honest user sees how many tries
//     are left; dropping the cookie starts again, so it stops nobody;
//   - per account: a guesser spread over many addresses and sessions;
//   - per client address: one address spraying many usernames.
//
// The account and address counts live here, on the server, in memory: one
// instance's worth, which is what an example needs; several instances would
// keep them in Redis beside the sessions. Locking an account on failures
// lets anyone lock it out for a while: that is the usual price, kept small
// by a short lockout.
const (
	maxFailures = 5           // failed logins in a session before it is locked
	lockout     = time.Minute // how long login stays locked for the session

	accountFailures = 10               // failed logins for one account within failureWindow
	accountLockout  = 5 * time.Minute  // before it is locked for everyone, this long
	addrFailures    = 20               // failed logins from one client address within failureWindow
	addrLockout     = 15 * time.Minute // before it is locked, this long
	failureWindow   = 15 * time.Minute // failures older than this are forgotten

	// The most accounts and addresses remembered: an attacker spraying
	// usernames or addresses cannot grow the maps past this.
	maxTracked = 10_000
)

// A limiter counts failures per key and locks a key that has max of them
// within window, for lockout. It holds at most size keys: expired entries go
// first, then, when an attacker fills it, the oldest unlocked one, so that
// spraying new keys cannot unlock a locked one early.
type limiter struct {
	max     int
	window  time.Duration
	lockout time.Duration
	size    int
	now     func() time.Time

	mu        sync.Mutex
	entries   map[string]*failures
	lastSweep time.Time
}

type failures struct {
	n           int
	since       time.Time // the first failure counted
	lockedUntil time.Time
}

// expires is when e no longer counts: its window is over and it is not locked.
func (e *failures) expires(window time.Duration) time.Time {
	end := e.since.Add(window)
	if e.lockedUntil.After(end) {
		return e.lockedUntil
	}
	return end
}

func newLimiter(max int, window, lockout time.Duration, size int, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, lockout: lockout, size: size, now: now, entries: map[string]*failures{}}
}

// lockedFor is how long key stays locked, rounded up to the second; zero
// when it is not.
func (l *limiter) lockedFor(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil {
		return 0
	}
	return roundUp(e.lockedUntil.Sub(l.now()))
}

// fail counts a failure for key and returns how long key is now locked
// (zero if it is not).
func (l *limiter) fail(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entries[key]
	if e != nil && !now.Before(e.expires(l.window)) {
		e = nil // an old entry starts again
	}
	if e == nil {
		l.makeRoom(now)
		e = &failures{since: now}
		l.entries[key] = e
	}
	if now.Before(e.lockedUntil) {
		return roundUp(e.lockedUntil.Sub(now))
	}
	e.n++
	if e.n < l.max {
		return 0
	}
	// Locked: the count starts again once the lock ends.
	e.n, e.since, e.lockedUntil = 0, now.Add(l.lockout), now.Add(l.lockout)
	return l.lockout
}

// forget drops key's failures, after a successful login.
func (l *limiter) forget(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// makeRoom sweeps expired entries (at most once a minute, or when full) and
// evicts one if the limiter is still full. Both are O(size), paid by a
// failed login only.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.entries) < l.size && now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for k, e := range l.entries {
		if !now.Before(e.expires(l.window)) {
			delete(l.entries, k)
		}
	}
	if len(l.entries) < l.size {
		return
	}
	// Full of live entries: drop the unlocked one seen first, or if all are
	// locked, the lock that ends first.
	victim, victimLocked, victimAt := "", true, time.Time{}
	for k, e := range l.entries {
		locked := now.Before(e.lockedUntil)
		at := e.since
		if locked {
			at = e.lockedUntil
		}
		if victim == "" || (victimLocked && !locked) || (locked == victimLocked && at.Before(victimAt)) {
			victim, victimLocked, victimAt = k, locked, at
		}
	}
	delete(l.entries, victim)
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func roundUp(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// accountKey is the key an account's failures are counted under: a hash of
// the username as typed, case and spaces aside, so that a 60 KB username
// costs as little memory as "demo".
func accountKey(username string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(username))))
	return string(sum[:16])
}

// clientAddr is the address login failures are counted under: the host of
// r.RemoteAddr, the other end of the TCP connection, which a client cannot
// choose at will. X-Forwarded-For is not trusted: any client can send it,
// with a new value at every attempt, and so escape the limit. Behind a
// reverse proxy, use the address the proxy itself appends (the last one in
// the header), and only when every request comes through that proxy. An IPv6
// client is counted by its /64, the block a single subscriber usually has.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
