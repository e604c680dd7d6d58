// Package goredisstore keeps scs sessions in Redis through go-redis
// (github.com/redis/go-redis/v9): one Redis, a Sentinel-managed primary or a
// Redis Cluster, whatever redis.UniversalClient it is given. It has what
// scsession needs to keep its guarantees: an atomic compare-and-swap save and
// renewal (scsession.SwapStore, scsession.RenewStore), the index of each
// user's sessions (scsession.UserIndexStore), and the request's context on
// every call (scs.CtxStore). With the client option ContextTimeoutEnabled, a
// request's deadline bounds its wait on Redis; a cancellation without a
// deadline is seen between commands only. It needs Redis 6.2 or later (SET
// ... PXAT).
//
// # Key layout
//
// Every command and every Lua script touches keys of one slot, so the store
// works on Redis Cluster as it does on one node:
//
//	scs:session:<token>   a string: the session's bytes, expiring with it
//	scs:user:{<user>}     a sorted set: the store keys of the user's sessions,
//	                      each scored by its expiry (Unix ms); the set
//	                      expires with its last member
//
// Sessions keep scs's layout (that of scs's redisstore and goredisstore, and
// of scsession/redisstore), so switching stores keeps existing sessions. The
// braces make the user's name the hash tag of the index key: the key hashes
// to the same slot whatever the prefix. Do not put braces in a prefix, or
// every key shares one slot.
//
// # The index of a user's sessions
//
// AddUserSession adds a member to the user's set and drops the members that
// have expired, RemoveUserSession removes one, in one script or command on
// the user's key alone. UserSessions costs O(that user's sessions), never a
// SCAN or KEYS: one script on the user's key drops what expired and returns
// the members, then one pipeline GETs their sessions, which a ClusterClient
// splits into one round trip per node that holds some. On a single node
// (a *redis.Client) the listing is one script that does both, in one round
// trip.
//
// # Switching from redisstore
//
// scsession/redisstore keeps the same session keys and bytes, so an app that
// switches keeps its sessions; it keeps its index of a user's sessions in
// "scs:user:<user>" and "scs:user-added:<user>", without the braces. On a
// *redis.Client (one node or a Sentinel-managed primary, where redisstore
// can have run) UserSessions reads that index too, in the same script and
// round trip, and copies its entries into this store's; RemoveUserSession
// removes an entry from both. So the sessions logged in under redisstore
// are listed and revoked (RevokeUser, RevokeOthers) at once, also while a
// rolling switch has instances on both stores: redisstore's index is left
// for them, and expires with its last session. The exception is a user ID
// in braces, "{bob}": its redisstore key is this store's index of "bob",
// and is not read, so such a user's sessions from before the switch are
// listed from their next login. A ClusterClient reads no redisstore index:
// redisstore never ran on a cluster. Switching back to redisstore loses the
// index of the logins since, as redisstore reads only its own.
//
// # Renewal (a login's RenewToken)
//
// CompareAndRenew moves a session from one key to another, and the two keys
// are in different slots. On a *redis.Client it is one script, one round
// trip. On any other client (a ClusterClient, a Ring) it takes two or three
// steps, each a script on one slot: write the new key if nothing is there,
// then delete the old key if it still holds what the request read; if it
// does not, the first step is undone (deleted if it still holds what it
// wrote). Each step leaves a mark for a minute in its key's own slot
// ("{<key>}:written", "{<key>}:deleted"), named for the renewal, so that
// go-redis's retry of a step whose answer was lost is told what it did.
// Between the steps both keys hold the session, but no client knows the new
// token yet: its cookie goes out with the response. If the new key was
// revoked meanwhile (a listing found it), the old one is deleted too, so the
// login stays revoked. A login then costs 3 round trips on a cluster (the
// read, the write, the compare-and-delete), 2 on one node.
package goredisstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/scsession/scsession/internal/redislua"

	"github.com/redis/go-redis/v9"
)

