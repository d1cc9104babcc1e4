// Package bench measures Rampart beside its peers in one run, so that ratios hold on a
// shared, noisy machine. It is a separate module so that the peers stay out of
// Rampart's own go.mod. Run it with `make bench` from the repository root; results and
// the exact commands are recorded in docs/benchmarks.md.
package bench
