package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/idempotency/idempotencytest"
)

func TestMemoryConformance(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
		return idempotency.NewMemory(idempotency.MemoryOptions{})
	})
}

// A small store (one shard, so that its bound is exact) passes the suite too, as
// long as it has room for the suite's keys.
func TestMemoryConformanceSmall(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
		return idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 1000})
	})
}

var ctx = context.Background()

func key(id string) idempotency.Key {
	return idempotency.Key{Consumer: "welcome-email", MessageID: id}
}

func mustClaim(t *testing.T, s idempotency.Store, id string, lease time.Duration, want idempotency.Status) idempotency.Token {
	t.Helper()
	st, tok, err := s.Claim(ctx, key(id), lease)
	if err != nil || st != want {
		t.Fatalf("Claim(%q) = %v, %v; want %v", id, st, err, want)
	}
	return tok
}

func mustDone(t *testing.T, s idempotency.Store, id string, tok idempotency.Token) {
	t.Helper()
	if err := s.Done(ctx, key(id), tok); err != nil {
		t.Fatalf("Done(%q) = %v, want nil", id, err)
	}
}

// claimDone claims and marks each id.
func claimDone(t *testing.T, s idempotency.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		mustDone(t, s, id, mustClaim(t, s, id, time.Minute, idempotency.Claimed))
	}
}

func checkLen(t *testing.T, m *idempotency.Memory, want int) {
	t.Helper()
	if got := m.Len(); got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
}

func TestMemoryRetention(t *testing.T) {
	for _, tc := range []struct {
		retention, want time.Duration
	}{
		{0, 24 * time.Hour}, // the default
		{-time.Second, 24 * time.Hour},
		{time.Hour, time.Hour},
		{time.Millisecond, time.Millisecond},
	} {
		t.Run(fmt.Sprint(tc.retention), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := idempotency.NewMemory(idempotency.MemoryOptions{Retention: tc.retention})
				claimDone(t, m, "a")
				time.Sleep(tc.want - time.Nanosecond)
				mustClaim(t, m, "a", time.Minute, idempotency.AlreadyDone)
				time.Sleep(time.Nanosecond)
				tok := mustClaim(t, m, "a", time.Minute, idempotency.Claimed)
				checkLen(t, m, 1)
				mustDone(t, m, "a", tok) // and it is remembered again
				time.Sleep(tc.want - time.Nanosecond)
				mustClaim(t, m, "a", time.Minute, idempotency.AlreadyDone)
			})
		})
	}
}

func TestMemoryLeaseExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := idempotency.NewMemory(idempotency.MemoryOptions{})
		first := mustClaim(t, m, "a", 10*time.Second, idempotency.Claimed)
		time.Sleep(10*time.Second - time.Nanosecond)
		mustClaim(t, m, "a", time.Minute, idempotency.InProgress)
		time.Sleep(time.Nanosecond)
		second := mustClaim(t, m, "a", time.Minute, idempotency.Claimed)
		if err := m.Done(ctx, key("a"), first); !errors.Is(err, idempotency.ErrNotClaimed) {
			t.Fatalf("Done with the expired claim's token = %v, want ErrNotClaimed", err)
		}
		mustDone(t, m, "a", second)

		// A lease that ended is over even when nobody else claimed the key.
		tok := mustClaim(t, m, "b", time.Second, idempotency.Claimed)
		time.Sleep(time.Second)
		if err := m.Release(ctx, key("b"), tok); !errors.Is(err, idempotency.ErrNotClaimed) {
			t.Fatalf("Release after the lease = %v, want ErrNotClaimed", err)
		}
		checkLen(t, m, 1) // the expired claim is gone
	})
}

// A lease too long to add to the clock does not wrap around into the past.
func TestMemoryHugeLease(t *testing.T) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{})
	mustClaim(t, m, "a", time.Duration(1<<63-1), idempotency.Claimed)
	mustClaim(t, m, "a", time.Minute, idempotency.InProgress)
}

func TestMemoryEvictsOldestDoneFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 3})
		// Claimed in the order a, b, c; done in the order b, c, a.
		ta := mustClaim(t, m, "a", time.Hour, idempotency.Claimed)
		tb := mustClaim(t, m, "b", time.Hour, idempotency.Claimed)
		tc := mustClaim(t, m, "c", time.Hour, idempotency.Claimed)
		for _, d := range []struct {
			id  string
			tok idempotency.Token
		}{{"b", tb}, {"c", tc}, {"a", ta}} {
			time.Sleep(time.Second)
			mustDone(t, m, d.id, d.tok)
		}
		mustClaim(t, m, "d", time.Hour, idempotency.Claimed) // evicts b, done first
		checkLen(t, m, 3)
		mustClaim(t, m, "c", time.Hour, idempotency.AlreadyDone)
		mustClaim(t, m, "a", time.Hour, idempotency.AlreadyDone)
		mustClaim(t, m, "d", time.Hour, idempotency.InProgress)
		mustClaim(t, m, "b", time.Hour, idempotency.Claimed) // forgotten; evicts c
		mustClaim(t, m, "a", time.Hour, idempotency.AlreadyDone)
		checkLen(t, m, 3)
	})
}

func TestMemoryNeverEvictsLiveClaims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 3})
		mustClaim(t, m, "a", time.Hour, idempotency.Claimed)
		claimDone(t, m, "b")
		tc := mustClaim(t, m, "c", time.Minute, idempotency.Claimed)
		mustClaim(t, m, "d", time.Hour, idempotency.Claimed) // evicts b, the only done mark

		st, tok, err := m.Claim(ctx, key("e"), time.Hour)
		if !errors.Is(err, idempotency.ErrFull) || st != 0 || tok != "" {
			t.Fatalf("Claim in a store full of live claims = %v, %q, %v; want ErrFull", st, tok, err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "idempotency: ") || !strings.Contains(msg, "3 live claims") {
			t.Errorf("ErrFull message = %q, want the package prefix and the number of live claims", msg)
		}
		for _, id := range []string{"a", "c", "d"} {
			mustClaim(t, m, id, time.Hour, idempotency.InProgress)
		}

		// Claims whose lease ended are dropped to make room, rather than done marks.
		time.Sleep(time.Minute)
		claimDone(t, m, "e") // drops c
		if err := m.Release(ctx, key("c"), tc); !errors.Is(err, idempotency.ErrNotClaimed) {
			t.Fatalf("Release of a claim dropped after its lease = %v, want ErrNotClaimed", err)
		}
		time.Sleep(59 * time.Minute)
		tf := mustClaim(t, m, "f", time.Hour, idempotency.Claimed) // drops a and d
		mustClaim(t, m, "e", time.Hour, idempotency.AlreadyDone)
		checkLen(t, m, 2)

		// Releasing a claim leaves no entry.
		if err := m.Release(ctx, key("f"), tf); err != nil {
			t.Fatal(err)
		}
		checkLen(t, m, 1)
	})
}

func TestMemoryExpiredBeforeEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 2, Retention: time.Hour})
		claimDone(t, m, "a")
		time.Sleep(30 * time.Minute)
		claimDone(t, m, "b")
		time.Sleep(30 * time.Minute) // a has expired, b has not
		claimDone(t, m, "c")         // takes a's place
		mustClaim(t, m, "b", time.Hour, idempotency.AlreadyDone)
		mustClaim(t, m, "c", time.Hour, idempotency.AlreadyDone)
		checkLen(t, m, 2)
	})
}

// Expired entries go away through the operations on other keys, with no goroutine.
func TestMemoryCleanupWithoutAccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 1000, Retention: time.Hour})
		for i := range 500 {
			claimDone(t, m, fmt.Sprint(i))
		}
		checkLen(t, m, 500)
		time.Sleep(time.Hour)
		checkLen(t, m, 500) // nothing happens on its own
		claimDone(t, m, "another")
		checkLen(t, m, 1)
	})
}

func TestMemoryBound(t *testing.T) {
	for _, max := range []int{1, 7, 2047, 2048, 10_000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: max})
			for i := range 5 * max {
				claimDone(t, m, strconv.Itoa(i))
				if i%997 == 0 && m.Len() > max {
					t.Fatalf("after %d messages, Len() = %d, want <= %d", i+1, m.Len(), max)
				}
			}
			// Sharded or not, every shard is full by now: the bound is exact.
			checkLen(t, m, max)
		})
	}
}

func TestMemoryDefaultBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 100,000 entries")
	}
	m := idempotency.NewMemory(idempotency.MemoryOptions{})
	// 130,000 keys put about 2,030 in each of the 64 shards of 1,562 or 1,563
	// entries: every shard fills up (the spread is about ±45).
	for i := range 130_000 {
		claimDone(t, m, strconv.Itoa(i))
	}
	checkLen(t, m, idempotency.DefaultMaxEntries)
}

