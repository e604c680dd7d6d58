module github.com/scsession/scsession/bench

go 1.26.8

require (
	github.com/alexedwards/scs/redisstore v0.0.0-20250417082927-ab20b3feb5e9
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/gomodule/redigo v1.9.3
	github.com/redis/go-redis/v9 v9.23.0
	github.com/scsession/scsession v0.0.0-00010101000000-000000000000
	github.com/scsession/scsession/goredisstore v0.0.0-00010101000000-000000000000
	github.com/scsession/scsession/redisstore v0.0.0-00010101000000-000000000000
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// The benchmarks measure this repository's scsession and its stores: the
// replaces point at them, so that they build outside the workspace too
// (GOWORK=off); in the workspace, ../go.work does the same.
replace (
	github.com/scsession/scsession => ../
	github.com/scsession/scsession/goredisstore => ../goredisstore
	github.com/scsession/scsession/redisstore => ../redisstore
)
