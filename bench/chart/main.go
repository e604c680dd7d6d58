// Command chart draws BENCHMARKS.md's chart: what a session costs a request,
// by backend and operation, scs beside scsession. It reads the output of
// BenchmarkRequest (go test -bench, any -count) and writes an SVG.
//
// From the root of the repository:
//
//	go run ./bench/chart -o docs/bench.svg bench/out/bench.txt
//
// The cost is the median time per request minus the median of impl=floor
// (the router with no sessions) for the same store and operation, with
// IdleTimeout off (-idle on for the other half). Backends and
// implementations missing from the input are left out of the chart.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	out := flag.String("o", "", "write the SVG to `file` (default: standard output)")
	idle := flag.String("idle", "off", "the idle= variant to chart: off or on")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: chart [-o file.svg] [-idle off|on] [bench.txt ...]\n\nWith no files, chart reads standard input.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*out, *idle, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(out, idle string, files []string) error {
	var samples []sample
	read := func(r io.Reader, name string) error {
		s, err := parse(r)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		samples = append(samples, s...)
		return nil
	}
	if len(files) == 0 {
		if err := read(os.Stdin, "standard input"); err != nil {
			return err
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = read(f, name)
		f.Close()
		if err != nil {
			return err
		}
	}

	c := overheads(samples, idle)
	if len(c.Backends) == 0 {
		return fmt.Errorf("no BenchmarkRequest results with idle=%s and an impl=floor to subtract; run bench/run first", idle)
	}
	c.Title = "Per-request overhead of the session, by backend"
	c.Note = "median time above the router alone (impl=floor), IdleTimeout " + idle + "; each backend has its own scale"

	w := io.Writer(os.Stdout)
	var f *os.File
	if out != "" {
		var err error
		if f, err = os.Create(out); err != nil {
			return err
		}
		w = f
	}
	bw := bufio.NewWriter(w)
	render(bw, c)
	err := bw.Flush()
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
