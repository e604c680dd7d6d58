package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/scsession/scsession/goredisstore"
	"github.com/scsession/scsession/internal/sessiontest"
)

// BenchmarkRequestCluster is BenchmarkRequest's scsession-goredis on a Redis
// Cluster of the benchmark's own (3 masters and 3 replicas on 127.0.0.1,
// sessiontest.StartCluster), with the round trips a request makes to the
// cluster (roundtrips/op): a command is one, a pipeline one per node it
// goes to. A login (op=renew) is 3 on a cluster, 2 on one node: its two
// tokens are in different slots (goredisstore's package documentation).
//
//	go test -run '^$' -bench RequestCluster -benchmem -count 8 ./bench
func BenchmarkRequestCluster(b *testing.B) {
	cl := sessiontest.StartCluster(b)
	var trips atomic.Int64
	client := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs:       cl.Addrs(),
		DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		ContextTimeoutEnabled: true, DisableIdentity: true,
	})
	client.OnNewNode(func(node *goredis.Client) { node.AddHook(tripCounter{&trips}) })
	b.Cleanup(func() { client.Close() })
	for _, op := range benchOps {
		b.Run("idle=off/op="+op+"/impl=scsession-goredis", func(b *testing.B) {
			sm, store := benchSessionManager(goredisstore.New(client), 0)
			app := newBenchApp(b, "scsession-goredis", sm, store)
			trips.Store(0)
			benchRequests(b, app, op) // with b.Loop: this function runs once, b.N is the loop's count
			b.ReportMetric(float64(trips.Load())/float64(b.N), "roundtrips/op")
		})
	}
}

// tripCounter is a go-redis hook on each node's client that counts round
// trips to it, leaving out the commands a client sends by itself to learn
// the cluster's layout and set up a connection.
type tripCounter struct{ n *atomic.Int64 }

func (tc tripCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (tc tripCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if counts(cmd) {
			tc.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (tc tripCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			if counts(cmd) {
				tc.n.Add(1)
				break
			}
		}
		return next(ctx, cmds)
	}
}

// counts reports whether cmd is a request's, not the client's own.
func counts(cmd goredis.Cmder) bool {
	switch cmd.Name() {
	case "cluster", "hello", "client", "command":
		return false
	}
	return true
}
