package redisstore_test

import (
	"crypto/rand"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/scsession/scsession/redisstore"
	"github.com/scsession/scsession/storetest"
)

// The public conformance suite, as a store's author runs it: each store it
// opens has a key prefix of its own on one redis-server, so it starts empty.
func TestConformance(t *testing.T) {
	pool := startRedis(t).Pool()
	storetest.Run(t, func(t *testing.T) scs.Store {
		return redisstore.NewWithPrefix(pool, "storetest:"+rand.Text()+":session:")
	})
}
