package scsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// A SwapStore is an scs store that can save a session only if it still holds
// what the request read, in one atomic step. With such a store, concurrent
// requests of one session never lose each other's changes and never bring an
// ended session back (see the README's "Concurrent requests"). scs's memstore
// needs no such method: within one process the Manager makes its saves atomic
// itself. Other stores keep scs's last-write-wins, and New logs a warning.
// storetest.Run checks that a store keeps this contract.
type SwapStore interface {
	scs.Store
	// CompareAndSwap stores b under token until expiry if the store holds
	// old for token, where a nil old means nothing (or an expired session),
	// and a nil b deletes. Otherwise it changes nothing and returns what the
	// store holds, nil for nothing.
	CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) (current []byte, swapped bool, err error)
}

// A RenewStore is a SwapStore that can also move a session to a new token in
// one atomic step, which saves a round trip at every login (RenewToken). The
// Manager uses it when the store has it, and two compare-and-swaps otherwise.
type RenewStore interface {
	SwapStore
	// CompareAndRenew stores b under token until expiry and deletes
	// oldToken, if the store holds old for oldToken (old is never nil).
	// Otherwise it changes nothing and returns what the store holds for
	// oldToken, nil for nothing. token is brand new: if the store holds a
	// session under it already, CompareAndRenew changes nothing and returns
	// an error.
	CompareAndRenew(ctx context.Context, oldToken string, old []byte, token string, b []byte, expiry time.Time) (current []byte, renewed bool, err error)
}

// A UserIndexStore is a store that also keeps which sessions each user has,
// so that they can be listed and ended without scanning the store.
// scsession's redisstore, goredisstore and pgxstore are ones; for scs's memstore the Manager keeps the index
// in memory itself. Keys are store keys: tokens, or their hashes with
// HashTokenInStore. A UserIndexStore must also be a SwapStore: without
// compare-and-swap, a request in flight could save a revoked session back.
type UserIndexStore interface {
	// AddUserSession records that the session under key belongs to user
	// until expiry at the latest.
	AddUserSession(ctx context.Context, user, key string, expiry time.Time) error
	// RemoveUserSession forgets that the session under key belongs to user.
	RemoveUserSession(ctx context.Context, user, key string) error
	// UserSessions returns, by key, the stored data of the user's sessions
	// that the store holds, and forgets the entries that have expired. An
	// entry whose session the store does not hold stays until it expires or
	// is removed: its session may be a save still in flight, which a
	// revocation listing at that moment must not leave unindexed for good.
	UserSessions(ctx context.Context, user string) (map[string][]byte, error)
}

// backend is what the Manager asks of its store, under store keys. New
// chooses one from what the store can do, once: the calls never ask again.
type backend interface {
	// find returns what the store holds under key, nil for nothing.
	find(ctx context.Context, key string) ([]byte, error)
	// delete removes what the store holds under key, if anything.
	delete(ctx context.Context, key string) error
	// swap is SwapStore's CompareAndSwap.
	swap(ctx context.Context, key string, old, b []byte, expiry time.Time) (current []byte, swapped bool, err error)
	// renew is RenewStore's CompareAndRenew.
	renew(ctx context.Context, oldKey string, old []byte, key string, b []byte, expiry time.Time) (current []byte, renewed bool, err error)
	// atomic reports whether swap and renew compare; false: last write wins.
	atomic() bool
}

// backendFor returns the backend for store, and its user index (nil if it
// has none, or if indexed is false: memstore's is then not even made). It
// panics for a store whose index could not be trusted.
func backendFor(store scs.Store, indexed bool) (backend, UserIndexStore) {
	ctxStore := withCtx(store)
	switch st := store.(type) {
	case *memstore.MemStore:
		if !indexed {
			return memBackend{st}, nil
		}
		return memBackend{st}, memIndexOf(st)
	case SwapStore:
		idx, _ := store.(UserIndexStore)
		if rs, ok := store.(RenewStore); ok {
			return renewBackend{swapBackend{ctxStore, st}, rs}, idx
		}
		return swapBackend{ctxStore, st}, idx
	case UserIndexStore:
		panic(fmt.Sprintf("scsession: %T keeps a user index but has no CompareAndSwap, so a request in flight could save a revoked session back; implement scsession.SwapStore on it", store))
	}
	return lwwBackend{ctxStore}, nil
}

// sameStore reports whether a and b are the same store, as far as can be
// told: a store of a type that cannot be compared counts as the same.
func sameStore(a, b scs.Store) bool {
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) {
		return false
	}
	return ta == nil || !ta.Comparable() || a == b
}

