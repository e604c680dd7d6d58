package goredisstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A user's index is the sorted set KEYS[1] of their sessions' keys, scored
// by expiry (Unix ms), and the hash KEYS[2] of when each was added; both
// have the user as hash tag, so each script touches one slot. Each script
// first drops the members that have expired (ARGV[3] or ARGV[1] is now).
const dropExpired = `
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. NOW)) do
	redis.call('ZREM', KEYS[1], m)
	redis.call('HDEL', KEYS[2], m)
end
`

// addScript adds ARGV[2] to the index with expiry ARGV[1], and makes both
// keys expire with the last member.
var addScript = redis.NewScript(`local NOW = ARGV[3]` + dropExpired + `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
	redis.call('PEXPIREAT', KEYS[1], last[2])
	redis.call('PEXPIREAT', KEYS[2], last[2])
end
return 1
`)

// removeScript removes ARGV[1] from the index, and on a single node from
// redisstore's (KEYS[3], KEYS[4]) too.
var removeScript = redis.NewScript(`
for i = 1, #KEYS, 2 do
	redis.call('ZREM', KEYS[i], ARGV[1])
	redis.call('HDEL', KEYS[i + 1], ARGV[1])
end
return 1
`)

// membersScript returns the index's members.
var membersScript = redis.NewScript(`local NOW = ARGV[1]` + dropExpired + `
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// dropStale removes the members ARGV[3...], whose sessions Redis does not
// hold, if they were added more than ARGV[2] ms before ARGV[1] (now): an
// entry younger than that may be a save still in flight.
const dropStale = `
local function stale(key)
	local added = tonumber(redis.call('HGET', KEYS[2], key))
	if added == nil or tonumber(ARGV[1]) - added > tonumber(ARGV[2]) then
		redis.call('ZREM', KEYS[1], key)
		redis.call('HDEL', KEYS[2], key)
	end
end
`

// staleScript is dropStale over the members ARGV[3...].
var staleScript = redis.NewScript(dropStale + `
for i = 3, #ARGV do stale(ARGV[i]) end
return 1
`)

// foldLegacy copies the entries of redisstore's index of the user (KEYS[3],
// KEYS[4]: "scs:user:<user>", "scs:user-added:<user>"), if given, into this
// store's, keeping the later expiry and this store's time added. It leaves
// redisstore's index as it is, for the instances of a rolling switch that
// still run redisstore; it expires by itself. It runs before dropExpired,
// and expireIndex after.
const foldLegacy = `
local folded = false
if KEYS[3] then
	local legacy = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
	for i = 1, #legacy, 2 do
		redis.call('ZADD', KEYS[1], 'GT', legacy[i + 1], legacy[i])
		local added = redis.call('HGET', KEYS[4], legacy[i])
		if added then redis.call('HSETNX', KEYS[2], legacy[i], added) end
		folded = true
	end
end
`

// expireIndex makes both keys of the index expire with its last member,
// once foldLegacy has added some.
const expireIndex = `
if folded then
	local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
	if last[2] then
		redis.call('PEXPIREAT', KEYS[1], last[2])
		redis.call('PEXPIREAT', KEYS[2], last[2])
	end
end
`

// listScript is membersScript followed by the GETs, for a single node only:
// it reads session keys (prefix ARGV[3]) it is not given as KEYS, which
// Redis Cluster refuses. It first folds redisstore's index into this
// store's (foldLegacy). It returns each member whose session Redis holds,
// followed by its data, and drops the stale others.
var listScript = redis.NewScript(`local NOW = ARGV[1]` + foldLegacy + dropExpired + expireIndex + dropStale + `
local out = {}
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	local data = redis.call('GET', ARGV[3] .. key)
	if data then
		out[#out + 1] = key
		out[#out + 1] = data
	else
		stale(key)
	end
end
return out
`)

// inFlight is how long an index entry whose session Redis does not hold is
// kept, as a save that may still be on its way.
const inFlight = time.Minute

// userKey is the index key of user: its name in braces, so that it is the
// key's hash tag.
func (s *Store) userKey(user string) string { return s.users + "{" + user + "}" }

// indexKeys are the two keys of user's index, in one slot.
func (s *Store) indexKeys(user string) []string {
	return []string{s.userKey(user), s.added + "{" + user + "}"}
}

// singleIndexKeys are, on a single node, user's index keys followed by
// those of redisstore's index of user ("scs:user:<user>",
// "scs:user-added:<user>"), which a store switched from redisstore finds
// there. Those are left out for a user in braces: the legacy key of
// "{bob}" is this store's index of "bob".
func (s *Store) singleIndexKeys(user string) []string {
	keys := s.indexKeys(user)
	if strings.HasPrefix(user, "{") && strings.HasSuffix(user, "}") {
		return keys
	}
	return append(keys, s.users+user, s.added+user)
}

// AddUserSession records that the session under key belongs to user until
// expiry, in the sorted set "scs:user:{<user>}", scored by expiry. It makes
// Store an scsession.UserIndexStore, used by scsession.WithUserID.
func (s *Store) AddUserSession(ctx context.Context, user, key string, expiry time.Time) error {
	return addScript.Run(ctx, s.client, s.indexKeys(user), unixMilli(expiry), key, time.Now().UnixMilli()).Err()
}

// RemoveUserSession forgets that the session under key belongs to user.
// On a single node it removes it from redisstore's index of user too.
func (s *Store) RemoveUserSession(ctx context.Context, user, key string) error {
	keys := s.indexKeys(user)
	if s.single {
		keys = s.singleIndexKeys(user)
	}
	return removeScript.Run(ctx, s.client, keys, key).Err()
}

// UserSessions returns, by key, the data of the user's sessions that Redis
// holds, and forgets the entries that have expired, and those whose session
// ended before its expiry (an idle timeout) if they were added more than a
// minute ago: a younger one may be a save still in flight. On a single node
// it is one round trip, which also copies the entries of redisstore's index
// of the user into this store's (see the package documentation); on a cluster, one for the index and one per node
// that holds some of the sessions, sent at once, and one more when some of
// them are gone.
func (s *Store) UserSessions(ctx context.Context, user string) (map[string][]byte, error) {
	now := time.Now().UnixMilli()
	if s.single {
		reply, err := listScript.Run(ctx, s.client, s.singleIndexKeys(user), now, inFlight.Milliseconds(), s.prefix).StringSlice()
		if err != nil {
			return nil, err
		}
		out := make(map[string][]byte, len(reply)/2)
		for i := 0; i+1 < len(reply); i += 2 {
			out[reply[i]] = []byte(reply[i+1])
		}
		return out, nil
	}
	keys, err := membersScript.Run(ctx, s.client, s.indexKeys(user), now).StringSlice()
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
	gone := []any{now, inFlight.Milliseconds()}
	for i, get := range gets {
		b, err := get.Bytes()
		if errors.Is(err, redis.Nil) {
			gone = append(gone, keys[i])
			continue
		}
		if err != nil {
			return nil, err
		}
		out[keys[i]] = b
	}
	if len(gone) > 2 {
		if err := staleScript.Run(ctx, s.client, s.indexKeys(user), gone...).Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
