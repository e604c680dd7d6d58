package goredisstore

import (
	"bytes"
	"context"
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

// renewInSteps is CompareAndRenew with one key per step: b saved under token
// if nothing is there, then oldToken deleted if it holds old, the save
// undone otherwise.
func (s *Store) renewInSteps(ctx context.Context, oldToken string, old []byte, token string, b []byte, expiry time.Time) ([]byte, bool, error) {
	err := s.client.Do(ctx, "SET", s.prefix+token, b, "PXAT", unixMilli(expiry), "NX").Err()
	if errors.Is(err, redis.Nil) { // taken, unless by this very save, retried by the client
		held, gerr := s.client.Get(ctx, s.prefix+token).Bytes()
		switch {
		case gerr != nil:
			return nil, false, gerr
		case !bytes.Equal(held, b):
			return nil, false, ErrTokenTaken
		}
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	// From here on the steps run to their end whatever becomes of the request:
	// stopping between them would leave a second session, stored and listed.
	ctx, cancelled := context.WithoutCancel(ctx), ctx.Err()
	if cancelled != nil {
		s.CompareAndSwap(ctx, token, b, nil, time.Time{}) // undo: the client will never hear of the new token
		return nil, false, cancelled
	}
	cur, ok, err := s.CompareAndSwap(ctx, oldToken, old, nil, time.Time{})
	if err == nil && ok {
		return nil, true, nil
	}
	if _, undone, uerr := s.CompareAndSwap(ctx, token, b, nil, time.Time{}); uerr == nil && !undone {
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
