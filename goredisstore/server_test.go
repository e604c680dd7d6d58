package goredisstore_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/internal/sessiontest"
)

// redisTimeout bounds every dial, read and write of the tests' clients, as
// the package documentation recommends: how long a request waits on a Redis
// that does not answer.
const redisTimeout = 500 * time.Millisecond

// startRedis starts a redis-server of the test's own (sessiontest.Redis: on
// 127.0.0.1 and a free port, stopped when the test ends). Where redis-server
// is missing it skips the test, except in CI (CI=true), where it fails.
func startRedis(tb testing.TB) *sessiontest.Redis {
	tb.Helper()
	return sessiontest.StartRedis(tb)
}

// startCluster starts a Redis Cluster of the test's own: 3 masters and 3
// replicas (sessiontest.Cluster).
func startCluster(tb testing.TB) *sessiontest.Cluster {
	tb.Helper()
	return sessiontest.StartCluster(tb)
}

// newClient is a single-node client with the recommended timeouts, closed
// when the test ends.
func newClient(tb testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:        addr,
		DialTimeout: redisTimeout, ReadTimeout: redisTimeout, WriteTimeout: redisTimeout,
		DisableIdentity: true,
	})
	tb.Cleanup(func() { c.Close() })
	return c
}

// newClusterClient is a cluster client with the recommended timeouts,
// closed when the test ends.
func newClusterClient(tb testing.TB, cl *sessiontest.Cluster) *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:       cl.Addrs(),
		DialTimeout: redisTimeout, ReadTimeout: redisTimeout, WriteTimeout: redisTimeout,
		DisableIdentity: true,
	})
	tb.Cleanup(func() { c.Close() })
	return c
}

// prefixed returns a store on client whose keys no other store of the test
// shares, so that stores on one server start empty.
func prefixed(client redis.UniversalClient) *goredisstore.Store {
	return goredisstore.NewWithPrefix(client, newPrefix())
}

// newPrefix returns a key prefix no other store has used.
func newPrefix() string { return "test:" + rand.Text() + ":session:" }
