// Package pgxstore keeps scs sessions in PostgreSQL through a pgx v5 pool
// (github.com/jackc/pgx/v5/pgxpool). It has what scsession needs to keep its
// guarantees: an atomic compare-and-swap save and renewal, each one SQL
// statement (scsession.SwapStore, scsession.RenewStore), the index of each
// user's sessions (scsession.UserIndexStore), and the request's context on
// every call (scs.CtxStore), bounded by a timeout when it has no deadline.
//
//	pool, err := pgxpool.New(ctx, "postgres://app@db.internal/app")
//	if err != nil {
//		return err
//	}
//	store, err := pgxstore.New(ctx, pool) // creates the tables if they are missing
//	if err != nil {
//		return err
//	}
//	sm := scs.New()
//	sm.Store = store
//	m := scsession.New[Session](sm, scsession.WithUserID(func(s Session) string { return s.User }))
//
// # Tables
//
// The sessions table is scs's pgxstore's, so that switching from it keeps
// the sessions; the index of users' sessions is a table of its own. New
// creates what is missing, under an advisory lock, so that instances
// starting together do not trip over each other; it creates nothing, and
// needs no CREATE privilege, when the tables are there. To create them by
// hand, in the schema the pool's search_path names first:
//
//	CREATE TABLE sessions (
//		token  TEXT PRIMARY KEY,
//		data   BYTEA NOT NULL,
//		expiry TIMESTAMPTZ NOT NULL
//	);
//	CREATE INDEX sessions_expiry_idx ON sessions (expiry);
//
//	CREATE TABLE scsession_users (
//		user_id TEXT NOT NULL,
//		token   TEXT NOT NULL,        -- a store key: the session's token, or its hash
//		expiry  TIMESTAMPTZ NOT NULL, -- the session's deadline at its login
//		added   TIMESTAMPTZ NOT NULL, -- when the entry was made
//		PRIMARY KEY (user_id, token)
//	);
//	CREATE INDEX scsession_users_expiry_idx ON scsession_users (expiry);
//
// The application's role needs SELECT, INSERT, UPDATE and DELETE on both.
//
// # Expiry
//
// A row past its expiry is never returned: every query compares with the
// database's clock (now()), so the application's and the database's clocks
// should agree. A goroutine deletes expired rows of both tables every
// CleanupInterval (5 minutes unless configured), a thousand at a time, until
// StopCleanup.
//
// # Timeouts and faults
//
// Each call waits at most Config.Timeout (5 seconds unless configured) when
// its context has no deadline, as a request's usually has not; a context
// with a deadline bounds it instead. The plain scs.Store methods (Find,
// Commit, Delete), which have no context, wait at most Timeout too. A
// database that stalls or has no free connection slot fails the request,
// which scs answers with its ErrorFunc (a 500), within that bound. pgxpool
// replaces broken connections by itself, and pings one that has been idle
// for more than a second before handing it out, so after a database restart
// requests work again at once, and the sessions are still there.
package pgxstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The defaults of a zero Config.
const (
	DefaultTimeout         = 5 * time.Second
	DefaultCleanupInterval = 5 * time.Minute
)

// Config configures a Store. Its zero value is the defaults.
type Config struct {
	// Timeout bounds each call whose context has no deadline, and each call
	// of the plain scs.Store methods. Zero or less: DefaultTimeout.
	Timeout time.Duration
	// CleanupInterval is how often expired rows are deleted. Zero:
	// DefaultCleanupInterval; less than zero: never (expired rows are still
	// never returned).
	CleanupInterval time.Duration
	// Logger receives the failures of the background cleanup. Nil:
	// slog.Default().
	Logger *slog.Logger
}

// Store keeps sessions in PostgreSQL. Use it as an scs.SessionManager's
// Store.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	logger  *slog.Logger

	stop     chan struct{}   // closed by StopCleanup
	stopping context.Context // cancelled by StopCleanup: a cleanup statement in flight ends with it
	halt     context.CancelFunc
	stopOnce sync.Once
	stopped  chan struct{} // closed when the cleanup goroutine has returned
}

// New returns a Store on pool with the default Config, once it has created
// the tables that are missing (see the package documentation). It fails if
// the database cannot be reached within ctx, or within DefaultTimeout if
// ctx has no deadline.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	return NewWithConfig(ctx, pool, Config{})
}

// NewWithConfig is New with a Config.
func NewWithConfig(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CleanupInterval == 0 {
		cfg.CleanupInterval = DefaultCleanupInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Store{pool: pool, timeout: cfg.Timeout, logger: cfg.Logger, stop: make(chan struct{}), stopped: make(chan struct{})}
	s.stopping, s.halt = context.WithCancel(context.Background())
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := createTables(ctx, pool); err != nil {
		return nil, fmt.Errorf("pgxstore: creating the tables: %w", err)
	}
	if cfg.CleanupInterval > 0 {
		go s.cleanup(cfg.CleanupInterval)
	} else {
		close(s.stopped)
	}
	return s, nil
}

// bound returns ctx limited to the Store's timeout if it has no deadline.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Find returns the session stored under token, within the Store's timeout.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit stores b under token until expiry, overwriting what was there,
// within the Store's timeout.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete removes the session stored under token, if any, within the
// Store's timeout.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// All returns every session that has not expired, as scs's pgxstore does
// (a scan of the table: slow on a large one).
func (s *Store) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// FindCtx is Find with the request's context.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM sessions WHERE token = $1 AND expiry > now()`, token).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pgxstore: find: %w", err)
	}
	return b, true, nil
}

// CommitCtx is Commit with the request's context.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`, token, nonNil(b), expiry)
	if err != nil {
		return fmt.Errorf("pgxstore: commit: %w", err)
	}
	return nil
}

// DeleteCtx is Delete with the request's context.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token = $1`, token); err != nil {
		return fmt.Errorf("pgxstore: delete: %w", err)
	}
	return nil
}

// AllCtx is All with the request's context.
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT token, data FROM sessions WHERE expiry > now()`)
	if err != nil {
		return nil, fmt.Errorf("pgxstore: all: %w", err)
	}
	return collect(rows, "all")
}

// collect reads rows of (token, data) into a map, never nil.
func collect(rows pgx.Rows, op string) (map[string][]byte, error) {
	out := map[string][]byte{}
	var token string
	var data []byte
	_, err := pgx.ForEachRow(rows, []any{&token, &data}, func() error {
		out[token] = data
		data = nil // Scan reuses a non-nil slice
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgxstore: %s: %w", op, err)
	}
	return out, nil
}

// nonNil returns b, or an empty slice for nil: pgx sends a nil slice as
// NULL, which the data column refuses.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
