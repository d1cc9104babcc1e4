// Command benchratio turns the outputs of several runs of `go test -bench`, one
// file per run, into Markdown tables of per-run ratios between two libraries of
// the same benchmark: the ratio within each run, then their median. Ratios
// taken within a run hold better than rates compared across runs on a shared
// machine, and a target such as "at least 0.7× raw" is about them.
//
//	benchratio -pair rampart/nats -min 0.7 -filter Consume runs/*.txt
//	benchratio -medians runs/*.txt
//
// Each file holds one run: one line per sub-benchmark (go test -count 1); a
// sub-benchmark twice in a file is an error. Sub-benchmarks are named lib=NAME,
// lib= last; what comes before lib= is the group (such as
// BenchmarkJetStreamConsume/server=external). The -GOMAXPROCS suffix go test
// adds is dropped. Flags come before the files. For each group holding both
// libraries of a -pair A/B in a file, the ratio is A's -metric over B's when the
// metric is a rate (its unit ends in "/s", such as msg/s), or B's over A's when
// it is a cost (ns/op, …): above 1, A did better. -min counts the runs at or
// above it; -split SUBSTR also gives the median of the files whose name (not
// directory) holds SUBSTR and of the others (such as runs in reverse order).
// The runs column follows the files' order, with "–" for a run without both
// libraries. -medians prints, instead, each library's median of every metric
// of its lines.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-go/rampart/bench/internal/stats"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(2)
	}
}

// result is what one run says of one library of a group: its metrics by unit.
type result map[string]float64

