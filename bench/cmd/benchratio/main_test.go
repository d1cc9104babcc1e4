package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeRuns writes one file per run into a temporary directory and returns
// their paths.
func writeRuns(t *testing.T, runs map[string]string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"1-normal.txt", "1-reverse.txt", "2-normal.txt", "2-reverse.txt"} {
		text, ok := runs[name]
		if !ok {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
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

func TestRatios(t *testing.T) {
	runs := map[string]string{
		"1-normal.txt":  "goos: linux\n" + line("s=a", "raw", 100, 10) + line("s=a", "rampart", 80, 12.5) + line("s=b", "raw", 100, 10),
		"1-reverse.txt": line("s=a", "rampart", 60, 20) + line("s=a", "raw", 100, 10),
		"2-normal.txt":  line("s=a", "raw", 100, 10) + line("s=a", "rampart", 90, 11),
		"2-reverse.txt": line("s=a", "raw", 50, 10) + line("s=a", "rampart", 50, 5),
	}
	paths := writeRuns(t, runs)
	var out strings.Builder
	if err := run(append([]string{"-pair", "rampart/raw", "-min", "0.8", "-split", "reverse"}, paths...), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	// Rates: 0.80, 0.60, 0.90, 1.00; median 0.85; reverse files 0.60, 1.00
	// (median 0.80), the others 0.80, 0.90 (0.85); three at or above 0.8. Group
	// s=b has no rampart: no row.
	want := "| BenchmarkX/s=a | rampart / raw | 0.80 / 0.60 / 0.90 / 1.00 | **0.85** | 0.80 / 0.85 | 3 of 4 |\n"
	if !strings.Contains(got, want) {
		t.Errorf("output\n%s\nwant the row\n%s", got, want)
	}
	if strings.Contains(got, "s=b") {
		t.Errorf("output has a row for a group without both libraries:\n%s", got)
	}

	// A cost: raw's ns/op over rampart's, so that above 1 rampart did better.
	out.Reset()
	if err := run(append([]string{"-pair", "rampart/raw", "-metric", "ns/op"}, paths...), &out); err != nil {
		t.Fatal(err)
	}
	if want := "| BenchmarkX/s=a | rampart / raw | 0.80 / 0.50 / 0.91 / 2.00 | **0.85** |\n"; !strings.Contains(out.String(), want) {
		t.Errorf("ns/op output\n%s\nwant the row\n%s", out.String(), want)
	}
}

func TestMedians(t *testing.T) {
	paths := writeRuns(t, map[string]string{
		"1-normal.txt": line("s=a", "raw", 100, 10) + line("s=a", "rampart", 80, 12.5),
		"2-normal.txt": line("s=a", "raw", 300, 30) + line("s=a", "rampart", 90, 11),
	})
	var out strings.Builder
	if err := run(append([]string{"-medians"}, paths...), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| library | runs | B/op | allocs/op | msg/s | ns/op |",
		"| rampart | 2 | 120 | 3 | 85 | 11.8 |",
		"| raw | 2 | 120 | 3 | 200 | 20 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output\n%s\nwant the line\n%s", out.String(), want)
		}
	}
}

func TestErrors(t *testing.T) {
	good := writeRuns(t, map[string]string{"1-normal.txt": line("s=a", "raw", 100, 10)})
	empty := writeRuns(t, map[string]string{"1-normal.txt": "PASS\nok  \tx\t1.0s\n"})
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no files"},
		{good, "-pair is required"},
		{append([]string{"-pair", "rampart"}, good...), `-pair "rampart": want A/B`},
		{append([]string{"-pair", "a/b", "-filter", "("}, good...), "-filter"},
		{append([]string{"-pair", "a/b"}, empty...), "no benchmark lines"},
		{[]string{"-pair", "a/b", "/nonexistent/run.txt"}, "nonexistent"},
	} {
		err := run(c.args, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q) = %v, want an error with %q", c.args, err, c.want)
		}
	}
}
