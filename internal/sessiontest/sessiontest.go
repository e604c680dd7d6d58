// Package sessiontest is what the tests of this repository's modules share:
// a browser in miniature (Client), a redis-server of a test's own (Redis),
// and the tests of what a Manager guarantees on a store that compares and
// swaps: concurrent requests that keep every change, logouts, revocations and
// renewals that a request in flight cannot undo. The root module runs them
// on scs's memstore (memstore_test.go), each store module on its own server.
//
// It is internal, importable by this repository's modules only; a store's
// author outside it runs the public suite, storetest. The root package's own
// tests (package scsession) cannot import it, since it imports scsession:
// they share its browser through internal/browser, and run these tests from
// package scsession_test.
package sessiontest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"
)

// Stores are the ways a test runs, by name: each opens the stores of one
// app, or of two instances of the app sharing one server (one store each,
// as two processes would have them).
type Stores map[string]func(t *testing.T) []scs.Store

// each runs test on every way of stores, as a subtest named for it.
func each(t *testing.T, stores Stores, test func(t *testing.T, st []scs.Store)) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { test(t, open(t)) })
	}
}

// serve starts a test server for h and returns its URL.
func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
