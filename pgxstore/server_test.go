package pgxstore_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/pgxstore"
)

// startPostgres starts a PostgreSQL of the test's own
// (sessiontest.Postgres: on 127.0.0.1 and a free port, stopped and removed
// when the test ends). Where PostgreSQL is missing it skips the test,
// except in CI (CI=true), where it fails.
func startPostgres(tb testing.TB, settings ...string) *sessiontest.Postgres {
	tb.Helper()
	return sessiontest.StartPostgres(tb, settings...)
}

// newSchema creates a schema no other store of the test has used, so that a
// store on a pool whose search_path names it starts empty, as a store on a
// database of its own would.
func newSchema(tb testing.TB, pg *sessiontest.Postgres) string {
	tb.Helper()
	name := "test_" + strings.ToLower(rand.Text())
	conn, err := pgx.Connect(tb.Context(), pg.URL())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(tb.Context())
	if _, err := conn.Exec(tb.Context(), "CREATE SCHEMA "+name); err != nil {
		tb.Fatal(err)
	}
	return name
}

// newPool is a pool on pg whose search_path is schema, closed when the test
// ends; configure, if not nil, changes its config first.
func newPool(tb testing.TB, pg *sessiontest.Postgres, schema string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(pg.URL())
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// newStore is a Store on pool with cfg, whose cleanup stops when the test
// ends.
func newStore(tb testing.TB, pool *pgxpool.Pool, cfg pgxstore.Config) *pgxstore.Store {
	tb.Helper()
	st, err := pgxstore.NewWithConfig(tb.Context(), pool, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.StopCleanup)
	return st
}

// freshStore is a store in a schema of its own on pg, with the defaults.
func freshStore(tb testing.TB, pg *sessiontest.Postgres) *pgxstore.Store {
	tb.Helper()
	return newStore(tb, newPool(tb, pg, newSchema(tb, pg), nil), pgxstore.Config{})
}

// oneApp is one app on a store of its own, on pg.
func oneApp(pg *sessiontest.Postgres) sessiontest.Stores {
	return sessiontest.Stores{"postgres": func(t *testing.T) []scs.Store { return []scs.Store{freshStore(t, pg)} }}
}

// twoApps is two instances sharing pg's tables, each with a pool of its own,
// as two processes behind a load balancer would.
func twoApps(pg *sessiontest.Postgres) sessiontest.Stores {
	return sessiontest.Stores{"postgres, two instances": func(t *testing.T) []scs.Store {
		schema := newSchema(t, pg)
		return []scs.Store{
			newStore(t, newPool(t, pg, schema, nil), pgxstore.Config{}),
			newStore(t, newPool(t, pg, schema, nil), pgxstore.Config{}),
		}
	}}
}

// bothWays is oneApp and twoApps.
func bothWays(pg *sessiontest.Postgres) sessiontest.Stores {
	ways := oneApp(pg)
	for name, open := range twoApps(pg) {
		ways[name] = open
	}
	return ways
}
