package main

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
)

// A sample is one line of BenchmarkRequest output, e.g.
//
//	BenchmarkRequest/store=mem/idle=off/op=read/impl=scs-2  4582  59401 ns/op  ...
//
// A benchmark of its own for one backend, BenchmarkRequestCluster/op=read/...,
// is read as store=cluster.
type sample struct {
	Store, Idle, Op, Impl string
	NsPerOp               float64
}

// parse reads the BenchmarkRequest lines of go test -bench output and skips
// everything else (other benchmarks, headers, PASS, benchstat tables).
func parse(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if s, ok := parseLine(sc.Text()); ok {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

func parseLine(line string) (sample, bool) {
	fields := strings.Fields(line)
	if len(fields) < 4 || !strings.HasPrefix(fields[0], "BenchmarkRequest") {
		return sample{}, false
	}
	name := fields[0]
	top, _, _ := strings.Cut(name, "/")
	var s sample
	if suffix := strings.TrimPrefix(top, "BenchmarkRequest"); suffix != "" {
		if suffix[0] < 'A' || suffix[0] > 'Z' { // BenchmarkRequests, say: another benchmark
			return sample{}, false
		}
		s.Store = strings.ToLower(suffix)
	}
	// The -N suffix is GOMAXPROCS, added by the testing package.
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	for _, part := range strings.Split(name, "/")[1:] {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "store":
			s.Store = v
		case "idle":
			s.Idle = v
		case "op":
			s.Op = v
		case "impl":
			s.Impl = v
		}
	}
	if s.Store == "" || s.Op == "" || s.Impl == "" {
		return sample{}, false
	}
	// After the name and the iteration count, value-unit pairs.
	for i := 2; i+1 < len(fields); i += 2 {
		if fields[i+1] == "ns/op" {
			ns, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return sample{}, false
			}
			s.NsPerOp = ns
			return s, true
		}
	}
	return sample{}, false
}

// A chart is what render draws: for each backend, for each operation, a bar
// per implementation.
type chart struct {
	Title, Note string
	Impls       []string // the legend, in drawing order
	Backends    []backend
}

type backend struct {
	Name string
	Ops  []opBars
}

type opBars struct {
	Name string
	Us   map[string]float64 // implementation to overhead in µs; absent: not measured
}

// What the chart shows, in its order: the operations (op=renew is a login),
// the backends (store=...) with their names; unknown ones come after, named
// as the benchmark names them. impl=floor is what is subtracted;
// scsession-lww is an experiment, not a backend, and is left out.
var (
	chartOps     = []struct{ op, name string }{{"read", "read"}, {"write", "write"}, {"renew", "login"}}
	backendOrder = []string{"mem", "redis", "cluster", "postgres", "pgx", "cookie"}
	backendNames = map[string]string{"mem": "memstore", "redis": "Redis", "cluster": "Redis Cluster", "postgres": "PostgreSQL", "pgx": "PostgreSQL", "cookie": "cookie"}
	implOrder    = []string{"scs", "scsession", "scsession-goredis"}
	implsLeftOut = []string{"floor", "scsession-lww"}
	implNames    = map[string]string{"scsession-goredis": "scsession (goredisstore)"}
)

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// overheads turns samples into a chart: the median of each store, op and
// impl minus the median of impl=floor for the same store and op, in µs, for
// the given idle variant. The floor never touches a store, so a store
// measured without one (BenchmarkRequestCluster) takes the floor of the
// other stores for that op; an op without any floor is left out. A time
// below the floor's median (noise) shows as 0.
func overheads(samples []sample, idle string) chart {
	type key struct{ store, op, impl string }
	times := map[key][]float64{}
	var stores, impls []string
	for _, s := range samples {
		if s.Idle != idle && !(s.Idle == "" && idle == "off") {
			continue
		}
		k := key{s.Store, s.Op, s.Impl}
		times[k] = append(times[k], s.NsPerOp)
		if !slices.Contains(stores, s.Store) {
			stores = append(stores, s.Store)
		}
		if !slices.Contains(impls, s.Impl) && !slices.Contains(implsLeftOut, s.Impl) {
			impls = append(impls, s.Impl)
		}
	}
	var c chart
	c.Impls = ordered(impls, implOrder)
	for _, store := range ordered(stores, backendOrder) {
		b := backend{Name: backendNames[store]}
		if b.Name == "" {
			b.Name = store
		}
		for _, op := range chartOps {
			floor, ok := times[key{store, op.op, "floor"}]
			if !ok {
				for _, other := range stores {
					floor = append(floor, times[key{other, op.op, "floor"}]...)
				}
				if len(floor) == 0 {
					continue
				}
			}
			bars := opBars{Name: op.name, Us: map[string]float64{}}
			for _, impl := range c.Impls {
				if t, ok := times[key{store, op.op, impl}]; ok {
					bars.Us[impl] = max(0, median(t)-median(floor)) / 1000
				}
			}
			if len(bars.Us) > 0 {
				b.Ops = append(b.Ops, bars)
			}
		}
		if len(b.Ops) > 0 {
			c.Backends = append(c.Backends, b)
		}
	}
	// An implementation measured only where no floor was is not in the legend.
	c.Impls = slices.DeleteFunc(c.Impls, func(impl string) bool {
		for _, b := range c.Backends {
			for _, o := range b.Ops {
				if _, ok := o.Us[impl]; ok {
					return false
				}
			}
		}
		return true
	})
	return c
}

// ordered returns names in the order of known, then the others as found.
func ordered(names, known []string) []string {
	var out []string
	for _, k := range known {
		if slices.Contains(names, k) {
			out = append(out, k)
		}
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			out = append(out, n)
		}
	}
	return out
}

func implName(impl string) string {
	if n, ok := implNames[impl]; ok {
		return n
	}
	return impl
}
