module github.com/scsession/scsession

go 1.26.8

require (
	github.com/alexedwards/scs/redisstore v0.0.0-20250417082927-ab20b3feb5e9 // indirect
	github.com/alexedwards/scs/v2 v2.9.0 // indirect
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/gomodule/redigo v1.9.3 // indirect
)
