package goredisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// addScript adds ARGV[2] to the sorted set KEYS[1] with score ARGV[1] (its
// expiry, Unix ms), drops the members that have expired (ARGV[3], now), and
// makes the set itself expire with its last member.
var addScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
return 1
`)

// membersScript drops the members of the sorted set KEYS[1] that have
// expired (ARGV[1], now in Unix ms) and returns the others.
var membersScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// listScript is membersScript followed by the GETs, for a single node only:
// it reads session keys (prefix ARGV[2]) it is not given as KEYS, which
// Redis Cluster refuses. It returns each member whose session Redis holds,
// followed by its data.
var listScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local out = {}
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	local data = redis.call('GET', ARGV[2] .. key)
	if data then
		out[#out + 1] = key
		out[#out + 1] = data
	end
end
return out
`)

// userKey is the index key of user: its name in braces, so that it is the
// key's hash tag.
func (s *Store) userKey(user string) string { return s.users + "{" + user + "}" }

// AddUserSession records that the session under key belongs to user until
// expiry, in the sorted set "scs:user:{<user>}", scored by expiry. It makes
// Store an scsession.UserIndexStore, used by scsession.WithUserID.
func (s *Store) AddUserSession(ctx context.Context, user, key string, expiry time.Time) error {
	return addScript.Run(ctx, s.client, []string{s.userKey(user)}, unixMilli(expiry), key, time.Now().UnixMilli()).Err()
}

// RemoveUserSession forgets that the session under key belongs to user.
func (s *Store) RemoveUserSession(ctx context.Context, user, key string) error {
	return s.client.ZRem(ctx, s.userKey(user), key).Err()
}

// UserSessions returns, by key, the data of the user's sessions that Redis
// holds, and forgets the entries that have expired. An entry whose session
// Redis does not hold stays until it expires or is removed: it may be a
// save still in flight. On a single node it is one round trip; on a
// cluster, one for the index and one per node that holds some of the
// sessions, sent at once.
func (s *Store) UserSessions(ctx context.Context, user string) (map[string][]byte, error) {
	now := time.Now().UnixMilli()
	if s.single {
		reply, err := listScript.Run(ctx, s.client, []string{s.userKey(user)}, now, s.prefix).StringSlice()
		if err != nil {
			return nil, err
		}
		out := make(map[string][]byte, len(reply)/2)
		for i := 0; i+1 < len(reply); i += 2 {
			out[reply[i]] = []byte(reply[i+1])
		}
		return out, nil
	}
	keys, err := membersScript.Run(ctx, s.client, []string{s.userKey(user)}, now).StringSlice()
	if err != nil || len(keys) == 0 {
		return map[string][]byte{}, err
	}
	pipe := s.client.Pipeline()
	gets := make([]*redis.StringCmd, len(keys))
	for i, key := range keys {
		gets[i] = pipe.Get(ctx, s.prefix+key)
	}
	pipe.Exec(ctx) // each GET's error is its own: redis.Nil for a session not held
	out := make(map[string][]byte, len(keys))
	for i, get := range gets {
		b, err := get.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[keys[i]] = b
	}
	return out, nil
}
