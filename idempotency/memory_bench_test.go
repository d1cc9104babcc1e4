package idempotency_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/idempotency"
)

// The benchmarks of this file use a store of 1<<20 entries, the size the bus's
// consume benchmark uses, and measure what such a store costs the garbage collector.

const bigStore = 1 << 20

// bigKeys are 1.5 × bigStore distinct keys, made once: a run that goes through them
// fills the store and then evicts.
var bigKeys = sync1(func() []idempotency.Key { return benchKeys(bigStore + bigStore/2) })

func sync1[T any](f func() T) func() T {
	var (
		done bool
		v    T
	)
	return func() T {
		if !done {
			v, done = f(), true
		}
		return v
	}
}

// Unique keys from several goroutines into a store of 1<<20 entries.
func BenchmarkMemoryClaimDoneParallelBig(b *testing.B) {
	keys := bigKeys()
	m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: bigStore})
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := keys[next.Add(1)%uint64(len(keys))]
			_, tok, _ := m.Claim(ctx, k, time.Minute)
			_ = m.Done(ctx, k, tok)
		}
	})
}

// The time of a full garbage collection while the store holds 500,000 done marks
// (and nothing else of size is alive: the keys are made one at a time), and the
// live heap per entry.
func BenchmarkMemoryGC(b *testing.B) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: bigStore})
	for i := range 500_000 {
		k := key(fmt.Sprintf("0190a4b2-7c1e-7d4f-9a3b-%012d", i))
		_, tok, _ := m.Claim(ctx, k, time.Minute)
		_ = m.Done(ctx, k, tok)
	}
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
	b.StopTimer()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	b.ReportMetric(float64(live[0].Value.Uint64())/500_000, "live-B/entry")
	runtime.KeepAlive(m)
}

var sink []byte

// Claim+Done of unique keys in a store of 1<<20 entries, with the key made for each
// message (as a consumer makes it from the message) and 512 bytes of other garbage
// (the rest of a consumer's work), reporting the CPU time of the garbage collector.
func BenchmarkMemoryClaimDoneGC(b *testing.B) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: bigStore})
	claimDone := func(i int) {
		k := key(string(strconv.AppendInt([]byte("0190a4b2-7c1e-7d4f-9a3b-"), int64(i), 10)))
		_, tok, _ := m.Claim(ctx, k, time.Minute)
		_ = m.Done(ctx, k, tok)
	}
	// Fill the store first, so that the run measures the steady state.
	for i := range bigStore {
		claimDone(i)
	}
	samples := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/cycles/total:gc-cycles"}}
	runtime.GC()
	metrics.Read(samples)
	gc0, cycles0 := samples[0].Value.Float64(), samples[1].Value.Uint64()
	b.ReportAllocs()
	b.ResetTimer()
	i := bigStore
	for b.Loop() {
		claimDone(i)
		i++
		sink = make([]byte, 512)
	}
	b.StopTimer()
	metrics.Read(samples)
	gc, cycles := samples[0].Value.Float64()-gc0, samples[1].Value.Uint64()-cycles0
	// The CPU time of the collections, idle-time marking included, whatever the
	// load of the machine: per message, and per collection.
	b.ReportMetric(gc*1e9/float64(b.N), "gc-cpu-ns/op")
	b.ReportMetric(gc*1e3/float64(max(1, cycles)), "gc-cpu-ms/cycle")
	runtime.KeepAlive(m)
}
