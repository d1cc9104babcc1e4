package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestReplayCache(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newReplayCache(3)
	steps := []struct {
		key  string
		exp  time.Duration // after t0
		now  time.Duration // after t0
		want bool
	}{
		{"a", 10 * time.Second, 0, true},
		{"a", 10 * time.Second, time.Second, false}, // replay
		{"b", 5 * time.Second, time.Second, true},
		{"c", 20 * time.Second, time.Second, true},
		{"a", 10 * time.Second, 9 * time.Second, false}, // still remembered
		{"d", 30 * time.Second, 9 * time.Second, true},  // full: evicts b, which expires first
		{"b", 5 * time.Second, 9 * time.Second, true},   // b was evicted (and expired anyway); evicts itself next
		{"a", 10 * time.Second, 10 * time.Second, true}, // a expired at 10s
	}
	for i, s := range steps {
		if got := c.add(s.key, t0.Add(s.exp), t0.Add(s.now)); got != s.want {
			t.Errorf("step %d: add(%s, exp t0+%s, now t0+%s) = %v, want %v", i, s.key, s.exp, s.now, got, s.want)
		}
		if n := c.len(); n > 3 {
			t.Errorf("step %d: len() = %d, want at most 3", i, n)
		}
	}
}

func TestReplayCacheDropsExpired(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newReplayCache(1000)
	for i := range 100 {
		c.add(fmt.Sprint(i), t0.Add(time.Minute), t0)
	}
	c.add("late", t0.Add(2*time.Minute), t0.Add(time.Minute))
	if got := c.len(); got != 1 {
		t.Errorf("len() after the first 100 expired = %d, want 1", got)
	}
}
