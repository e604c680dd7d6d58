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

// A limiter counts login attempts per key and locks a key that has max of
// them within window, for lockout. An attempt is counted before its
// password is checked (attempt), in the same step as the check of the lock,
// so that guesses sent at once cannot all pass a check made before any of
// them was counted; a right password then takes its attempt back (refund,
// or forget for an account). It holds at most size keys: expired entries go
// first, then, when an attacker fills it, the unlocked one with the fewest
// attempts, so that a sprayed key, which cost one failure, goes before an
// account someone has been guessing; a lock is never evicted. A limiter full
// of locks leaves a new key untracked (the other limit still counts it).
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
	n           int       // attempts counted, those still being checked included
	since       time.Time // the first attempt counted
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

// attempt counts an attempt for key, before its password is checked, and
// reports whether it may go ahead; if not, key is locked for the duration
// returned.
func (l *limiter) attempt(key string) (ok bool, locked time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entry(key, now)
	switch {
	case e == nil:
		return true, 0 // untracked: the limiter is full of locks
	case now.Before(e.lockedUntil):
		return false, roundUp(e.lockedUntil.Sub(now))
	case e.n >= l.max:
		l.lock(e, now)
		return false, l.lockout
	}
	e.n++
	return true, 0
}

// failed reports, after a wrong password, whether key's attempts have now
// reached the limit: then it is locked, for the duration returned.
func (l *limiter) failed(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entries[key]
	switch {
	case e == nil:
		return 0
	case now.Before(e.lockedUntil):
		return roundUp(e.lockedUntil.Sub(now))
	case e.n >= l.max:
		l.lock(e, now)
		return l.lockout
	}
	return 0
}

// lock locks e for lockout; its count starts again once the lock ends.
func (l *limiter) lock(e *failures, now time.Time) {
	e.n, e.since, e.lockedUntil = 0, now.Add(l.lockout), now.Add(l.lockout)
}

// refund takes back an attempt of key whose password was right: a client
// address's successful logins do not count against it.
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[key]; e != nil && e.n > 0 {
		e.n--
	}
}

// forget drops key's attempts, after a successful login to its account.
func (l *limiter) forget(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// entry returns key's live entry, or a new one, or nil when there is no room
// for one. l.mu is held.
func (l *limiter) entry(key string, now time.Time) *failures {
	e := l.entries[key]
	if e != nil && now.Before(e.expires(l.window)) {
		return e
	}
	if e == nil && !l.makeRoom(now) {
		return nil
	}
	e = &failures{since: now} // new, or an old entry starting again
	l.entries[key] = e
	return e
}

// sample is how many entries makeRoom looks at to choose one to evict.
const sample = 64

// makeRoom sweeps expired entries, at most once a minute, and reports
// whether there is room for a new one, evicting one if the limiter is full:
// of a sample of its entries (map order is random), an expired one, or the
// unlocked one with the fewest attempts, the oldest among equals. A sweep is
// O(size) once a minute; an eviction O(sample). l.mu is held.
func (l *limiter) makeRoom(now time.Time) bool {
	if now.Sub(l.lastSweep) >= time.Minute {
		l.lastSweep = now
		for k, e := range l.entries {
			if !now.Before(e.expires(l.window)) {
				delete(l.entries, k)
			}
		}
	}
	if len(l.entries) < l.size {
		return true
	}
	victim, seen := "", 0
	var v *failures
	for k, e := range l.entries {
		if !now.Before(e.expires(l.window)) {
			victim = k
			break
		}
		if !now.Before(e.lockedUntil) && (v == nil || e.n < v.n || e.n == v.n && e.since.Before(v.since)) {
			victim, v = k, e
		}
		if seen++; seen == sample {
			break
		}
	}
	if victim == "" {
		return false // all locked: they stay
	}
	delete(l.entries, victim)
	return true
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
