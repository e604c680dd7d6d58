package pgxstore

import (
	"context"
	"strconv"
	"time"
)

// cleanupBatch is how many expired rows one statement of the cleanup
// deletes: a backlog goes in short statements, each within the timeout,
// rather than in one that could outlast it and hold its locks long.
const cleanupBatch = 1000

// The cleanup's statements. SKIP LOCKED leaves rows that another instance's
// cleanup (or a save) holds to them; the DELETE checks the expiry again, on
// the newest version of the row, so that a session saved meanwhile stays.
var cleanups = []string{
	`DELETE FROM sessions WHERE expiry <= now() AND token IN
		(SELECT token FROM sessions WHERE expiry <= now() LIMIT ` + strconv.Itoa(cleanupBatch) + ` FOR UPDATE SKIP LOCKED)`,
	`DELETE FROM scsession_users WHERE expiry <= now() AND (user_id, token) IN
		(SELECT user_id, token FROM scsession_users WHERE expiry <= now() LIMIT ` + strconv.Itoa(cleanupBatch) + ` FOR UPDATE SKIP LOCKED)`,
}

// cleanup deletes expired rows every interval until StopCleanup.
func (s *Store) cleanup(interval time.Duration) {
	defer close(s.stopped)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
			if err := s.deleteExpired(); err != nil && s.stopping.Err() == nil {
				s.logger.Warn("pgxstore: deleting expired sessions failed; trying again at the next interval", "err", err, "interval", interval)
			}
		}
	}
}

// deleteExpired deletes the expired rows of both tables, a batch at a time,
// until none is left or StopCleanup is called.
func (s *Store) deleteExpired() error {
	for _, sql := range cleanups {
		for {
			select {
			case <-s.stop:
				return nil
			default:
			}
			ctx, cancel := context.WithTimeout(s.stopping, s.timeout)
			tag, err := s.pool.Exec(ctx, sql)
			cancel()
			if err != nil {
				return err
			}
			if tag.RowsAffected() < cleanupBatch {
				break
			}
		}
	}
	return nil
}

// StopCleanup stops the background deletion of expired rows, and returns
// once it has stopped. Expired rows are still never returned. It is for a
// Store that does not live as long as the program, such as a test's: the
// cleanup's goroutine would keep it, and its pool, from being collected. It
// may be called more than once, and returns at once even if the database
// is stalled. Call it before closing the pool: a cleanup on a closed pool
// fails, with a warning, at every interval.
func (s *Store) StopCleanup() {
	s.stopOnce.Do(func() { close(s.stop); s.halt() })
	<-s.stopped
}
