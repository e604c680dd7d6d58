package bench

import (
	"testing"

	scspgx "github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scsession/scsession/internal/sessiontest"
	"github.com/scsession/scsession/pgxstore"
)

// BenchmarkRequestPostgres is BenchmarkRequest on PostgreSQL, on a server of
// the benchmark's own, beside scs's pgxstore on the same server and tables:
//
//	impl=scs            scs's LoadAndSave on scs's pgxstore
//	impl=scsession-lww  Manager[benchUser] on scs's pgxstore: last write
//	                    wins, for op=write only
//	impl=scsession      Manager[benchUser] on scsession/pgxstore: saves by
//	                    compare-and-set, renewals in one statement
//
// for op=read, op=write and op=renew (a login's RenewToken), without an idle
// timeout. Compare with benchstat -col /impl.
func BenchmarkRequestPostgres(b *testing.B) {
	pool := postgresPool(b)
	ours, err := pgxstore.NewWithConfig(b.Context(), pool, pgxstore.Config{CleanupInterval: -1}) // creates the tables
	if err != nil {
		b.Fatal(err)
	}
	theirs := scspgx.NewWithCleanupInterval(pool, 0)
	for _, op := range []string{"read", "write", "renew"} {
		for _, impl := range []string{"scs", "scsession-lww", "scsession"} {
			if impl == "scsession-lww" && op != "write" {
				continue
			}
			b.Run("store=postgres/idle=off/op="+op+"/impl="+impl, func(b *testing.B) {
				var st scs.Store = theirs
				switch impl {
				case "scsession":
					st = ours
				case "scsession-lww":
					st = lastWriteWins{theirs}
				}
				sm, store := benchSessionManager(st, 0)
				benchRequests(b, newBenchApp(b, impl, sm, store), op)
			})
		}
	}
}

// postgresPool starts a PostgreSQL of the benchmark's own and returns a pgx
// pool on it, with pgx's defaults, closed when the benchmark ends.
func postgresPool(tb testing.TB) *pgxpool.Pool {
	pg := sessiontest.StartPostgres(tb)
	pool, err := pgxpool.New(tb.Context(), pg.URL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}
