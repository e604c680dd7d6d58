package pgxstore

import (
	"context"
	"fmt"
	"time"
)

// inFlight is how long an index entry whose session the database does not
// hold is kept, as a save that may still be on its way (the Manager indexes
// a session before it saves it). Older, it is a session that ended before
// its deadline (an idle timeout), and the next listing drops it.
const inFlight = "1 minute"

// listSessions returns the user's entries that have not expired, with their
// sessions' data, and drops the user's entries that have expired or whose
// session is gone for longer than inFlight, in one statement: the DELETE
// runs to its end whether or not the SELECT reads it.
const listSessions = `WITH gone AS (
	DELETE FROM scsession_users u
	WHERE u.user_id = $1 AND (u.expiry <= now() OR (u.added < now() - interval '` + inFlight + `'
		AND NOT EXISTS (SELECT FROM sessions s WHERE s.token = u.token AND s.expiry > now())))
)
SELECT u.token, s.data FROM scsession_users u JOIN sessions s ON s.token = u.token
WHERE u.user_id = $1 AND u.expiry > now() AND s.expiry > now()`

// AddUserSession records that the session under key belongs to user until
// expiry, as a row of scsession_users. It makes Store an
// scsession.UserIndexStore, used by scsession.WithUserID.
func (s *Store) AddUserSession(ctx context.Context, user, key string, expiry time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO scsession_users (user_id, token, expiry, added) VALUES ($1, $2, $3, now())
		ON CONFLICT (user_id, token) DO UPDATE SET expiry = EXCLUDED.expiry, added = EXCLUDED.added`, user, key, expiry)
	if err != nil {
		return fmt.Errorf("pgxstore: add a user's session: %w", err)
	}
	return nil
}

// RemoveUserSession forgets that the session under key belongs to user.
func (s *Store) RemoveUserSession(ctx context.Context, user, key string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM scsession_users WHERE user_id = $1 AND token = $2`, user, key); err != nil {
		return fmt.Errorf("pgxstore: remove a user's session: %w", err)
	}
	return nil
}

// UserSessions returns, by key, the data of the user's sessions that the
// database holds, in one query that joins the index with the sessions on
// their primary keys: O(that user's sessions). It forgets the entries that
// have expired, and those whose session ended before its expiry (an idle
// timeout) if they were added more than a minute ago: a younger one may be
// a save still in flight.
func (s *Store) UserSessions(ctx context.Context, user string) (map[string][]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, listSessions, user)
	if err != nil {
		return nil, fmt.Errorf("pgxstore: list a user's sessions: %w", err)
	}
	return collect(rows, "list a user's sessions")
}
