package goredisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/scsession/scsession/internal/redislua"

	"github.com/redis/go-redis/v9"
)

// renewScript is redislua.Renew: a renewal in one round trip, on a single
// node only (its two keys are in different slots).
var renewScript = redis.NewScript(redislua.Renew)

// ErrTokenTaken is returned by CompareAndRenew when Redis holds a session
// under the brand-new token already; nothing was changed.
var ErrTokenTaken = errors.New("goredisstore: a session is stored under the new token already")

// CompareAndRenew stores b under token until expiry and deletes oldToken, if
// Redis holds old for oldToken. Otherwise it changes nothing and returns
// what Redis holds for oldToken, nil for nothing. It makes Store an
// scsession.RenewStore. On a *redis.Client it is one script, one round trip;
// on a cluster, whose slots put the two keys on different nodes, it is two
// steps (three if the old token no longer holds old), described in the
// package documentation.
func (s *Store) CompareAndRenew(ctx context.Context, oldToken string, old []byte, token string, b []byte, expiry time.Time) (cur []byte, renewed bool, err error) {
	if s.single {
		cur, renewed, err := swapReply(renewScript.Run(ctx, s.client, []string{s.prefix + oldToken, s.prefix + token}, old, b, unixMilli(expiry)))
		if err != nil && redis.HasErrorPrefix(err, redislua.TokenTaken) {
			err = ErrTokenTaken
		}
		return cur, renewed, err
	}
	return s.renewInSteps(ctx, oldToken, old, token, b, expiry)
}

// writeScript sets KEYS[1] to ARGV[1], expiring at ARGV[2] (Unix ms), if it
// holds nothing, and then leaves the mark ARGV[3] in KEYS[2] for a minute.
// It answers 1 when it wrote, 0 when the key was taken, and, to a client's
// retry of this very write (the mark is there), 1 if the key still holds
// ARGV[1] and 2 if it was deleted since (a revocation). KEYS[2] is
// "{KEYS[1]}:written": the key's own slot.
var writeScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) == ARGV[3] then
	if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
	return 2
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', 60000)
return 1
`)

// deleteScript deletes KEYS[1] if it holds ARGV[1], and then leaves the
// mark ARGV[2] in KEYS[2] for a minute, so that a client's retry of this
// very delete, finding the key gone and the mark there, is told it was done.
// KEYS[2] is "{KEYS[1]}:deleted": the key's own slot.
var deleteScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
	redis.call('DEL', KEYS[1])
	redis.call('SET', KEYS[2], ARGV[2], 'PX', 60000)
	return {1}
end
if cur == false and redis.call('GET', KEYS[2]) == ARGV[2] then return {1} end
if cur == false then return {0} end
return {0, cur}
`)

// deleteOnce is CompareAndSwap(token, old, nil) that a client may retry
// after a lost reply without being told that the key was gone already.
func (s *Store) deleteOnce(ctx context.Context, token string, old []byte, attempt string) ([]byte, bool, error) {
	key := s.prefix + token
	return swapReply(deleteScript.Run(ctx, s.client, []string{key, "{" + key + "}:deleted"}, old, attempt))
}

// renewInSteps is CompareAndRenew with one key per step: b saved under token
// if nothing is there, then oldToken deleted if it holds old, the save
// undone otherwise.
func (s *Store) renewInSteps(ctx context.Context, oldToken string, old []byte, token string, b []byte, expiry time.Time) ([]byte, bool, error) {
	attempt := rand.Text() // names this renewal's steps, so that a client's retry of one is known as done
	key := s.prefix + token
	written, err := writeScript.Run(ctx, s.client, []string{key, "{" + key + "}:written"}, b, unixMilli(expiry), attempt).Int()
	switch {
	case err != nil:
		return nil, false, err
	case written == 0:
		return nil, false, ErrTokenTaken
	case written == 2: // revoked since this very write, which the client retried: the login stays revoked
		return nil, false, s.DeleteCtx(context.WithoutCancel(ctx), oldToken)
	}
	// From here on the steps run to their end whatever becomes of the request:
	// stopping between them would leave a second session, stored and listed.
	ctx, cancelled := context.WithoutCancel(ctx), ctx.Err()
	if cancelled != nil {
		s.CompareAndSwap(ctx, token, b, nil, time.Time{}) // undo: the client will never hear of the new token
		return nil, false, cancelled
	}
	cur, ok, err := s.deleteOnce(ctx, oldToken, old, attempt)
	if err == nil && ok {
		return nil, true, nil
	}
	if _, undone, uerr := s.deleteOnce(ctx, token, b, attempt); uerr == nil && !undone {
		// The new token was revoked meanwhile (a listing found it): end the
		// old one too, so that the login stays revoked.
		cur = nil
		if err == nil {
			err = s.DeleteCtx(ctx, oldToken)
		}
	} else if err == nil {
		err = uerr
	}
	return cur, false, err
}
