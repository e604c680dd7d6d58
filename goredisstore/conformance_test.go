package goredisstore_test

import (
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession/storetest"
)

// The public conformance suite, as a store's author runs it, on one node and
// on a cluster of 3 masters and 3 replicas: each store it opens has a key
// prefix of its own, so it starts empty.
func TestConformance(t *testing.T) {
	t.Run("single node", func(t *testing.T) {
		client := newClient(t, startRedis(t).Addr)
		storetest.Run(t, func(t *testing.T) scs.Store { return prefixed(client) })
	})
	t.Run("cluster", func(t *testing.T) {
		client := newClusterClient(t, startCluster(t))
		storetest.Run(t, func(t *testing.T) scs.Store { return prefixed(client) })
	})
}