// withCtx returns store as a CtxStore: itself, or one that drops the context.
func withCtx(store scs.Store) scs.CtxStore {
	if cs, ok := store.(scs.CtxStore); ok {
		return cs
	}
	return noCtx{store}
}

type noCtx struct{ scs.Store }

func (s noCtx) FindCtx(_ context.Context, key string) ([]byte, bool, error) { return s.Find(key) }
func (s noCtx) DeleteCtx(_ context.Context, key string) error               { return s.Delete(key) }
func (s noCtx) CommitCtx(_ context.Context, key string, b []byte, expiry time.Time) error {
	return s.Commit(key, b, expiry)
}

func findIn(ctx context.Context, st scs.CtxStore, key string) ([]byte, error) {
	b, found, err := st.FindCtx(ctx, key)
	if !found || err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{} // found, if empty: not "nothing"
	}
	return b, nil
}

// lwwBackend is a plain scs store: every write wins.
type lwwBackend struct{ st scs.CtxStore }

func (l lwwBackend) atomic() bool { return false }

func (l lwwBackend) find(ctx context.Context, key string) ([]byte, error) {
	return findIn(ctx, l.st, key)
}

func (l lwwBackend) delete(ctx context.Context, key string) error { return l.st.DeleteCtx(ctx, key) }

func (l lwwBackend) swap(ctx context.Context, key string, _, b []byte, expiry time.Time) ([]byte, bool, error) {
	if b == nil {
		return nil, true, l.st.DeleteCtx(ctx, key)
	}
	return nil, true, l.st.CommitCtx(ctx, key, b, expiry)
}

func (l lwwBackend) renew(ctx context.Context, oldKey string, _ []byte, key string, b []byte, expiry time.Time) ([]byte, bool, error) {
	if err := l.st.CommitCtx(ctx, key, b, expiry); err != nil {
		return nil, false, err
	}
	return nil, true, l.st.DeleteCtx(ctx, oldKey)
}

// swapBackend is a SwapStore: a renewal is two compare-and-swaps, the second
// undone if it fails.
type swapBackend struct {
	st  scs.CtxStore
	cas SwapStore
}

func (s swapBackend) atomic() bool { return true }

func (s swapBackend) find(ctx context.Context, key string) ([]byte, error) {
	return findIn(ctx, s.st, key)
}

func (s swapBackend) delete(ctx context.Context, key string) error { return s.st.DeleteCtx(ctx, key) }

func (s swapBackend) swap(ctx context.Context, key string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	return s.cas.CompareAndSwap(ctx, key, old, b, expiry)
}

// renew saves b under key, then retires oldKey. If oldKey no longer holds
// old, the save is undone and renew reports what oldKey holds, as an atomic
// renewal would. If the new key was revoked in between (a listing found it),
// the old one is deleted too, and renew reports nothing stored: the login
// stays revoked. A retried retirement whose first try deleted oldKey cannot
// be told from another request's logout, and ends the session: a store
// whose client retries should implement CompareAndRenew (goredisstore's
// renewal in steps marks what it did, for that).
func (s swapBackend) renew(ctx context.Context, oldKey string, old []byte, key string, b []byte, expiry time.Time) ([]byte, bool, error) {
	// A client that retried the save after a lost answer finds its own bytes.
	if cur, ok, err := s.swap(ctx, key, nil, b, expiry); err != nil || !ok && !bytes.Equal(cur, b) {
		if err == nil {
			err = errTokenTaken
		}
		return nil, false, err
	}
	cur, ok, err := s.swap(ctx, oldKey, old, nil, time.Time{})
	if err == nil && ok {
		return nil, true, nil
	}
	if _, undone, uerr := s.swap(ctx, key, b, nil, time.Time{}); uerr == nil && !undone {
		cur = nil // revoked meanwhile: end the old token too
		if err == nil {
			err = s.st.DeleteCtx(ctx, oldKey)
		}
	} else if err == nil {
		err = uerr
	}
	return cur, false, err
}

var errTokenTaken = errors.New("scsession: the store already holds a session under a brand-new token")

// renewBackend is a RenewStore.
type renewBackend struct {
	swapBackend
	rs RenewStore
}

func (r renewBackend) renew(ctx context.Context, oldKey string, old []byte, key string, b []byte, expiry time.Time) ([]byte, bool, error) {
	return r.rs.CompareAndRenew(ctx, oldKey, old, key, b, expiry)
}
