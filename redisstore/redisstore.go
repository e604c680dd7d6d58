// Package redisstore is scs's Redis store (github.com/alexedwards/scs/redisstore)
// with the one thing scsession needs to keep concurrent requests from losing
// each other's changes: an atomic compare-and-swap save, one round trip, done
// by a Lua script in Redis.
//
// It keeps scs's key layout ("scs:session:<token>") and stores the same bytes,
// so switching from scs/redisstore is a change of import path: existing
// sessions carry on.
package redisstore

import (
	"context"
	"errors"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/gomodule/redigo/redis"
)

// Store keeps sessions in Redis. Use it as an scs.SessionManager's Store.
type Store struct {
	scs    *scsredis.RedisStore
	pool   *redis.Pool
	prefix string
}

// New returns a Store on pool, with keys prefixed "scs:session:" as in scs.
// Give the pool connect, read and write timeouts (redis.DialConnectTimeout,
// DialReadTimeout, DialWriteTimeout) so that a stalled Redis fails requests
// rather than hanging them.
func New(pool *redis.Pool) *Store {
	return NewWithPrefix(pool, "scs:session:")
}

// NewWithPrefix is New with another key prefix.
func NewWithPrefix(pool *redis.Pool, prefix string) *Store {
	return &Store{scs: scsredis.NewWithPrefix(pool, prefix), pool: pool, prefix: prefix}
}

// Find returns the session stored under token, as scs's RedisStore does.
func (s *Store) Find(token string) ([]byte, bool, error) { return s.scs.Find(token) }

// Commit stores b under token until expiry, as scs's RedisStore does.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.scs.Commit(token, b, expiry)
}

// Delete removes the session stored under token.
func (s *Store) Delete(token string) error { return s.scs.Delete(token) }

// All returns every session, as scs's RedisStore does (with KEYS: slow on a
// large database).
func (s *Store) All() (map[string][]byte, error) { return s.scs.All() }

// swapScript sets KEYS[1] to ARGV[2], expiring at ARGV[3] (Unix ms), if it
// holds ARGV[1] (or, when ARGV[4] is "0", if it holds nothing). It answers
// {1} when it did, {0} when the key holds nothing, {0, value} otherwise.
var swapScript = redis.NewScript(1, `
local cur = redis.call('GET', KEYS[1])
local expected
if ARGV[4] == '1' then expected = ARGV[1] else expected = false end
if cur == expected then
	redis.call('SET', KEYS[1], ARGV[2])
	redis.call('PEXPIREAT', KEYS[1], ARGV[3])
	return {1}
end
if cur == false then return {0} end
return {0, cur}
`)

// CompareAndSwap stores b under token until expiry if Redis holds old for it
// (nil old: nothing), in one round trip. Otherwise it returns what Redis
// holds, nil for nothing. It makes Store an scsession.SwapStore.
func (s *Store) CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) ([]byte, bool, error) {
	conn, err := s.pool.GetContext(ctx)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	expect := "1"
	if old == nil {
		expect = "0"
	}
	reply, err := redis.Values(swapScript.Do(conn, s.prefix+token, old, b, expiry.UnixMilli(), expect))
	if err != nil {
		return nil, false, err
	}
	if len(reply) == 0 {
		return nil, false, errors.New("redisstore: empty reply from the compare-and-swap script")
	}
	swapped, err := redis.Int(reply[0], nil)
	if err != nil {
		return nil, false, err
	}
	var cur []byte
	if len(reply) > 1 {
		if cur, err = redis.Bytes(reply[1], nil); err != nil {
			return nil, false, err
		}
	}
	return cur, swapped == 1, nil
}
