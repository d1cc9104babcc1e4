package idempotency

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// compactionKeys are keys long enough that a shard of a few entries compacts its arena
// (minCompact dead bytes) every few operations, of different sizes so that the
// compaction moves keys of unequal lengths past each other.
func compactionKeys() []Key {
	return []Key{
		{"a", strings.Repeat("1", 1500)},
		{"a", strings.Repeat("2", 3000)},
		{strings.Repeat("b", 2200), "1"},
		{"b", "2"},
		{strings.Repeat("c", 700), strings.Repeat("3", 900)},
		{"c", strings.Repeat("4", 4100)},
		{"d", "5"},
		{strings.Repeat("d", 5000), "6"},
	}
}

// The model test on keys whose dead bytes pass minCompact, so that compactions
// happen between the model's checks, with the shard's hashes and with colliding
// ones.
func TestMemoryModelCompaction(t *testing.T) {
	t.Run("hashes", func(t *testing.T) {
		rapid.Check(t, func(rt *rapid.T) { checkModel(rt, 6, compactionKeys(), nil) })
	})
	t.Run("collisions", func(t *testing.T) {
		hash := func(k Key) uint64 { return uint64(len(k.Consumer)) % 2 }
		rapid.Check(t, func(rt *rapid.T) { checkModel(rt, 6, compactionKeys(), hash) })
	})
}

// Many workers on a small store, with keys of many sizes (so that the arena is
// compacted under them) and leases that end while they work: the layout holds,
// no live claim is lost, and a key marked done and not evicted stays done.
func TestMemoryConcurrentCompaction(t *testing.T) {
	const entries = 64
	mem := NewMemory(MemoryOptions{MaxEntries: entries, Retention: time.Hour})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				k := Key{Consumer: strings.Repeat("c", 1+(i*7+w)%50), MessageID: fmt.Sprintf("%d-%s", (i*13+w*5)%200, strings.Repeat("m", (i*31+w)%300))}
				st, tok, err := mem.Claim(ctx, k, time.Duration(1+i%3)*time.Microsecond)
				if errors.Is(err, ErrFull) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if st != Claimed {
					continue
				}
				if i%4 == 0 {
					_ = mem.Release(ctx, k, tok)
					continue
				}
				if err := mem.Done(ctx, k, tok); err != nil && !errors.Is(err, ErrNotClaimed) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s := &mem.shards[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLayout(); err != nil {
		t.Fatal(err)
	}
	if s.n > entries {
		t.Fatalf("%d entries, bound %d", s.n, entries)
	}
	for i := range s.marks.len() {
		it := s.marks.at(i)
		if e := &s.slots[it.slot]; !e.used || e.token != 0 || e.deadline != it.deadline {
			t.Fatalf("queue item %+v is not a done mark (%+v)", it, *e)
		}
	}
}