// runFile is one run: its file's name and its results by group, then library.
type runFile struct {
	name   string
	groups map[string]map[string]result
}

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
	metric    = regexp.MustCompile(`(-?[\d.]+(?:e[+-]?\d+)?) (\S+)`)
)

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("benchratio", flag.ContinueOnError)
	pairs := fs.String("pair", "", "A/B[,A/B…]: the libraries to compare, A's ratio to B")
	unit := fs.String("metric", "msg/s", "the unit of the metric compared")
	atLeast := fs.Float64("min", 0, "count the runs whose ratio is at least this (0: no count)")
	filter := fs.String("filter", "", "only the groups that match this regular expression")
	split := fs.String("split", "", "also the medians of the files whose name holds this, and of the others")
	medians := fs.Bool("medians", false, "print each library's median of every metric instead of ratios")
	if err := fs.Parse(args); err != nil {
		return err
	}
	re, err := regexp.Compile(*filter)
	if err != nil {
		return fmt.Errorf("-filter: %w", err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no files: give the output of each run as a file")
	}
	type pair struct{ a, b string }
	var ps []pair
	if !*medians {
		if *pairs == "" {
			return fmt.Errorf("-pair is required (or -medians)")
		}
		for _, p := range strings.Split(*pairs, ",") {
			a, b, ok := strings.Cut(p, "/")
			if !ok || a == "" || b == "" || strings.Contains(b, "/") {
				return fmt.Errorf("-pair %q: want A/B", p)
			}
			ps = append(ps, pair{a, b})
		}
	}
	var runs []runFile
	var order []string // groups in the order first seen
	for _, name := range fs.Args() {
		r, err := readRun(name, &order)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	order = slices.DeleteFunc(order, func(g string) bool { return !re.MatchString(g) })
	if *medians {
		return printMedians(out, runs, order)
	}
	var b strings.Builder // printed only if every pair has a row
	fmt.Fprintf(&b, "| group | ratio (%s) | runs | median |", *unit)
	sep := "|---|---|---|---|"
	if *split != "" {
		fmt.Fprintf(&b, " %q / other files |", *split)
		sep += "---|"
	}
	if *atLeast > 0 {
		fmt.Fprintf(&b, " at or above %g |", *atLeast)
		sep += "---|"
	}
	fmt.Fprintf(&b, "\n%s\n", sep)
	rows := make([]int, len(ps))
	for _, g := range order {
		for i, p := range ps {
			texts, all, in, rest := ratios(runs, g, p.a, p.b, *unit, *split)
			if len(all) == 0 {
				continue
			}
			rows[i]++
			fmt.Fprintf(&b, "| %s | %s / %s | %s | **%.2f** |", g, p.a, p.b, strings.Join(texts, " / "), stats.Median(all))
			if *split != "" {
				fmt.Fprintf(&b, " %s / %s |", ratioText(in), ratioText(rest))
			}
			if *atLeast > 0 {
				n := 0
				for _, x := range all {
					if x >= *atLeast {
						n++
					}
				}
				fmt.Fprintf(&b, " %d of %d |", n, len(all))
			}
			fmt.Fprintln(&b)
		}
	}
	for i, n := range rows {
		if n == 0 {
			return fmt.Errorf("-pair %s/%s: no run of any group%s has both libraries with a %s metric", ps[i].a, ps[i].b, filterNote(*filter), *unit)
		}
	}
	_, err = io.WriteString(out, b.String())
	return err
}

// ratios returns, for group g, the ratio of library a to b in each run as
// printed ("–" for a run without both), the ratios of the runs with both, and
// those split between the files whose name holds split and the others.
func ratios(runs []runFile, g, a, b, unit, split string) (texts []string, all, in, rest []float64) {
	texts = make([]string, len(runs))
	for j, r := range runs {
		x, ok := ratio(r.groups[g][a], r.groups[g][b], unit)
		if !ok {
			texts[j] = "–"
			continue
		}
		texts[j] = fmt.Sprintf("%.2f", x)
		all = append(all, x)
		if split != "" && strings.Contains(filepath.Base(r.name), split) {
			in = append(in, x)
		} else {
			rest = append(rest, x)
		}
	}
	return texts, all, in, rest
}

// filterNote is " matching filter", or "" for no filter.
func filterNote(filter string) string {
	if filter == "" {
		return ""
	}
	return fmt.Sprintf(" matching %q", filter)
}

// readRun reads one run's output, adding the groups it sees first to order.
func readRun(name string, order *[]string) (runFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return runFile{}, err
	}
	defer f.Close()
	r := runFile{name: name, groups: map[string]map[string]result{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		i := strings.LastIndex(m[1], "lib=")
		if i < 0 {
			continue
		}
		group, lib := strings.TrimSuffix(m[1][:i], "/"), m[1][i+len("lib="):]
		if _, dup := r.groups[group][lib]; dup {
			return runFile{}, fmt.Errorf("%s: %s/lib=%s appears twice: give one run per file (go test -count 1)", name, group, lib)
		}
		if r.groups[group] == nil {
			r.groups[group] = map[string]result{}
			if !slices.Contains(*order, group) {
				*order = append(*order, group)
			}
		}
		res := result{}
		for _, f := range metric.FindAllStringSubmatch(m[2], -1) {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return runFile{}, fmt.Errorf("%s: %q: %w", name, f[0], err)
			}
			res[f[2]] = v
		}
		r.groups[group][lib] = res
	}
	if err := sc.Err(); err != nil {
		return runFile{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(r.groups) == 0 {
		return runFile{}, fmt.Errorf("%s: no benchmark lines with lib=NAME", name)
	}
	return r, nil
}

// ratio returns a's metric unit over b's for a rate, b's over a's for a cost,
// and false if either is missing or zero.
func ratio(a, b result, unit string) (float64, bool) {
	x, okA := a[unit]
	y, okB := b[unit]
	if !okA || !okB || x == 0 || y == 0 {
		return 0, false
	}
	if strings.HasSuffix(unit, "/s") {
		return x / y, true
	}
	return y / x, true
}

// printMedians prints, for each group and library, the median over the runs of
// each metric, and how many runs it took.
func printMedians(out io.Writer, runs []runFile, order []string) error {
	for _, g := range order {
		var libs, units []string
		for _, r := range runs {
			for lib, res := range r.groups[g] {
				if !slices.Contains(libs, lib) {
					libs = append(libs, lib)
				}
				for u := range res {
					if !slices.Contains(units, u) {
						units = append(units, u)
					}
				}
			}
		}
		slices.Sort(libs)
		slices.Sort(units)
		fmt.Fprintf(out, "\n%s (medians)\n\n| library | runs | %s |\n|---|---|%s\n", g, strings.Join(units, " | "), strings.Repeat("---|", len(units)))
		for _, lib := range libs {
			n := 0
			cells := make([]string, len(units))
			for i, u := range units {
				var v []float64
				for _, r := range runs {
					if x, ok := r.groups[g][lib][u]; ok {
						v = append(v, x)
					}
				}
				n = max(n, len(v))
				cells[i] = medianText(v)
			}
			fmt.Fprintf(out, "| %s | %d | %s |\n", lib, n, strings.Join(cells, " | "))
		}
	}
	return nil
}

// ratioText is the median of the ratios v with two decimals, or "–" for none.
func ratioText(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", stats.Median(v))
}

// medianText is the median of v: whole from 100 up, else with three
// significant digits; "–" for none.
func medianText(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	m := stats.Median(v)
	if math.Abs(m) < 100 {
		return strconv.FormatFloat(m, 'g', 3, 64)
	}
	return strconv.FormatFloat(m, 'f', 0, 64)
}
