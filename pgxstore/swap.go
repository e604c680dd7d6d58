package pgxstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Each compare-and-set is one statement, run in READ COMMITTED, PostgreSQL's
// default. Its write (an UPDATE, a DELETE, an INSERT ... ON CONFLICT DO
// UPDATE ... WHERE) checks its condition on the newest version of the row,
// once it holds the row's lock, so that of concurrent swaps from one value
// exactly one wins. The statement also returns what the row holds, when the
// write did not happen, from its snapshot, taken when it began: if another
// swap committed in between, the snapshot may still show the value this one
// expected (or, for an insert, nothing). The write's refusal shows that the
// snapshot is out of date, since only a newer row can have refused it, and
// the statement is run again on a new snapshot.
//
// Each returns (swapped, current): current is NULL when the write happened,
// so that a successful save does not send the old data back. A renewal
// also says whether its new token is taken.
const (
	// swapInsert: $1 token, $2 data, $3 expiry; old is nil: nothing stored,
	// or an expired session, whose row it overwrites.
	swapInsert = `WITH put AS (
	INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
	ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry
	WHERE sessions.expiry <= now()
	RETURNING 1
)
SELECT EXISTS (SELECT FROM put),
	(SELECT data FROM sessions WHERE token = $1 AND expiry > now() AND NOT EXISTS (SELECT FROM put))`

	// swapUpdate: $1 token, $2 old, $3 data, $4 expiry.
	swapUpdate = `WITH put AS (
	UPDATE sessions SET data = $3, expiry = $4 WHERE token = $1 AND data = $2 AND expiry > now()
	RETURNING 1
)
SELECT EXISTS (SELECT FROM put),
	(SELECT data FROM sessions WHERE token = $1 AND expiry > now() AND NOT EXISTS (SELECT FROM put))`

	// swapDelete: $1 token, $2 old.
	swapDelete = `WITH gone AS (
	DELETE FROM sessions WHERE token = $1 AND data = $2 AND expiry > now()
	RETURNING 1
)
SELECT EXISTS (SELECT FROM gone),
	(SELECT data FROM sessions WHERE token = $1 AND expiry > now() AND NOT EXISTS (SELECT FROM gone))`

	// swapNothing: $1 token; old and b are nil: it "swaps" if nothing is
	// stored, and changes nothing either way.
	swapNothing = `SELECT data IS NULL, data FROM (SELECT) one
	LEFT JOIN sessions ON token = $1 AND expiry > now()`

	// renew: $1 old token, $2 old, $3 new token, $4 data, $5 expiry. It
	// changes nothing if a session is stored under the new token already
	// (taken, the third column). The INSERT has no ON CONFLICT: a row there
	// all the same (an expired one, or one saved since the snapshot) is a
	// unique violation, which undoes the DELETE with the whole statement.
	renew = `WITH taken AS (
	SELECT EXISTS (SELECT FROM sessions WHERE token = $3 AND expiry > now()) AS yes
), gone AS (
	DELETE FROM sessions WHERE token = $1 AND data = $2 AND expiry > now() AND NOT (SELECT yes FROM taken)
	RETURNING 1
), put AS (
	INSERT INTO sessions (token, data, expiry)
	SELECT $3::text, $4::bytea, $5::timestamptz WHERE EXISTS (SELECT FROM gone)
	RETURNING 1
)
SELECT EXISTS (SELECT FROM put),
	(SELECT data FROM sessions WHERE token = $1 AND expiry > now() AND NOT EXISTS (SELECT FROM gone)),
	(SELECT yes FROM taken)`

	// freeExpired: $1 token; an expired row under a renewal's new token is
	// nothing, and must not make the token taken.
	freeExpired = `DELETE FROM sessions WHERE token = $1 AND expiry <= now()`
)

// maxAttempts bounds how often a compare-and-set is run again on a newer
// snapshot. Each rerun means another swap of the row committed meanwhile.
const maxAttempts = 100

// ErrTokenTaken is returned by CompareAndRenew when the database holds a
// session under the brand-new token already; nothing was changed.
var ErrTokenTaken = errors.New("pgxstore: a session is stored under the new token already")

// CompareAndSwap stores b under token until expiry (a nil b deletes) if the
// database holds old for it (nil old: nothing, or an expired session), in
// one statement. Otherwise it changes nothing and returns what the database
// holds, nil for nothing. It makes Store an scsession.SwapStore.
func (s *Store) CompareAndSwap(ctx context.Context, token string, old, b []byte, expiry time.Time) (cur []byte, swapped bool, err error) {
	var sql string
	var args []any
	switch {
	case old == nil && b == nil:
		sql, args = swapNothing, []any{token}
	case old == nil:
		sql, args = swapInsert, []any{token, b, expiry}
	case b == nil:
		sql, args = swapDelete, []any{token, old}
	default:
		sql, args = swapUpdate, []any{token, old, b, expiry}
	}
	cur, swapped, _, err = s.compareAndSet(ctx, old, sql, args...)
	if err != nil {
		err = fmt.Errorf("pgxstore: compare-and-swap: %w", err)
	}
	return cur, swapped, err
}

// CompareAndRenew stores b under token until expiry and deletes oldToken, if
// the database holds old for oldToken, in one statement. Otherwise it
// changes nothing and returns what the database holds for oldToken, nil for
// nothing. It makes Store an scsession.RenewStore.
func (s *Store) CompareAndRenew(ctx context.Context, oldToken string, old []byte, token string, b []byte, expiry time.Time) (cur []byte, renewed bool, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var taken bool
	for range 2 {
		cur, renewed, taken, err = s.compareAndSet(ctx, old, renew, oldToken, old, token, nonNil(b), expiry)
		if !isCode(err, "23505") { // unique_violation: a row under the new token, maybe an expired one
			break
		}
		if _, err = s.pool.Exec(ctx, freeExpired, token); err != nil {
			break
		}
	}
	switch {
	case err != nil && !isCode(err, "23505"):
		return nil, false, fmt.Errorf("pgxstore: compare-and-renew: %w", err)
	case err != nil || taken:
		return nil, false, ErrTokenTaken
	}
	return cur, renewed, nil
}

// isCode reports whether err is PostgreSQL's error with the SQLSTATE code.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// compareAndSet runs one of the statements above until its answer is
// consistent: swapped, or refused by a value other than old (or, for a
// renewal, because the new token is taken). Under a stricter isolation than
// READ COMMITTED (default_transaction_isolation set on the database or the
// role), a concurrent save makes the statement fail with a serialization
// failure instead: it is run again likewise, as one statement is its own
// transaction.
func (s *Store) compareAndSet(ctx context.Context, old []byte, sql string, args ...any) (cur []byte, swapped, taken bool, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for range maxAttempts {
		cur, swapped, taken = nil, false, false
		dest := []any{&swapped, &cur}
		if sql == renew {
			dest = append(dest, &taken)
		}
		err := s.pool.QueryRow(ctx, sql, args...).Scan(dest...)
		switch {
		case isCode(err, "40001"), isCode(err, "40P01"): // serialization failure, deadlock: another save won
			continue
		case err != nil:
			return nil, false, false, err
		case swapped || taken || !same(cur, old):
			return cur, swapped, taken, nil
		}
	}
	return nil, false, false, fmt.Errorf("still outdated after %d attempts under concurrent saves", maxAttempts)
}

// same reports whether a and b are the same bytes, nil being unlike any
// non-nil slice: nil means "nothing".
func same(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
