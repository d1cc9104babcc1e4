package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeRuns writes each run into dir under its name, in the order given, and
// returns their paths.
func writeRuns(t *testing.T, dir string, runs ...[2]string) []string {
	t.Helper()
	var paths []string
	for _, r := range runs {
		p := filepath.Join(dir, r[0])
		if err := os.WriteFile(p, []byte(r[1]), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// line is a benchmark line of group g and library lib with a rate and a time.
func line(g, lib string, rate, ns float64) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return "BenchmarkX/" + g + "/lib=" + lib + "-2   1000   " + f(ns) + " ns/op   " + f(rate) + " msg/s   120 B/op   3 allocs/op\n"
}

// runOut runs the command with args and returns its output, failing t on an error.
func runOut(t *testing.T, args ...string) string {
	t.Helper()
	var out strings.Builder
	if err := run(args, &out); err != nil {
		t.Fatalf("run(%q): %v", args, err)
	}
	return out.String()
}

func TestRatios(t *testing.T) {
	// A directory whose name holds the split's text: -split looks at file names only.
	dir := filepath.Join(t.TempDir(), "reverse-runs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	paths := writeRuns(t, dir,
		[2]string{"1-normal.txt", "goos: linux\n" + line("s=a", "raw", 100, 10) + line("s=a", "rampart", 80, 12.5) + line("s=b", "raw", 100, 10) + "PASS\n"},
		[2]string{"1-reverse.txt", line("s=a", "rampart", 60, 20) + line("s=a", "raw", 100, 10)},
		[2]string{"2-normal.txt", line("s=a", "raw", 100, 10)}, // no rampart in this run
		[2]string{"2-reverse.txt", line("s=a", "raw", 50, 10) + line("s=a", "rampart", 50, 5)},
		[2]string{"3-normal.txt", line("s=a", "raw", 100, 10) + line("s=a", "rampart", 90, 11)},
	)
	// Rates: 0.80, 0.60, –, 1.00, 0.90; median of the four 0.85; reverse files
	// 0.60 and 1.00 (median 0.80), the others 0.80 and 0.90 (0.85); three at or
	// above 0.8. Group s=b has no rampart: no row.
	got := runOut(t, append([]string{"-pair", "rampart/raw", "-min", "0.8", "-split", "reverse"}, paths...)...)
	want := "| group | ratio (msg/s) | runs | median | \"reverse\" / other files | at or above 0.8 |\n" +
		"|---|---|---|---|---|---|\n" +
		"| BenchmarkX/s=a | rampart / raw | 0.80 / 0.60 / – / 1.00 / 0.90 | **0.85** | 0.80 / 0.85 | 3 of 4 |\n"
	if got != want {
		t.Errorf("output\n%s\nwant\n%s", got, want)
	}

	// A cost: raw's ns/op over rampart's, so that above 1 rampart did better;
	// an odd number of runs (the first three with both).
	got = runOut(t, "-pair", "rampart/raw", "-metric", "ns/op", paths[0], paths[1], paths[3])
	if want := "| BenchmarkX/s=a | rampart / raw | 0.80 / 0.50 / 2.00 | **0.80** |\n"; !strings.HasSuffix(got, want) {
		t.Errorf("ns/op output\n%s\nwant it to end with\n%s", got, want)
	}
}

func TestMetrics(t *testing.T) {
	// Custom metrics, a rate other than msg/s, an exponent, a negative value.
	text := func(lib string, mbs, cpu string) string {
		return "BenchmarkY/lib=" + lib + "-2   10   100 ns/op   " + cpu + " cpu-ns/msg   " + mbs + " MB/s   -3 d/op\n"
	}
	paths := writeRuns(t, t.TempDir(),
		[2]string{"1.txt", text("a", "50", "2e+03") + text("b", "100", "1000")},
	)
	if got := runOut(t, "-pair", "a/b", "-metric", "MB/s", paths[0]); !strings.Contains(got, "| a / b | 0.50 |") {
		t.Errorf("MB/s output\n%s\nwant the ratio 0.50 (a rate: a over b)", got)
	}
	if got := runOut(t, "-pair", "a/b", "-metric", "cpu-ns/msg", paths[0]); !strings.Contains(got, "| a / b | 0.50 |") {
		t.Errorf("cpu-ns/msg output\n%s\nwant the ratio 0.50 (a cost of 2e+03 against 1000: b over a)", got)
	}
	got := runOut(t, "-medians", paths[0])
	for _, want := range []string{
		"| library | runs | MB/s | cpu-ns/msg | d/op | ns/op |",
		"| a | 1 | 50 | 2000 | -3 | 100 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("medians output\n%s\nwant the line\n%s", got, want)
		}
	}
}

func TestMedians(t *testing.T) {
	paths := writeRuns(t, t.TempDir(),
		[2]string{"1.txt", line("s=a", "raw", 100, 10) + line("s=a", "rampart", 80, 12.5)},
		[2]string{"2.txt", line("s=a", "raw", 300, 30) + line("s=a", "rampart", 90, 11)},
		[2]string{"3.txt", line("s=a", "rampart", 70, 14)},
	)
	got := runOut(t, append([]string{"-medians"}, paths...)...)
	want := "\nBenchmarkX/s=a (medians)\n\n" +
		"| library | runs | B/op | allocs/op | msg/s | ns/op |\n" +
		"|---|---|---|---|---|---|\n" +
		"| rampart | 3 | 120 | 3 | 80 | 12.5 |\n" +
		"| raw | 2 | 120 | 3 | 200 | 20 |\n"
	if got != want {
		t.Errorf("output\n%s\nwant\n%s", got, want)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeRuns(t, dir, [2]string{"good.txt", line("s=a", "raw", 100, 10) + line("s=a", "rampart", 80, 12.5)})
	empty := writeRuns(t, dir, [2]string{"empty.txt", "PASS\nok  \tx\t1.0s\n"})
	twice := writeRuns(t, dir, [2]string{"twice.txt", line("s=a", "raw", 100, 10) + line("s=a", "raw", 90, 11)})
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no files"},
		{good, "-pair is required"},
		{append([]string{"-pair", "rampart"}, good...), `-pair "rampart": want A/B`},
		{append([]string{"-pair", "rampart/raw,bad"}, good...), `-pair "bad": want A/B`},
		{append([]string{"-pair", "rampart/rwa"}, good...), "-pair rampart/rwa: no run of any group has both"},
		{append([]string{"-pair", "rampart/raw", "-metric", "msgs/s"}, good...), "with a msgs/s metric"},
		{append([]string{"-pair", "rampart/raw", "-filter", "Nope"}, good...), `matching "Nope"`},
		{append([]string{"-pair", "a/b", "-filter", "("}, good...), "-filter"},
		{append([]string{"-pair", "a/b"}, empty...), "no benchmark lines"},
		{append([]string{"-pair", "a/b"}, twice...), "s=a/lib=raw appears twice"},
		{[]string{"-pair", "a/b", "/nonexistent/run.txt"}, "nonexistent"},
	} {
		var out strings.Builder
		err := run(c.args, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q) = %v, want an error with %q", c.args, err, c.want)
		}
		if out.Len() > 0 {
			t.Errorf("run(%q) printed %q before failing", c.args, out.String())
		}
	}
	if err := run([]string{"-h"}, &strings.Builder{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run(-h) = %v, want flag.ErrHelp (main exits 0)", err)
	}
}
