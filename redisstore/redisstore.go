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
	"strings"
	"time"

	"github.com/scsession/scsession/internal/redislua"

	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/gomodule/redigo/redis"
)

// Store keeps sessions in Redis. Use it as an scs.SessionManager's Store.
type Store struct {
	scs    *scsredis.RedisStore
	pool   *redis.Pool
	prefix string
	users  string // prefix of the per-user index keys
	added  string // prefix of the hashes of when each index entry was added
}

// New returns a Store on pool, with keys prefixed "scs:session:" as in scs.
// Give the pool connect, read and write timeouts (redis.DialConnectTimeout,
// DialReadTimeout, DialWriteTimeout) so that a stalled Redis fails requests
// rather than hanging them.
func New(pool *redis.Pool) *Store {
	return NewWithPrefix(pool, "scs:session:")
}

// NewWithPrefix is New with another key prefix. The per-user index of
// scsession.WithUserID lives beside the sessions, in sorted sets under the
// prefix with its "session:" replaced by "user:" ("scs:user:<user>").
func NewWithPrefix(pool *redis.Pool, prefix string) *Store {
	base := strings.TrimSuffix(prefix, "session:")
	return &Store{scs: scsredis.NewWithPrefix(pool, prefix), pool: pool, prefix: prefix, users: base + "user:", added: base + "user-added:"}
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

// swapScript is redislua.Swap: SwapStore's CompareAndSwap in one round trip.
var swapScript = redis.NewScript(1, redislua.Swap)

// CompareAndSwap stores b under token until expiry (a nil b deletes) if
// Redis holds old for it (nil old: nothing), in one round trip. Otherwise
// it returns what Redis holds, nil for nothing. It makes Store an
// scsession.SwapStore.
func (s *Store) CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) (cur []byte, swapped bool, err error) {
	expect, del := "1", "0"
	if old == nil {
		expect = "0"
	}
	if b == nil {
		del = "1"
	}
	err = s.do(ctx, func(c redis.Conn) error {
		reply, err := redis.Values(swapScript.Do(c, s.prefix+token, old, b, expiry.UnixMilli(), expect, del))
		cur, swapped, err = swapReply(reply, err)
		return err
	})
	return cur, swapped, err
}

// renewScript is redislua.Renew: a renewal in one round trip.
var renewScript = redis.NewScript(2, redislua.Renew)

// CompareAndRenew stores b under token until expiry and deletes oldToken, if
// Redis holds old for oldToken, in one round trip: a login (RenewToken) costs
// one round trip less than two compare-and-swaps. Otherwise it changes
// nothing and returns what Redis holds for oldToken, nil for nothing. It
// makes Store an scsession.RenewStore.
func (s *Store) CompareAndRenew(ctx context.Context, oldToken string, old []byte, token string, b []byte, expiry time.Time) (cur []byte, renewed bool, err error) {
	err = s.do(ctx, func(c redis.Conn) error {
		reply, err := redis.Values(renewScript.Do(c, s.prefix+oldToken, s.prefix+token, old, b, expiry.UnixMilli()))
		cur, renewed, err = swapReply(reply, err)
		return err
	})
	return cur, renewed, err
}

// swapReply reads the {1}, {0} or {0, value} answer of a script.
func swapReply(reply []any, err error) (cur []byte, swapped bool, _ error) {
	if err != nil {
		return nil, false, err
	}
	if len(reply) == 0 {
		return nil, false, errors.New("redisstore: empty reply from a compare-and-swap script")
	}
	n, err := redis.Int(reply[0], nil)
	if err != nil {
		return nil, false, err
	}
	if len(reply) > 1 {
		cur, err = redis.Bytes(reply[1], nil)
	}
	return cur, n == 1, err
}

// A user's index is the sorted set KEYS[1] of their sessions' keys, scored
// by expiry (Unix ms), and the hash KEYS[2] of when each was added. Each
// script drops the members that have expired (ARGV[3] or ARGV[1] is now).

// addScript adds ARGV[2] to the index with expiry ARGV[1], and makes both
// keys expire with the last member.
var addScript = redis.NewScript(2, `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])) do
	redis.call('ZREM', KEYS[1], m)
	redis.call('HDEL', KEYS[2], m)
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1
`)

// removeScript removes ARGV[1] from the index.
var removeScript = redis.NewScript(2, `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`)

// listScript returns the members whose session (prefix ARGV[2]) Redis
// holds, each followed by its data. A member whose session Redis does not
// hold may be a save still in flight: it stays if it was added less than
// ARGV[3] ms ago, and goes otherwise (its session ended before its expiry:
// an idle timeout, a revocation elsewhere).
var listScript = redis.NewScript(2, `
local now = tonumber(ARGV[1])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])) do
	redis.call('ZREM', KEYS[1], m)
	redis.call('HDEL', KEYS[2], m)
end
local out = {}
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	local data = redis.call('GET', ARGV[2] .. key)
	if data then
		out[#out + 1] = key
		out[#out + 1] = data
	else
		local added = tonumber(redis.call('HGET', KEYS[2], key))
		if added == nil or now - added > tonumber(ARGV[3]) then
			redis.call('ZREM', KEYS[1], key)
			redis.call('HDEL', KEYS[2], key)
		end
	end
end
return out
`)

// inFlight is how long an index entry whose session Redis does not hold is
// kept, as a save that may still be on its way.
const inFlight = time.Minute

// AddUserSession records that the session under key belongs to user, in
// the sorted set "scs:user:<user>", scored by expiry (and when it was added,
// in the hash "scs:user-added:<user>"). It makes Store an
// scsession.UserIndexStore, used by scsession.WithUserID.
func (s *Store) AddUserSession(ctx context.Context, user, key string, expiry time.Time) error {
	return s.do(ctx, func(c redis.Conn) error {
		_, err := addScript.Do(c, s.users+user, s.added+user, expiry.UnixMilli(), key, time.Now().UnixMilli())
		return err
	})
}

// RemoveUserSession forgets that the session under key belongs to user.
func (s *Store) RemoveUserSession(ctx context.Context, user, key string) error {
	return s.do(ctx, func(c redis.Conn) error {
		_, err := removeScript.Do(c, s.users+user, s.added+user, key)
		return err
	})
}

// UserSessions returns, by key, the data of the user's sessions that Redis
// holds, in one round trip, and forgets the entries that have expired, and
// those whose session ended before its expiry (an idle timeout) and that
// were added more than a minute ago (younger ones may be a save still in
// flight). The script reads
// session keys it is not given as KEYS, which Redis Cluster does not allow:
// use a single Redis (with replicas if need be).
func (s *Store) UserSessions(ctx context.Context, user string) (map[string][]byte, error) {
	var out map[string][]byte
	err := s.do(ctx, func(c redis.Conn) error {
		reply, err := redis.ByteSlices(listScript.Do(c, s.users+user, s.added+user, time.Now().UnixMilli(), s.prefix, inFlight.Milliseconds()))
		if err != nil {
			return err
		}
		out = make(map[string][]byte, len(reply)/2)
		for i := 0; i+1 < len(reply); i += 2 {
			out[string(reply[i])] = reply[i+1]
		}
		return nil
	})
	return out, err
}

func (s *Store) do(ctx context.Context, fn func(redis.Conn) error) error {
	conn, err := s.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}
