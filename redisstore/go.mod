module github.com/scsession/scsession/redisstore

go 1.25.0

require (
	github.com/alexedwards/scs/redisstore v0.0.0-20250417082927-ab20b3feb5e9
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/gomodule/redigo v1.9.3
	github.com/scsession/scsession v0.1.0
)

// The store itself needs only scs and redigo; its tests need scsession
// (storetest, and the Manager they drive). The replace builds them against
// this repository's scsession, inside the workspace (../go.work) or outside
// it (GOWORK=off), and is ignored when redisstore is someone's dependency:
// at a release, require the scsession tag instead of the placeholder version.
replace github.com/scsession/scsession => ../
