module github.com/scsession/scsession/goredisstore

go 1.26.0

require (
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/scsession/scsession v0.1.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// The store itself needs only go-redis; its tests need scsession (storetest,
// internal/sessiontest, and the Manager they drive) and scs. The replace
// builds them against this repository's scsession, inside the workspace
// (../go.work) or outside it (GOWORK=off), and is ignored when goredisstore
// is someone's dependency: at a release, require the scsession tag instead of
// the placeholder version.
replace github.com/scsession/scsession => ../
