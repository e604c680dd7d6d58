module github.com/scsession/scsession/_example

go 1.26.8

require (
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/gomodule/redigo v1.9.3
	github.com/jackc/pgx/v5 v5.13.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/scsession/scsession v0.1.0
	github.com/scsession/scsession/goredisstore v0.0.0-00010101000000-000000000000
	github.com/scsession/scsession/pgxstore v0.0.0-00010101000000-000000000000
	github.com/scsession/scsession/redisstore v0.0.0-00010101000000-000000000000
)

require (
	github.com/alexedwards/scs/redisstore v0.0.0-20250417082927-ab20b3feb5e9 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

// The example runs on this repository's scsession and its stores, not on
// released versions: the replaces point at them, so that it builds outside
// the workspace too (GOWORK=off); in the workspace, ../go.work does the same.
replace (
	github.com/scsession/scsession => ../
	github.com/scsession/scsession/goredisstore => ../goredisstore
	github.com/scsession/scsession/pgxstore => ../pgxstore
	github.com/scsession/scsession/redisstore => ../redisstore
)
