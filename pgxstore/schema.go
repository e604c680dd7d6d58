package pgxstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Schema is the SQL that New runs when the tables are missing, for those who
// create them by hand. Every statement is IF NOT EXISTS, so it can be run
// again. The sessions table and its index are scs's pgxstore's.
const Schema = `CREATE TABLE IF NOT EXISTS sessions (
	token  TEXT PRIMARY KEY,
	data   BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);

CREATE TABLE IF NOT EXISTS scsession_users (
	user_id TEXT NOT NULL,
	token   TEXT NOT NULL,
	expiry  TIMESTAMPTZ NOT NULL,
	added   TIMESTAMPTZ NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, token)
);
CREATE INDEX IF NOT EXISTS scsession_users_expiry_idx ON scsession_users (expiry);
`

// schemaLock is the advisory lock New takes while it creates tables: two
// CREATE TABLE IF NOT EXISTS of one table at once can fail on the catalog's
// unique index, so instances starting together take turns.
const schemaLock = 0x5c5e5510

// created reports whether the tables and indexes exist, in the schema that
// the search_path resolves them to.
const created = `SELECT to_regclass('sessions') IS NOT NULL AND to_regclass('sessions_expiry_idx') IS NOT NULL
	AND to_regclass('scsession_users') IS NOT NULL AND to_regclass('scsession_users_expiry_idx') IS NOT NULL`

// createTables runs Schema if something is missing, under schemaLock. A
// database where everything exists is only read, so the role needs no
// CREATE privilege there.
func createTables(ctx context.Context, pool *pgxpool.Pool) error {
	var done bool
	if err := pool.QueryRow(ctx, created).Scan(&done); err != nil || done {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
			return err
		}
		// Schema has no arguments: pgx sends it in the simple protocol,
		// which runs its several statements.
		_, err := tx.Exec(ctx, Schema)
		return err
	})
}