// Many workers on overlapping keys of a small sharded store, for the race detector
// and the bound.
func TestMemoryConcurrent(t *testing.T) {
	const max, workers, ops = 2048, 8, 5000
	m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: max})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				k := key(fmt.Sprint((i*7 + w) % (3 * max)))
				st, tok, err := m.Claim(ctx, k, time.Minute)
				if err != nil {
					t.Errorf("Claim(%v) = %v", k, err)
					return
				}
				if st != idempotency.Claimed {
					continue
				}
				if i%3 == 0 {
					err = m.Release(ctx, k, tok)
				} else {
					err = m.Done(ctx, k, tok)
				}
				if err != nil {
					t.Errorf("Done/Release(%v) = %v", k, err)
					return
				}
				if i%500 == 0 {
					if n := m.Len(); n > max {
						t.Errorf("Len() = %d, want <= %d", n, max)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > max {
		t.Errorf("Len() = %d, want <= %d", n, max)
	}
}

// Claim+Done of a new message allocates nothing of its own (tokens are made 64 at
// a time, in one string), a duplicate nothing at all. (Keys are made outside the
// measured function; the store is full, so each message evicts an old one and the
// maps and queues stay the same size.)
func TestMemoryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const max = 1 << 12
	m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: max})
	keys := make([]idempotency.Key, 4*max)
	for i := range keys {
		keys[i] = key(fmt.Sprintf("0190a4b2-7c1e-7d4f-9a3b-%012d", i))
	}
	i := 0
	claimDone := func() {
		k := keys[i%len(keys)]
		i++
		st, tok, err := m.Claim(ctx, k, time.Minute)
		if err != nil || st != idempotency.Claimed {
			t.Fatalf("Claim = %v, %v", st, err)
		}
		if err := m.Done(ctx, k, tok); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 * max { // warm up: fill the store and grow its queues
		claimDone()
	}
	// AllocsPerRun rounds down to whole allocations per run, so a run is 64
	// messages: the one token block they share is counted, and anything more
	// per message shows.
	allocs := testing.AllocsPerRun(2*max/64, func() {
		for range 64 {
			claimDone()
		}
	})
	t.Logf("Memory Claim+Done: %v allocations per 64 messages", allocs)
	if allocs > 1 {
		t.Errorf("Claim+Done = %v allocations per 64 messages, want at most 1 (one token block)", allocs)
	}

	// A duplicate costs nothing.
	k := keys[(i-1)%len(keys)]
	dup := testing.AllocsPerRun(1000, func() {
		if st, _, _ := m.Claim(ctx, k, time.Minute); st != idempotency.AlreadyDone {
			t.Fatalf("Claim of a done message = %v", st)
		}
	})
	t.Logf("Memory Claim of a duplicate: %v allocations", dup)
	if dup > 0 {
		t.Errorf("Claim of a duplicate = %v allocations, want 0", dup)
	}
}

func BenchmarkMemoryClaimDone(b *testing.B) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{})
	keys := benchKeys(1 << 18)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		i++
		_, tok, _ := m.Claim(ctx, k, time.Minute)
		_ = m.Done(ctx, k, tok)
	}
}

func BenchmarkMemoryClaimDoneParallel(b *testing.B) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{})
	keys := benchKeys(1 << 18)
	b.ReportAllocs()
	var mu sync.Mutex
	next := 0
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		i := next * 7919
		next++
		mu.Unlock()
		for pb.Next() {
			k := keys[i%len(keys)]
			i++
			_, tok, _ := m.Claim(ctx, k, time.Minute)
			_ = m.Done(ctx, k, tok)
		}
	})
}

func benchKeys(n int) []idempotency.Key {
	keys := make([]idempotency.Key, n)
	for i := range keys {
		keys[i] = key(fmt.Sprintf("0190a4b2-7c1e-7d4f-9a3b-%012d", i))
	}
	return keys
}

// Tokens are unique across the store, across the blocks each shard takes them in
// and across shards.
func TestMemoryTokensUnique(t *testing.T) {
	m := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 1 << 14}) // 8 shards
	seen := make(map[idempotency.Token]string)
	for i := range 5000 {
		id := fmt.Sprintf("0190a4b2-7c1e-7d4f-9a3b-%012d", i)
		st, tok, err := m.Claim(ctx, key(id), time.Minute)
		if err != nil || st != idempotency.Claimed || tok == "" {
			t.Fatalf("Claim(%s) = %v, %q, %v; want a claim with a token", id, st, tok, err)
		}
		if other, dup := seen[tok]; dup {
			t.Fatalf("token %q given to %s and %s", tok, other, id)
		}
		seen[tok] = id
	}
}
