// Command benchtable turns `go test -bench -benchmem` output into Markdown tables, one
// per benchmark, with each library's time and allocations as a ratio of Rampart's.
//
//	go test -run '^$' -bench . -benchmem ./... | go run ./cmd/benchtable
//
// Sub-benchmarks are named lib=NAME (optionally after case=NAME/); the row named
// lib=rampart is the reference of its group. With -count N, each row is the median
// of the N runs, and the table says how many runs it took.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-go/rampart/bench/internal/stats"
)

type row struct {
	lib               string
	ns, bytes, allocs float64
	runs              []float64 // ns/op of every run, for the median
}

var (
	line   = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)
	bytes  = regexp.MustCompile(`\s([\d.]+) B/op`)
	allocs = regexp.MustCompile(`\s([\d.]+) allocs/op`)
)

// field returns the number before unit on the line (custom metrics may stand between
// ns/op and B/op), or "" if there is none.
func field(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	groups := map[string][]row{}
	var order []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		text := sc.Text()
		m := line.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		name := m[1]
		i := strings.LastIndex(name, "lib=")
		if i < 0 {
			continue
		}
		group, lib := strings.TrimSuffix(name[:i], "/"), name[i+len("lib="):]
		if _, seen := groups[group]; !seen {
			order = append(order, group)
		}
		rows := groups[group]
		i = slices.IndexFunc(rows, func(r row) bool { return r.lib == lib })
		if i < 0 {
			rows = append(rows, row{lib: lib})
			i = len(rows) - 1
		}
		rows[i].runs = append(rows[i].runs, num(m[2]))
		rows[i].bytes, rows[i].allocs = num(field(bytes, text)), num(field(allocs, text))
		groups[group] = rows
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark lines with lib=NAME found on standard input")
	}
	for _, g := range order {
		rows := groups[g]
		for i := range rows {
			rows[i].ns = stats.Median(rows[i].runs)
		}
		ref := rows[0]
		for _, r := range rows {
			if r.lib == "rampart" {
				ref = r
			}
		}
		sort.SliceStable(rows, func(a, b int) bool { return rows[a].lib == "rampart" && rows[b].lib != "rampart" })
		fmt.Fprintf(out, "\n%s (median of %d runs)\n\n| library | ns/op | B/op | allocs/op | time vs %s |\n|---|---:|---:|---:|---:|\n", g, len(ref.runs), ref.lib)
		for _, r := range rows {
			fmt.Fprintf(out, "| %s | %.1f | %.0f | %.0f | %s |\n", r.lib, r.ns, r.bytes, r.allocs, ratio(r.ns, ref.ns))
		}
	}
	return nil
}

func num(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

func ratio(v, ref float64) string {
	if ref == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", v/ref)
}
