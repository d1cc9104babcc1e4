package auth

import (
	"container/heap"
	"sync"
	"time"
)

// replayCache remembers signatures until they expire, up to a bound. When full, it
// evicts the entry that expires first (the one closest to being rejected by the
// timestamp check anyway). It starts no goroutine: expired entries are dropped as
// new ones are added. Its time logic takes now from the caller. Safe for
// concurrent use.
type replayCache struct {
	max int

	mu    sync.Mutex
	seen  map[string]struct{}
	byExp expiryHeap
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]struct{})}
}

// add records key until exp and reports whether it was new. Entries that expired
// at or before now are dropped first.
func (c *replayCache) add(key string, exp, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.byExp) > 0 && !c.byExp[0].exp.After(now) {
		e := heap.Pop(&c.byExp).(replayEntry)
		delete(c.seen, e.key)
	}
	if _, ok := c.seen[key]; ok {
		return false
	}
	for len(c.byExp) >= c.max {
		e := heap.Pop(&c.byExp).(replayEntry)
		delete(c.seen, e.key)
	}
	c.seen[key] = struct{}{}
	heap.Push(&c.byExp, replayEntry{key: key, exp: exp})
	return true
}

// len returns the number of entries, expired or not.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type replayEntry struct {
	key string
	exp time.Time
}

// expiryHeap is a min-heap of entries by expiry.
type expiryHeap []replayEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
