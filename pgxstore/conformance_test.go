package pgxstore_test

import (
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession/storetest"
)

// The public conformance suite, as a store's author runs it: each store it
// opens has a schema of its own on one server, so it starts empty.
func TestConformance(t *testing.T) {
	pg := startPostgres(t)
	storetest.Run(t, func(t *testing.T) scs.Store { return freshStore(t, pg) })
}
