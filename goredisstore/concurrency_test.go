package goredisstore_test

import (
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/internal/sessiontest"
)

// What a Manager guarantees on a store that compares and swaps
// (internal/sessiontest, which the root module runs on memstore and
// redisstore on its Redis), on one Redis and on a cluster: through one app,
// and through two instances sharing the server, as two processes behind a
// load balancer would. A test's cluster is started once and shared by its
// subtests, each on keys of its own.

// oneApp is one app per way: on a node, on a cluster.
func oneApp(t *testing.T) sessiontest.Stores {
	cluster := newClusterClient(t, startCluster(t))
	return sessiontest.Stores{
		"single node": func(t *testing.T) []scs.Store { return []scs.Store{prefixed(newClient(t, startRedis(t).Addr))} },
		"cluster":     func(t *testing.T) []scs.Store { return []scs.Store{prefixed(cluster)} },
	}
}

// twoApps is two instances sharing one server per way, each with a client
// of its own.
func twoApps(t *testing.T) sessiontest.Stores {
	cl := startCluster(t)
	return sessiontest.Stores{
		"single node, two instances": func(t *testing.T) []scs.Store {
			addr := startRedis(t).Addr
			return shared(newClient(t, addr), newClient(t, addr))
		},
		"cluster, two instances": func(t *testing.T) []scs.Store {
			return shared(newClusterClient(t, cl), newClusterClient(t, cl))
		},
	}
}

// bothWays is oneApp and twoApps on one cluster.
func bothWays(t *testing.T) sessiontest.Stores {
	cl := startCluster(t)
	cluster := newClusterClient(t, cl)
	return sessiontest.Stores{
		"single node": func(t *testing.T) []scs.Store { return []scs.Store{prefixed(newClient(t, startRedis(t).Addr))} },
		"single node, two instances": func(t *testing.T) []scs.Store {
			addr := startRedis(t).Addr
			return shared(newClient(t, addr), newClient(t, addr))
		},
		"cluster": func(t *testing.T) []scs.Store { return []scs.Store{prefixed(cluster)} },
		"cluster, two instances": func(t *testing.T) []scs.Store {
			return shared(newClusterClient(t, cl), newClusterClient(t, cl))
		},
	}
}

// shared returns a store on each client, both with the same fresh prefix.
func shared(a, b redis.UniversalClient) []scs.Store {
	prefix := newPrefix()
	return []scs.Store{goredisstore.NewWithPrefix(a, prefix), goredisstore.NewWithPrefix(b, prefix)}
}

func TestConcurrentUpdatesAreAllKept(t *testing.T) {
	sessiontest.ConcurrentUpdatesAreAllKept(t, bothWays(t))
}

func TestConcurrentFlashesAreAllKeptAndShownOnce(t *testing.T) {
	sessiontest.ConcurrentFlashesAreAllKeptAndShownOnce(t, bothWays(t))
}

func TestLogoutRacingASlowRequestNeverResurrectsTheSession(t *testing.T) {
	sessiontest.LogoutRacingASlowRequestNeverResurrectsTheSession(t, bothWays(t))
}

func TestRenewTokenDoesNotBringBackARevokedSession(t *testing.T) {
	sessiontest.RenewTokenDoesNotBringBackARevokedSession(t, oneApp(t))
}

func TestRenewTokenCarriesOverAConcurrentChange(t *testing.T) {
	sessiontest.RenewTokenCarriesOverAConcurrentChange(t, oneApp(t))
}

func TestChangePasswordPageKeepsTheCurrentSession(t *testing.T) {
	sessiontest.ChangePasswordPageKeepsTheCurrentSession(t, oneApp(t))
}
