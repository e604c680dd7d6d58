package goredisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scsession/scsession/internal/redislua"
)

// BenchmarkWriteWait is what waiting for a replica would cost a session
// write on a cluster (issue 14): the store's compare-and-swap save (the
// script redislua.Swap) alone, and followed by WAIT 1 <timeout>, which
// answers once a replica has the write, or at the timeout with how many
// had it. Replication is asynchronous: without WAIT a write acknowledged
// just before its master dies can be lost (TestMasterKilledUnderLoad...).
// WAIT counts the writes of its own connection, so both run in one
// pipeline on the key's master, as an option of the store would send
// them: one round trip, and WAIT's wait for the replica's
// acknowledgement. It reports acked/op, the share of writes a replica
// acknowledged before the timeout.
//
//	go test -run '^$' -bench WriteWait -count 6 ./goredisstore | benchstat -col /wait -
func BenchmarkWriteWait(b *testing.B) {
	const timeout = 100 // ms, WAIT's
	cl := startCluster(b)
	client := newClusterClient(b, cl)
	swap := redis.NewScript(redislua.Swap)
	key := "scs:session:" + newPrefix() // any slot: each master has a replica
	master, err := client.MasterForKey(b.Context(), key)
	if err != nil {
		b.Fatal(err)
	}
	if err := swap.Load(b.Context(), master).Err(); err != nil {
		b.Fatal(err)
	}
	for _, wait := range []string{"none", "1"} {
		b.Run("wait="+wait, func(b *testing.B) {
			ctx := b.Context()
			master.Del(ctx, key)
			var old []byte
			acked, n := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				expect := "1"
				if old == nil {
					expect = "0"
				}
				n++
				next := fmt.Appendf(nil, "%0149d", n) // 149 bytes, as the benchmarks' session (BENCHMARKS.md)
				expiry := time.Now().Add(time.Hour).UnixMilli()
				var waited *redis.Cmd
				cmds, err := master.Pipelined(ctx, func(p redis.Pipeliner) error {
					swap.EvalSha(ctx, p, []string{key}, old, next, expiry, expect, "0")
					if wait != "none" {
						waited = p.Do(ctx, "WAIT", wait, timeout)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if r, _ := cmds[0].(*redis.Cmd).Slice(); len(r) != 1 || r[0] != int64(1) {
					b.Fatalf("the save did not swap: %v", r)
				}
				if waited != nil {
					if r, _ := waited.Int(); r >= 1 {
						acked++
					}
				}
				old = next
			}
			if wait != "none" {
				b.ReportMetric(float64(acked)/float64(b.N), "acked/op")
			}
		})
	}
}
