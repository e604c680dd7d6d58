module github.com/scsession/scsession

go 1.26.8

require (
	github.com/alexedwards/scs/redisstore v0.0.0-20250417082927-ab20b3feb5e9
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/gomodule/redigo v1.9.3
)
