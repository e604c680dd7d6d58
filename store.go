package scsession

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/alexedwards/scs/v2"
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
	if cs, ok := m.sessions.Store.(scs.CtxStore); ok {
		return cs.DeleteCtx(ctx, m.key(token))
	}
	return m.sessions.Store.Delete(m.key(token))
}
