package idempotency

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"
)

// model is what a Memory of one shard should do, written as plainly as possible:
// entries whose deadline has passed do not exist, and when a new key finds the store
// full of unexpired entries, the done mark made first goes.
type model struct {
	max       int
	retention int64
	entries   map[Key]modelEntry
	marks     int // counts done marks, to order them
}

type modelEntry struct {
	token    Token // "" for a done mark
	deadline int64
	mark     int // order of the done mark
}

func (m *model) live(now int64) map[Key]modelEntry {
	for k, e := range m.entries {
		if e.deadline <= now {
			delete(m.entries, k)
		}
	}
	return m.entries
}

func (m *model) claim(k Key, lease, now int64, tok Token) (Status, error) {
	live := m.live(now)
	if e, ok := live[k]; ok {
		if e.token == "" {
			return AlreadyDone, nil
		}
		return InProgress, nil
	}
	if len(live) >= m.max {
		var oldest Key
		first := math.MaxInt
		for k, e := range live {
			if e.token == "" && e.mark < first {
				oldest, first = k, e.mark
			}
		}
		if first == math.MaxInt {
			return 0, ErrFull
		}
		delete(live, oldest)
	}
	live[k] = modelEntry{token: tok, deadline: addSat(now, lease)}
	return Claimed, nil
}

func (m *model) done(k Key, tok Token, now int64) error {
	e, ok := m.live(now)[k]
	if !ok || e.token == "" || e.token != tok {
		return ErrNotClaimed
	}
	m.marks++
	m.entries[k] = modelEntry{deadline: addSat(now, m.retention), mark: m.marks}
	return nil
}

func (m *model) release(k Key, tok Token, now int64) error {
	e, ok := m.live(now)[k]
	if !ok || e.token == "" || e.token != tok {
		return ErrNotClaimed
	}
	delete(m.entries, k)
	return nil
}

// TestMemoryModel runs random sequences of claims, dones, releases (with current,
// stale and made-up tokens) and clock advances on a few keys against the model. It
// drives one shard directly, with the time as an argument, since rapid cannot run
// inside a synctest bubble; the public methods only add the lock and time.Now.
func TestMemoryModel(t *testing.T) {
	keys := []Key{{"a", "1"}, {"a", "2"}, {"a", "3"}, {"b", "1"}, {"b", "2"}, {"c", "1"}, {"c", "2"}, {"c", "3"}}
	rapid.Check(t, func(rt *rapid.T) { checkModel(rt, 4, keys, nil) })
}

