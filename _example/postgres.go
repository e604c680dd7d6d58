package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scsession/scsession/pgxstore"
)

// sessionDB is where -postgres keeps the sessions.
type sessionDB struct {
	store *pgxstore.Store
	name  string // for the log and errors, without a password
	close func() error
}

// openPostgres connects to the database of -postgres (a URL such as
// postgres://app:secret@db.internal:5432/app, or key=value pairs as libpq
// reads them) and makes the store there, creating its tables if they are
// missing. pgxpool.New alone connects lazily: a wrong host or password would
// show only at the first request, as a 500. pgxstore.New talks to the
// database, so the app refuses to start instead, and says why.
func openPostgres(dsn string, logger *slog.Logger) (*sessionDB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("-postgres: %v", err) // pgx leaves the password out
	}
	cc := cfg.ConnConfig
	name := fmt.Sprintf("postgres %s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	store, err := pgxstore.NewWithConfig(ctx, pool, pgxstore.Config{Logger: logger})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: %w (is the database running, and -postgres right?)", name, err)
	}
	return &sessionDB{store: store, name: name, close: func() error {
		store.StopCleanup()
		pool.Close()
		return nil
	}}, nil
}
