package main

import (
	"strings"
	"testing"
)

const benchOutput = `goos: linux
pkg: github.com/scsession/scsession/bench
BenchmarkRequest/store=mem/idle=off/op=read/impl=floor-2   42256   4000 ns/op   0 B/session   1376 B/op   11 allocs/op
BenchmarkRequest/store=mem/idle=off/op=read/impl=floor-2   62630   2000 ns/op   0 B/session   1376 B/op   11 allocs/op
BenchmarkRequest/store=mem/idle=off/op=read/impl=scs-2      2571  53000 ns/op 306.0 B/session 13065 B/op 278 allocs/op
BenchmarkRequest/store=mem/idle=off/op=read/impl=scs-2      4582  59000 ns/op 306.0 B/session 13065 B/op 278 allocs/op
BenchmarkRequest/store=mem/idle=off/op=read/impl=scs-2      4582  99000 ns/op 306.0 B/session 13065 B/op 278 allocs/op
BenchmarkRequest/store=mem/idle=off/op=read/impl=scsession-2 36930 5000 ns/op 149.0 B/session 2744 B/op 19 allocs/op
BenchmarkRequest/store=mem/idle=on/op=read/impl=scsession-2 36930 9000000 ns/op
BenchmarkRequest/store=mem/idle=off/op=write/impl=scsession-lww-2 100 25000 ns/op
BenchmarkRequest/store=mem/idle=off/op=none/impl=floor-2   100   1000 ns/op
BenchmarkRequest/store=mem/idle=off/op=none/impl=scs-2     100   2000 ns/op
BenchmarkRequest/store=redis/idle=off/op=renew/impl=floor-2   100   2000 ns/op
BenchmarkRequest/store=redis/idle=off/op=renew/impl=scsession-goredis-2   100   402000 ns/op
BenchmarkRequest/store=cookie/idle=off/op=write/impl=scsession-2   100   9000 ns/op
BenchmarkRequestCluster/idle=off/op=read/impl=scsession-goredis-2   100   300000 ns/op   3.000 roundtrips/op
BenchmarkReadManySessions/sessions=1000/impl=scs-2   100   5000 ns/op
BenchmarkRequests/store=mem/idle=off/op=read/impl=scs-2   100   5000 ns/op
PASS
`

func TestParseLine(t *testing.T) {
	s, ok := parseLine("BenchmarkRequest/store=redis/idle=on/op=renew/impl=scsession-goredis-2  \t 3000\t   402000 ns/op\t 149.0 B/session")
	want := sample{Store: "redis", Idle: "on", Op: "renew", Impl: "scsession-goredis", NsPerOp: 402000}
	if !ok || s != want {
		t.Errorf("parseLine = %+v, %v; want %+v", s, ok, want)
	}
	for _, line := range []string{"PASS", "BenchmarkCodec/x-2 100 5 ns/op", "BenchmarkRequest/store=mem/op=read/impl=scs-2 100 5 B/op", "BenchmarkRequests/store=mem/op=read/impl=scs-2 100 5 ns/op"} {
		if _, ok := parseLine(line); ok {
			t.Errorf("parseLine(%q) = ok; want it skipped", line)
		}
	}
}

// TestOverheads checks the medians, the floor subtracted, login for
// op=renew, a backend's own benchmark (BenchmarkRequestCluster), and what
// is left out: idle=on, op=none, scsession-lww, an op that no store has a
// floor for (cookie's write here) and other benchmarks.
func TestOverheads(t *testing.T) {
	samples, err := parse(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 14 {
		t.Fatalf("parse found %d samples, want 14", len(samples))
	}
	c := overheads(samples, "off")
	if got := strings.Join(c.Impls, ","); got != "scs,scsession,scsession-goredis" {
		t.Errorf("implementations %s", got)
	}
	if len(c.Backends) != 3 || c.Backends[0].Name != "memstore" || c.Backends[1].Name != "Redis" || c.Backends[2].Name != "Redis Cluster" {
		t.Fatalf("backends %+v, want memstore, Redis and Redis Cluster", c.Backends)
	}
	mem := c.Backends[0]
	if len(mem.Ops) != 1 || mem.Ops[0].Name != "read" {
		t.Fatalf("memstore ops %+v, want read only", mem.Ops)
	}
	// Floor median 3,000 ns; scs median 59,000; scsession 5,000.
	if got := mem.Ops[0].Us; got["scs"] != 56 || got["scsession"] != 2 {
		t.Errorf("memstore read overheads %v, want scs 56 µs, scsession 2 µs", got)
	}
	redis := c.Backends[1]
	if len(redis.Ops) != 1 || redis.Ops[0].Name != "login" || redis.Ops[0].Us["scsession-goredis"] != 400 {
		t.Errorf("Redis ops %+v, want login 400 µs for scsession-goredis", redis.Ops)
	}
	// The cluster has no floor of its own: memstore's is taken.
	if cluster := c.Backends[2]; len(cluster.Ops) != 1 || cluster.Ops[0].Us["scsession-goredis"] != 297 {
		t.Errorf("Redis Cluster ops %+v, want read 297 µs for scsession-goredis", cluster.Ops)
	}

	var svg strings.Builder
	render(&svg, c)
	for _, s := range []string{"<svg ", "memstore", "56 µs", "2.0 µs", "scsession (goredisstore)", "µs per request above the router alone"} {
		if !strings.Contains(svg.String(), s) {
			t.Errorf("the SVG does not contain %q", s)
		}
	}
}
