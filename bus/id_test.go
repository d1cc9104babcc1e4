package bus

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// NewID makes canonical UUIDv7s with the RFC 9562 variant and the time of their
// making, strictly increasing within the process, and unique across goroutines.
func TestNewID(t *testing.T) {
	before := time.Now().UnixMilli()
	prev := ""
	for i := range 2000 { // several blocks of random bytes
		id, err := NewID()
		if err != nil {
			t.Fatal(err)
		}
		if !validUUID(id) {
			t.Fatalf("NewID() = %q, not a canonical lower-case UUID", id)
		}
		raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
		if err != nil {
			t.Fatal(err)
		}
		if v := raw[6] >> 4; v != 7 {
			t.Fatalf("NewID() = %q, version %d, want 7", id, v)
		}
		if raw[8]&0xc0 != 0x80 {
			t.Fatalf("NewID() = %q, variant bits %02b, want 10", id, raw[8]>>6)
		}
		ms := int64(binary.BigEndian.Uint64(append([]byte{0, 0}, raw[:6]...)))
		if after := time.Now().UnixMilli(); ms < before || ms > after+1 {
			t.Fatalf("NewID() = %q, time %d ms, want between %d and %d", id, ms, before, after)
		}
		if id <= prev {
			t.Fatalf("NewID() %d = %q, not after the previous %q", i, id, prev)
		}
		prev = id
	}

	const goroutines, each = 4, 1000
	var mu sync.Mutex
	seen := make(map[string]bool, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			mine := make([]string, each)
			for i := range mine {
				mine[i], _ = NewID()
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range mine {
				if seen[id] {
					t.Errorf("NewID() made %q twice", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
}

// The random part of IDs made in the same instant differs: the bits after the
// timestamp and counter are not reused.
func TestIDRandomBits(t *testing.T) {
	var g idSource
	g.used = len(g.rnd)
	now := time.Now()
	rand := make(map[string]bool)
	for range 200 {
		var b [36]byte
		g.next(b[:], now)
		r := string(b[19:]) // variant and rand_b
		if rand[r] {
			t.Fatalf("random bits %q repeated", r)
		}
		rand[r] = true
	}
}

// appendTime writes what time.Format(time.RFC3339Nano) writes, in UTC, whether
// or not the second is the previous call's.
func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	times := []time.Time{
		{}, base, base.Add(time.Nanosecond), base.Add(999_999_999), base.Add(time.Second), base.Add(100 * time.Millisecond),
		time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), base.In(time.FixedZone("x", 3600)), time.Now(),
	}
	for range 10_000 {
		// runs of times within one second, and jumps between seconds
		times = append(times, base.Add(time.Duration(r.Int64N(int64(20*time.Second)))))
	}
	for _, tm := range times {
		got := string(appendTime([]byte("x"), tm))
		if want := "x" + tm.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("appendTime(%v) = %q, want %q", tm, got, want)
		}
	}
}
