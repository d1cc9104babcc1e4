package idempotency

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"
)

// memEntry is an entry of a shard as the model test sees it: a claim (token set) or
// a done mark (token empty) that lasts until deadline.
type memEntry struct {
	token    Token
	deadline int64
}

// entries returns the entries of the shard by key.
func (s *memShard) entries() map[Key]memEntry {
	m := make(map[Key]memEntry, s.n)
	for i := range s.slots {
		e := &s.slots[i]
		if !e.used {
			continue
		}
		var tok Token
		if e.token != 0 {
			tok = Token(strconv.FormatUint(e.token, 36))
		}
		m[s.key(uint32(i))] = memEntry{token: tok, deadline: e.deadline}
	}
	return m
}

// checkLayout verifies the invariants of the slots, the index, the free list and the
// arena.
func (s *memShard) checkLayout() error {
	used, keyBytes := 0, 0
	for i := range s.slots {
		e := &s.slots[i]
		if !e.used {
			continue
		}
		used++
		keyBytes += e.clen + e.mlen
		if e.off < 0 || e.off+e.clen+e.mlen > len(s.arena) {
			return fmt.Errorf("slot %d: key at %d+%d+%d, out of an arena of %d", i, e.off, e.clen, e.mlen, len(s.arena))
		}
		// find also shows that no other slot holds the same key before this one in
		// its chain.
		if got := s.find(s.key(uint32(i)), e.hash); got != uint32(i) {
			return fmt.Errorf("slot %d (%v): find = %d", i, s.key(uint32(i)), got)
		}
	}
	if used != s.n {
		return fmt.Errorf("%d slots in use, counted %d", used, s.n)
	}
	if keyBytes+s.dead != len(s.arena) {
		return fmt.Errorf("%d bytes of keys and %d dead bytes, in an arena of %d", keyBytes, s.dead, len(s.arena))
	}
	chained := 0
	for h, i := range s.index {
		for ; i != noSlot; i = s.slots[i].next {
			if e := &s.slots[i]; !e.used || e.hash != h {
				return fmt.Errorf("chain of hash %#x: slot %d has hash %#x (used %t)", h, i, e.hash, e.used)
			}
			chained++
			if chained > s.n {
				return fmt.Errorf("chain of hash %#x loops", h)
			}
		}
	}
	if chained != s.n {
		return fmt.Errorf("%d slots in the index, %d in use", chained, s.n)
	}
	free := 0
	for i := s.free; i != noSlot; i = s.slots[i].next {
		if s.slots[i].used {
			return fmt.Errorf("slot %d is in use and in the free list", i)
		}
		free++
		if free > len(s.slots) {
			return errors.New("the free list loops")
		}
	}
	if free+s.n != len(s.slots) {
		return fmt.Errorf("%d free slots and %d in use, of %d", free, s.n, len(s.slots))
	}
	return nil
}

// The garbage collector scans none of what a store holds per entry.
func TestMemoryLayoutHasNoPointers(t *testing.T) {
	for _, v := range []any{memSlot{}, doneItem{}, uint64(0), uint32(0)} {
		if typ := reflect.TypeOf(v); hasPointers(typ) {
			t.Errorf("%v has pointers", typ)
		}
	}
	if typ := reflect.TypeOf(memShard{}.index); hasPointers(typ.Key()) || hasPointers(typ.Elem()) {
		t.Errorf("the index %v has pointers", typ)
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	}
	return true
}

func TestTokenIs(t *testing.T) {
	for _, tc := range []struct {
		tok  Token
		n    uint64
		want bool
	}{
		{"1", 1, true},
		{"z", 35, true},
		{"10", 36, true},
		{"3w5e11264sgsf", 1<<64 - 1, true},
		{"", 1, false},
		{"01", 1, false},
		{"Z", 35, false},
		{"+1", 1, false},
		{"1 ", 1, false},
		{"2", 1, false},
		{"11", 1, false},
		{"3w5e11264sgsg", 1<<64 - 1, false},
	} {
		if got := tokenIs(tc.tok, tc.n); got != tc.want {
			t.Errorf("tokenIs(%q, %d) = %t, want %t", tc.tok, tc.n, got, tc.want)
		}
	}
}

// Keys whose hashes are equal share a chain of the index: the model test again, on
// a shard driven with made-up hashes that collide all the time.
func TestMemoryModelCollisions(t *testing.T) {
	keys := []Key{{"a", "1"}, {"a", "2"}, {"a", "12"}, {"a1", "2"}, {"b", "1"}, {"ab", "1"}, {"a", "b1"}, {"c", "3"}}
	hash := func(k Key) uint64 { return uint64(len(k.Consumer)+len(k.MessageID)) % 3 }
	rapid.Check(t, func(rt *rapid.T) { checkModel(rt, 6, keys, hash) })
}

// The arena is compacted as keys are dropped: a full shard that goes through many
// keys keeps an arena of a few times the bytes of the keys it holds, and, once it
// has reached that size, allocates nothing more for it.
func TestMemoryArenaBounded(t *testing.T) {
	const max = 1000
	mem := NewMemory(MemoryOptions{MaxEntries: max})
	s := &mem.shards[0]
	var tokens atomic.Uint64
	for i := range 50 * max {
		k := Key{Consumer: "welcome-email", MessageID: fmt.Sprintf("0190a4b2-7c1e-7d4f-9a3b-%012d", i)}
		st, tok, err := s.claim(k, 10, int64(i), &tokens)
		if err != nil || st != Claimed {
			t.Fatalf("claim(%v) = %v, %v", k, st, err)
		}
		if i%3 == 0 {
			err = s.release(k, tok, int64(i))
		} else {
			err = s.done(k, tok, 1<<40, int64(i))
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%4999 == 0 {
			if err := s.checkLayout(); err != nil {
				t.Fatalf("after %d keys: %v", i+1, err)
			}
		}
	}
	if err := s.checkLayout(); err != nil {
		t.Fatal(err)
	}
	if len(s.order) == 0 {
		t.Fatal("the arena was never compacted")
	}
	// The keys moved by the compactions are intact: each is the key of its hash, and
	// the last max/2 done keys are found done.
	for i := range s.slots {
		if e := &s.slots[i]; e.used && hashKey(s.seed, s.key(uint32(i))) != e.hash {
			t.Fatalf("slot %d holds %v, whose hash is not its own", i, s.key(uint32(i)))
		}
	}
	for i := 50*max - max/2; i < 50*max; i++ {
		if i%3 == 0 {
			continue
		}
		k := Key{Consumer: "welcome-email", MessageID: fmt.Sprintf("0190a4b2-7c1e-7d4f-9a3b-%012d", i)}
		if st, _, err := s.claim(k, 10, 50*max, &tokens); st != AlreadyDone || err != nil {
			t.Fatalf("claim(%v) = %v, %v; want AlreadyDone", k, st, err)
		}
	}
	live := s.n * len("welcome-email0190a4b2-7c1e-7d4f-9a3b-000000000000")
	if s.n != max || cap(s.arena) > 4*live+2*minCompact {
		t.Errorf("%d entries of %d bytes of keys: arena of %d (capacity %d)", s.n, live, len(s.arena), cap(s.arena))
	}
	if len(s.slots) != max {
		t.Errorf("%d slots for %d entries", len(s.slots), max)
	}
}
