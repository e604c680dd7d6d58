// Command targets reads the output of bench/run's go test -bench (the
// BenchmarkRequest family) and prints each target of issues #6 and #12 with
// the medians it was judged on: reached or missed.
//
//	go run ./bench/targets bench/out/bench.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results[name][unit] holds every sample of one benchmark, name without
// "BenchmarkRequest/" and the -GOMAXPROCS suffix.
type results map[string]map[string][]float64

var procs = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader) (results, error) {
	res := results{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkRequest/") {
			continue
		}
		name := procs.ReplaceAllString(strings.TrimPrefix(f[0], "BenchmarkRequest/"), "")
		if res[name] == nil {
			res[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %v", name, f[i], err)
			}
			res[name][f[i+1]] = append(res[name][f[i+1]], v)
		}
	}
	return res, sc.Err()
}

// median of one unit of one benchmark; ok is false when it was not run.
func (res results) median(name, unit string) (float64, bool) {
	s := slices.Clone(res[name][unit])
	if len(s) == 0 {
		return 0, false
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// overhead is impl's median above the floor's, for one store, idle and op.
func (res results) overhead(store, idle, op, impl, unit string) (float64, bool) {
	prefix := "store=" + store + "/idle=" + idle + "/op=" + op + "/impl="
	v, ok1 := res.median(prefix+impl, unit)
	floor, ok2 := res.median(prefix+"floor", unit)
	return v - floor, ok1 && ok2
}

type row struct {
	target, measured string
	reached          bool
}

func main() {
	in := io.Reader(os.Stdin)
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	res, err := parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "targets:", err)
		os.Exit(1)
	}
	var rows []row
	ratio := func(target string, limit float64, store, idle, op, unit string) {
		ours, ok1 := res.overhead(store, idle, op, "scsession", unit)
		theirs, ok2 := res.overhead(store, idle, op, "scs", unit)
		if !ok1 || !ok2 {
			return
		}
		r := ours / theirs
		rows = append(rows, row{target, fmt.Sprintf("%.3f (scsession %s, scs %s above the floor)", r, num(ours, unit), num(theirs, unit)), r <= limit})
	}
	ratio("read overhead, memstore <= 1/20 of scs's (time)", 0.05, "mem", "off", "read", "ns/op") // issue #12; #6 asked 1/10
	ratio("write overhead, memstore <= 1/5 of scs's (time)", 0.2, "mem", "off", "write", "ns/op")
	for _, op := range []string{"read", "write", "none", "renew"} {
		ratio("allocations above the floor <= 1/5 of scs's, memstore, op="+op, 0.2, "mem", "off", op, "allocs/op")
	}
	for _, idle := range []string{"off", "on"} {
		if d, ok := res.overhead("mem", idle, "none", "scsession", "ns/op"); ok {
			rows = append(rows, row{"request that never calls Get/Update < 1 us above the floor, memstore, idle=" + idle, num(d, "ns/op"), d < 1000})
		}
	}
	// Every store call is one round trip, a script's (renews/op) too.
	// renews/op is absent from outputs that predate it: none were made.
	trips := func(target string, want float64, idle, op string) {
		name := "store=redis/idle=" + idle + "/op=" + op + "/impl="
		var sum [2]float64
		for i, impl := range []string{"scsession", "scs"} {
			for _, unit := range []string{"finds/op", "writes/op", "deletes/op", "renews/op"} {
				v, ok := res.median(name+impl, unit)
				if !ok && unit != "renews/op" {
					return
				}
				sum[i] += v
			}
		}
		rows = append(rows, row{target, fmt.Sprintf("%.2f (scs %.2f)", sum[0], sum[1]), sum[0] <= want})
	}
	trips("Redis round trips, read: 1", 1, "off", "read")
	trips("Redis round trips, write: 2", 2, "off", "write")
	trips("Redis round trips, read with IdleTimeout: 1", 1, "on", "read")
	trips("Redis login (RenewToken + Update) <= 2 round trips", 2, "off", "renew")
	for _, store := range []string{"mem", "redis"} { // issue #7: what the concurrency guarantees cost
		name := "store=" + store + "/idle=off/op=write/impl="
		cas, ok1 := res.median(name+"scsession", "ns/op")
		lww, ok2 := res.median(name+"scsession-lww", "ns/op")
		if ok1 && ok2 {
			rows = append(rows, row{"compare-and-set saves cost <= 10% on the write benchmark, store=" + store,
				fmt.Sprintf("%+.1f%% (%s, last write wins %s)", (cas/lww-1)*100, num(cas, "ns/op"), num(lww, "ns/op")), cas <= 1.1*lww})
		}
	}
	if ours, ok := res.median("store=mem/idle=off/op=read/impl=scsession", "B/session"); ok {
		theirs, _ := res.median("store=mem/idle=off/op=read/impl=scs", "B/session")
		rows = append(rows, row{"bytes stored per session <= half of gob's", fmt.Sprintf("%.0f B (gob %.0f B, ratio %.2f)", ours, theirs, ours/theirs), ours <= theirs/2})
	}

	fmt.Println("| target | measured (medians) | reached |")
	fmt.Println("|---|---|---|")
	for _, r := range rows {
		verdict := "MISSED"
		if r.reached {
			verdict = "yes"
		}
		fmt.Printf("| %s | %s | %s |\n", r.target, r.measured, verdict)
	}
}

func num(v float64, unit string) string {
	if unit == "ns/op" {
		return fmt.Sprintf("%.0f ns", v)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