// Store keeps sessions in Redis through a go-redis client. Use it as an
// scs.SessionManager's Store.
type Store struct {
	client redis.UniversalClient
	prefix string // of the session keys
	users  string // of the per-user index keys
	added  string // of the hashes of when each index entry was added
	single bool   // one node: a script may touch keys of several slots
}

// New returns a Store on client, with keys prefixed "scs:session:" as in
// scs. Give the client dial, read and write timeouts (DialTimeout,
// ReadTimeout, WriteTimeout) so that a stalled Redis fails requests rather
// than hanging them, and ContextTimeoutEnabled so that a request's deadline
// does too. On a cluster, leave ReadOnly, RouteByLatency and RouteRandomly
// off: a replica that lags could show a session that has ended.
func New(client redis.UniversalClient) *Store {
	return NewWithPrefix(client, "scs:session:")
}

// NewWithPrefix is New with another key prefix. The per-user index of
// scsession.WithUserID lives beside the sessions, in sorted sets under the
// prefix with its "session:" replaced by "user:" ("scs:user:{<user>}").
func NewWithPrefix(client redis.UniversalClient, prefix string) *Store {
	_, single := client.(*redis.Client)
	if cc, ok := client.(*redis.ClusterClient); ok {
		cc.AddHook(reloadOnConnError{cc})
	}
	return &Store{
		client: client,
		prefix: prefix,
		users:  strings.TrimSuffix(prefix, "session:") + "user:",
		added:  strings.TrimSuffix(prefix, "session:") + "user-added:",
		single: single,
	}
}

// Find returns the session stored under token.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit stores b under token until expiry, overwriting what was there.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete removes the session stored under token, if any.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// FindCtx is Find with the request's context.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, err := s.client.Get(ctx, s.prefix+token).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// CommitCtx is Commit with the request's context: one SET ... PXAT.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return s.client.Do(ctx, "SET", s.prefix+token, b, "PXAT", unixMilli(expiry)).Err()
}

// DeleteCtx is Delete with the request's context.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	return s.client.Del(ctx, s.prefix+token).Err()
}

// unixMilli is expiry for PXAT and PEXPIREAT, which refuse a time not after
// 1970; a time in the past (and so that) expires the key at once.
func unixMilli(expiry time.Time) int64 {
	return max(expiry.UnixMilli(), 1)
}

// swapScript is redislua.Swap: SwapStore's CompareAndSwap on one key.
var swapScript = redis.NewScript(redislua.Swap)

// CompareAndSwap stores b under token until expiry (a nil b deletes) if
// Redis holds old for it (nil old: nothing), in one round trip. Otherwise
// it changes nothing and returns what Redis holds, nil for nothing. It
// makes Store an scsession.SwapStore.
func (s *Store) CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) (cur []byte, swapped bool, err error) {
	expect, del := "1", "0"
	if old == nil {
		expect = "0"
	}
	if b == nil {
		del = "1"
	}
	return swapReply(swapScript.Run(ctx, s.client, []string{s.prefix + token}, old, b, unixMilli(expiry), expect, del))
}

// swapReply reads the {1}, {0} or {0, value} answer of a script.
func swapReply(cmd *redis.Cmd) (cur []byte, swapped bool, _ error) {
	reply, err := cmd.Slice()
	if err != nil {
		return nil, false, err
	}
	if len(reply) == 0 {
		return nil, false, errors.New("goredisstore: empty reply from a compare-and-swap script")
	}
	n, ok := reply[0].(int64)
	if !ok {
		return nil, false, errors.New("goredisstore: unexpected reply from a compare-and-swap script")
	}
	if len(reply) > 1 {
		v, ok := reply[1].(string)
		if !ok {
			return nil, false, errors.New("goredisstore: unexpected reply from a compare-and-swap script")
		}
		cur = []byte(v)
	}
	return cur, n == 1, nil
}
