package scsession

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// A page that starts its response (headers, the top of the template) and
// reads the session afterwards, e.g. a template function showing the user's
// name, sees the stored session: committed does not mean loaded.
func TestGetAfterTheResponseStartedReadsTheStoredSession(t *testing.T) {
	m := New[user](nil, WithLogger(discard))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html>")
		fmt.Fprint(w, m.Get(r.Context()).Name)
	})
	url := serve(t, m, mux)
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	if got := c.Get(url + "/stream").Body; got != "<html>ann" {
		t.Fatalf("Get after the first byte reads %q, want <html>ann", got)
	}
}

// Session methods take s.mu, so a handler may use the session from several
// goroutines (fetching a page's parts in parallel): nothing they read before
// taking the lock may change under it.
func TestConcurrentGetsInOneRequestDoNotRace(t *testing.T) {
	m := New[user](nil, WithLogger(discard))
	mux := http.NewServeMux()
	mux.Handle("/", userApp(m))
	mux.HandleFunc("GET /parallel", func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				<-start
				m.Get(r.Context())
			})
		}
		close(start)
		wg.Wait()
	})
	url := serve(t, m, mux)
	c := newClient(t)
	c.Post(url + "/login?id=1&name=ann")
	for range 20 {
		c.Get(url + "/parallel")
	}
}
