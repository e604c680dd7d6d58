package scsession

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash/fnv"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// The store calls, as scs makes them: with the request's context when the
// store takes one, and under a hash of the token when HashTokenInStore is set.

func (m *Manager[T]) key(token string) string {
	if m.sessions.HashTokenInStore {
		sum := sha256.Sum256([]byte(token))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return token
}

// keyName is the name events give the session stored under key: shortHash
// of its token, which is where a HashTokenInStore key starts too. A key
// indexed before HashTokenInStore was turned on is the token itself, named
// by its first 6 bytes; it no longer opens a session, since lookups now hash
// the token.
func (m *Manager[T]) keyName(key string) string {
	if m.sessions.HashTokenInStore {
		if sum, err := base64.RawURLEncoding.DecodeString(key); err == nil && len(sum) == sha256.Size {
			return hex.EncodeToString(sum[:6])
		}
	}
	return shortHash(key)
}

func (m *Manager[T]) find(ctx context.Context, token string) ([]byte, bool, error) {
	if cs, ok := m.sessions.Store.(scs.CtxStore); ok {
		return cs.FindCtx(ctx, m.key(token))
	}
	return m.sessions.Store.Find(m.key(token))
}

func (m *Manager[T]) store(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if cs, ok := m.sessions.Store.(scs.CtxStore); ok {
		return cs.CommitCtx(ctx, m.key(token), b, expiry)
	}
	return m.sessions.Store.Commit(m.key(token), b, expiry)
}

func (m *Manager[T]) delete(ctx context.Context, token string) error {
	return m.deleteKey(ctx, m.key(token))
}

func (m *Manager[T]) deleteKey(ctx context.Context, key string) error {
	if st, ok := m.sessions.Store.(*memstore.MemStore); ok {
		mu := memLock(key) // or a save between its find and commit would undo the delete
		mu.Lock()
		defer mu.Unlock()
		return st.Delete(key)
	}
	if cs, ok := m.sessions.Store.(scs.CtxStore); ok {
		return cs.DeleteCtx(ctx, key)
	}
	return m.sessions.Store.Delete(key)
}

// A SwapStore is an scs store that can save a session only if it still holds
// what the request read, in one atomic step. With such a store, concurrent
// requests of one session never lose each other's changes (see the README's
// "Concurrent requests"). scs's memstore needs no such method: within one
// process the Manager makes its saves atomic itself. Other stores without it
// keep scs's last-write-wins.
type SwapStore interface {
	scs.Store
	// CompareAndSwap stores b under token until expiry if the store holds
	// old for token, where a nil old means nothing (or an expired session),
	// and a nil b deletes. Otherwise it changes nothing and returns what the
	// store holds, nil for nothing.
	CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) (current []byte, swapped bool, err error)
}

// memLocks make memstore's find-compare-commit atomic, striped by key; every
// write the Manager makes to a memstore holds its key's lock.
var memLocks [64]sync.Mutex

func memLock(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &memLocks[h.Sum32()%uint32(len(memLocks))]
}

// swap saves b if the store still holds old for token, as SwapStore
// describes; a store that cannot compare just saves.
func (m *Manager[T]) swap(ctx context.Context, token string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	key := m.key(token)
	switch st := m.sessions.Store.(type) {
	case SwapStore:
		return st.CompareAndSwap(ctx, key, old, b, expiry)
	case *memstore.MemStore:
		return swapMem(st, key, old, b, expiry)
	default:
		if b == nil {
			return nil, true, m.deleteKey(ctx, key)
		}
		return nil, true, m.store(ctx, token, b, expiry)
	}
}

// swapMem is SwapStore's CompareAndSwap for scs's memstore, atomic among
// the Managers of this process.
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
