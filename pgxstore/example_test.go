package pgxstore_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scsession/scsession"
	"github.com/scsession/scsession/pgxstore"
)

type Session struct {
	User string
	Cart []string
}

// A Manager on PostgreSQL, with the index of each user's sessions. (Not run:
// it needs a database.)
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@db.internal:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgxstore.NewWithConfig(ctx, pool, pgxstore.Config{
		Timeout:         2 * time.Second, // a stalled database fails a request (500) within 2s
		CleanupInterval: time.Minute,     // how often expired rows are deleted
	})
	if err != nil {
		log.Fatal(err) // the database was unreachable, or the tables could not be created
	}
	defer store.StopCleanup()

	sm := scs.New()
	sm.Store = store
	m := scsession.New[Session](sm, scsession.WithUserID(func(s Session) string { return s.User }))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		item := r.FormValue("item")
		if err := m.Update(r.Context(), func(s *Session) { s.Cart = append(s.Cart, item) }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	log.Fatal(http.ListenAndServe(":8080", m.LoadAndSave(mux)))
}