// checkModel is one run of the model test on a store of up to max entries (at
// most 6: one shard), with keys, and with the keys' hashes given by hash
// instead of the shard's (nil: the shard's).
func checkModel(rt *rapid.T, max int, keys []Key, hash func(Key) uint64) {
	max = rapid.IntRange(1, max).Draw(rt, "max")
	retention := rapid.Int64Range(1, 60).Draw(rt, "retention")
	mem := NewMemory(MemoryOptions{MaxEntries: max})
	if len(mem.shards) != 1 {
		rt.Fatalf("NewMemory(MaxEntries: %d) has %d shards, want 1", max, len(mem.shards))
	}
	s := &mem.shards[0]
	if hash == nil {
		hash = func(k Key) uint64 { return hashKey(s.seed, k) }
	}
	m := &model{max: max, retention: retention, entries: map[Key]modelEntry{}}
	var (
		now    int64
		issued = map[Key][]Token{} // every token handed out, per key
		tokens atomic.Uint64
	)
	drawKey := func(rt *rapid.T) Key { return rapid.SampledFrom(keys).Draw(rt, "key") }
	// drawToken picks a token for k: the latest, an older one, or one never issued.
	drawToken := func(rt *rapid.T, k Key) Token {
		ts := issued[k]
		switch rapid.IntRange(0, 3).Draw(rt, "which") {
		case 0, 1:
			if len(ts) > 0 {
				return ts[len(ts)-1]
			}
		case 2:
			if len(ts) > 0 {
				return rapid.SampledFrom(ts).Draw(rt, "old")
			}
		}
		return rapid.SampledFrom([]Token{"", "bogus", "1"}).Draw(rt, "made-up")
	}
	claim := func(rt *rapid.T) {
		k := drawKey(rt)
		lease := rapid.Int64Range(1, 20).Draw(rt, "lease")
		got, tok, err := s.claimHashed(k, hash(k), lease, now, &tokens)
		want, wantErr := m.claim(k, lease, now, tok)
		if got != want || !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
			rt.Fatalf("claim(%v, lease %d) at %d = %v, %v; model says %v, %v", k, lease, now, got, err, want, wantErr)
		}
		if (tok != "") != (got == Claimed) {
			rt.Fatalf("claim(%v) = %v with token %q", k, got, tok)
		}
		if tok != "" {
			issued[k] = append(issued[k], tok)
		}
	}
	rt.Repeat(map[string]func(*rapid.T){
		// Claims are drawn twice as often as the rest, to fill the store.
		"claim":  claim,
		"claim2": claim,
		"done": func(rt *rapid.T) {
			k := drawKey(rt)
			tok := drawToken(rt, k)
			if err, want := s.doneHashed(k, hash(k), tok, retention, now), m.done(k, tok, now); err != want {
				rt.Fatalf("done(%v, %q) at %d = %v; model says %v", k, tok, now, err, want)
			}
		},
		"release": func(rt *rapid.T) {
			k := drawKey(rt)
			tok := drawToken(rt, k)
			if err, want := s.releaseHashed(k, hash(k), tok, now), m.release(k, tok, now); err != want {
				rt.Fatalf("release(%v, %q) at %d = %v; model says %v", k, tok, now, err, want)
			}
		},
		"advance": func(rt *rapid.T) {
			now += rapid.Int64Range(0, 15).Draw(rt, "by")
		},
		"": func(rt *rapid.T) {
			if err := s.check(now, m.live(now)); err != nil {
				rt.Fatal(err)
			}
		},
	})
}

// check verifies the shard's invariants, and that its unexpired entries are the
// model's live ones.
func (s *memShard) check(now int64, live map[Key]modelEntry) error {
	if err := s.checkLayout(); err != nil {
		return err
	}
	entries := s.entries()
	if len(entries) > s.capacity {
		return fmt.Errorf("%d entries, capacity %d", len(entries), s.capacity)
	}
	claims, marks, unexpired := 0, 0, 0
	for k, e := range entries {
		if e.token == "" {
			marks++
		} else {
			claims++
			if e.deadline < s.sweepAt {
				return fmt.Errorf("claim %v lasts until %d, before sweepAt %d", k, e.deadline, s.sweepAt)
			}
		}
		if e.deadline <= now {
			continue
		}
		unexpired++
		if me, ok := live[k]; !ok || me.token != e.token || me.deadline != e.deadline {
			return fmt.Errorf("entry %v = %+v, model has %+v (present %t)", k, e, me, ok)
		}
	}
	if unexpired != len(live) {
		return fmt.Errorf("%d unexpired entries, model has %d", unexpired, len(live))
	}
	if claims != s.claims {
		return fmt.Errorf("%d claims, counted %d", claims, s.claims)
	}
	if marks != s.marks.len() {
		return fmt.Errorf("%d done marks, %d in the queue", marks, s.marks.len())
	}
	last := int64(math.MinInt64)
	for i := range s.marks.len() {
		it := s.marks.at(i)
		if it.deadline < last {
			return fmt.Errorf("queue out of order at %d: %d after %d", i, it.deadline, last)
		}
		last = it.deadline
		if e, ok := entries[s.key(it.slot)]; !ok || e.token != "" || e.deadline != it.deadline {
			return fmt.Errorf("queue item %+v is not the current mark of its key (%+v, %t)", it, e, ok)
		}
	}
	return nil
}
