package pgxstore_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/pgxstore"
)

// queryCounter is a pgx.QueryTracer that records the queries sent, each
// named for what it does. A query is one round trip; pgx's preparing of a
// statement, the first time a connection sends it, is not a query, and
// neither is the pool's ping of an idle connection.
type queryCounter struct {
	mu      sync.Mutex
	queries []string
}

// install makes the counter the pool's tracer.
func (qc *queryCounter) install(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = qc }

func (qc *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	qc.mu.Lock()
	qc.queries = append(qc.queries, queryName(data.SQL))
	qc.mu.Unlock()
	return ctx
}

func (qc *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the queries since the last take.
func (qc *queryCounter) take() []string {
	qc.mu.Lock()
	defer qc.mu.Unlock()
	q := qc.queries
	qc.queries = nil
	return q
}

// queryName names a query of the store by what it does.
func queryName(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	switch {
	case strings.HasPrefix(sql, "SELECT data FROM sessions"):
		return "find"
	case strings.HasPrefix(sql, "INSERT INTO sessions"):
		return "commit"
	case strings.HasPrefix(sql, "DELETE FROM sessions"):
		return "delete"
	case strings.HasPrefix(sql, "INSERT INTO scsession_users"):
		return "add user's session"
	case strings.HasPrefix(sql, "DELETE FROM scsession_users"):
		return "remove user's session"
	case strings.HasPrefix(sql, "WITH gone AS ( DELETE FROM scsession_users"):
		return "list"
	case strings.Contains(sql, "INSERT INTO sessions (token, data, expiry) SELECT"):
		return "renew"
	case strings.HasPrefix(sql, "WITH"), strings.HasPrefix(sql, "SELECT data IS NULL"):
		return "swap"
	}
	return sql
}

func TestQueriesPerRequest(t *testing.T) {
	pg := startPostgres(t)
	var queries queryCounter
	pool := newPool(t, pg, newSchema(t, pg), queries.install)
	store := newStore(t, pool, pgxstore.Config{})
	for _, tc := range []struct {
		name         string
		idle         time.Duration
		users        bool // WithUserID
		method, path string
		session      string // a request that gives the browser a session first, if any
		want         []string
	}{
		{"read", 0, false, http.MethodGet, "/whoami", "/login?user=alice", []string{"find"}},
		{"write", 0, false, http.MethodPost, "/visit", "/login?user=alice", []string{"find", "swap"}},
		{"no session use", 0, false, http.MethodGet, "/static", "/login?user=alice", nil},
		{"read without a session", 0, false, http.MethodGet, "/whoami", "", nil},
		{"first write", 0, false, http.MethodPost, "/visit", "", []string{"swap"}},
		{"login (RenewToken and Update)", 0, false, http.MethodPost, "/login?user=bob", "/login?user=alice", []string{"find", "renew"}},
		{"logout (Destroy)", 0, false, http.MethodPost, "/logout", "/login?user=alice", []string{"delete"}},
		{"flashes, none pending", 0, false, http.MethodGet, "/flashes", "/login?user=alice", []string{"find"}},
		{"read, IdleTimeout", time.Hour, false, http.MethodGet, "/whoami", "/login?user=alice", []string{"find"}},
		{"write, IdleTimeout", time.Hour, false, http.MethodPost, "/visit", "/login?user=alice", []string{"find", "swap"}},
		{"read, WithUserID", 0, true, http.MethodGet, "/whoami", "/login?user=alice", []string{"find"}},
		{"write, WithUserID", 0, true, http.MethodPost, "/visit", "/login?user=alice", []string{"find", "swap"}},
		{"login, WithUserID", 0, true, http.MethodPost, "/login?user=bob", "/visit", []string{"find", "add user's session", "renew"}},
		{"login as another user, WithUserID", 0, true, http.MethodPost, "/login?user=bob", "/login?user=alice", []string{"find", "add user's session", "renew", "remove user's session"}},
		{"logout, WithUserID", 0, true, http.MethodPost, "/logout", "/login?user=alice", []string{"find", "delete", "remove user's session"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := visitsApp(t, store, tc.idle, tc.users)
			c := sessiontest.NewClient(t)
			if tc.session != "" {
				if r := c.Post(app + tc.session); r.Status != 200 {
					t.Fatalf("%s: %d %q", tc.session, r.Status, r.Body)
				}
			}
			queries.take()
			if r := c.Do(tc.method, app+tc.path); r.Status != 200 {
				t.Fatalf("got %d %q", r.Status, r.Body)
			}
			got := queries.take()
			t.Logf("%s: %d quer(ies) %q", tc.name, len(got), got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("queries %q, want %q", got, tc.want)
			}
		})
	}
}

// visitsApp is sessiontest.VisitsApp on store with idle as its IdleTimeout;
// with users, its sessions are indexed.
func visitsApp(t *testing.T, store scs.Store, idle time.Duration, users bool) string {
	sm := scs.New()
	sm.Store, sm.IdleTimeout = store, idle
	var opts []scsession.Option
	if users {
		opts = append(opts, scsession.WithUserID(func(v sessiontest.Visitor) string { return v.User }))
	}
	return sessiontest.VisitsApp(t, sm, opts...)
}
