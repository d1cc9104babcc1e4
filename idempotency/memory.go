package idempotency

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFull is returned (wrapped, with the numbers) by [Memory.Claim] when the store has
// no room for a new key because every entry it could drop is a live claim.
var ErrFull = errors.New("idempotency: memory store is full of live claims")

// DefaultMaxEntries is the bound of [Memory] when [MemoryOptions.MaxEntries] is not set.
const DefaultMaxEntries = 100_000

// MemoryOptions configures [NewMemory]. The zero value is usable: 100,000 entries
// remembered for up to 24 hours.
type MemoryOptions struct {
	// MaxEntries bounds the number of keys held (live claims and done marks). When it
	// is reached, a new key first replaces expired entries, then the oldest done
	// marks; a live claim is never dropped, and when only live claims are left Claim
	// fails with [ErrFull]. If MaxEntries <= 0, DefaultMaxEntries is used.
	//
	// Stores of 2,048 entries or more are split into up to 64 shards of at least
	// 1,024 entries each, and the bound is kept per shard: "oldest" means oldest in
	// the shard, and a shard full of live claims reports ErrFull while others may
	// still have room.
	//
	// At a high message rate it is MaxEntries, not Retention, that decides how long a
	// message is remembered: at 50,000 messages a second, 100,000 entries remember
	// the last two seconds. Size it as rate × the longest time in which you expect a
	// duplicate (broker redelivery, a publish repeated after a lost confirm).
	MaxEntries int
	// Retention is how long a done mark is kept. If Retention <= 0, DefaultRetention
	// is used.
	Retention time.Duration
}

// Memory is an in-process [Store]: bounded, with no goroutine of its own and so
// nothing to close. Expired done marks are dropped by the next operation on their
// shard (each costs O(1) once); claims whose lease ended, when their key is claimed
// again or their shard needs room. It remembers only what this process has handled,
// so it fits a single instance, tests, and demos; several instances sharing work
// need a shared store such as [Redis].
//
// Memory reads the time with time.Now, so it can be tested with testing/synctest. It
// keeps a copy of the bytes of the keys it holds, in memory without pointers, which
// the garbage collector does not scan, so that a large store adds little to the
// cost of a collection. It never blocks on I/O, so it ignores the contexts passed to
// it. A Memory is safe for concurrent use; it must be created with
// [NewMemory].
type Memory struct {
	retention int64 // nanoseconds
	epoch     time.Time
	seed      maphash.Seed
	mask      uint64
	tokens    atomic.Uint64
	shards    []memShard
}

// NewMemory returns an empty in-memory store configured by opts.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	n := 1
	for n < maxShards && opts.MaxEntries/(2*n) >= minShardEntries {
		n *= 2
	}
	m := &Memory{
		retention: int64(opts.Retention),
		epoch:     time.Now(),
		seed:      maphash.MakeSeed(),
		mask:      uint64(n - 1),
		shards:    make([]memShard, n),
	}
	for i := range m.shards {
		c := opts.MaxEntries / n
		if i < opts.MaxEntries%n {
			c++
		}
		m.shards[i].init(c, m.seed)
	}
	return m
}

const (
	maxShards       = 64
	minShardEntries = 1024
)

// Claim implements [Store]. It fails with [ErrFull] when k is new and its shard holds
// only live claims.
func (m *Memory) Claim(_ context.Context, k Key, lease time.Duration) (Status, Token, error) {
	if err := k.Validate(); err != nil {
		return 0, "", err
	}
	if lease <= 0 {
		return 0, "", fmt.Errorf("idempotency: lease %v is not positive", lease)
	}
	h := m.hash(k)
	s := m.shard(h)
	s.mu.Lock()
	st, tok, err := s.claimHashed(k, h, int64(lease), m.now(), &m.tokens)
	s.mu.Unlock()
	return st, tok, err
}

// Done implements [Store].
func (m *Memory) Done(_ context.Context, k Key, t Token) error {
	if err := k.Validate(); err != nil {
		return err
	}
	h := m.hash(k)
	s := m.shard(h)
	s.mu.Lock()
	err := s.doneHashed(k, h, t, m.retention, m.now())
	s.mu.Unlock()
	return err
}

// Release implements [Store].
func (m *Memory) Release(_ context.Context, k Key, t Token) error {
	if err := k.Validate(); err != nil {
		return err
	}
	h := m.hash(k)
	s := m.shard(h)
	s.mu.Lock()
	err := s.releaseHashed(k, h, t, m.now())
	s.mu.Unlock()
	return err
}

// Len returns the number of entries held: live claims and done marks, plus expired
// ones that have not been dropped yet. It is never more than MaxEntries.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// now is the time in nanoseconds since the store was made, on the monotonic clock.
// It is read under the shard lock, so that the done marks of a shard are queued in
// the order of their expiry.
func (m *Memory) now() int64 { return int64(time.Since(m.epoch)) }

// hash is the hash of k, which picks its shard (by its low bits) and finds it in
// the shard's index.
func (m *Memory) hash(k Key) uint64 { return hashKey(m.seed, k) }

func hashKey(seed maphash.Seed, k Key) uint64 {
	return maphash.String(seed, k.MessageID) ^ maphash.String(seed, k.Consumer)*0x9e3779b97f4a7c15
}

func (m *Memory) shard(h uint64) *memShard { return &m.shards[h&m.mask] }

// tokenBlock is how many tokens a shard makes at once, in one string.
const tokenBlock = 64

// tokenSource hands out the tokens of one shard: values of the Memory's counter
// in base 36, unique within the Memory. It takes tokenBlock values of the counter
// at a time and writes them into one string, of which each token is a part, so
// that a claim costs no allocation of its own. (A token held keeps its block's
// few hundred bytes.)
//
// The shard keeps the number of a token, not its text: see [tokenIs].
type tokenSource struct {
	text  string
	ends  [tokenBlock]uint16 // where each token of text ends
	first uint64             // the number of the first token of text
	next  int                // the index of the next token to hand out; tokenBlock when text is used up
}

// token returns a new token and its number, which is never 0.
func (ts *tokenSource) token(counter *atomic.Uint64) (Token, uint64) {
	if ts.next == tokenBlock {
		first := counter.Add(tokenBlock) - tokenBlock + 1
		ts.first = first
		buf := make([]byte, 0, tokenBlock*8)
		for i := range uint64(tokenBlock) {
			buf = strconv.AppendUint(buf, first+i, 36)
			ts.ends[i] = uint16(len(buf))
		}
		ts.text, ts.next = string(buf), 0
	}
	start := uint16(0)
	if ts.next > 0 {
		start = ts.ends[ts.next-1]
	}
	tok, n := Token(ts.text[start:ts.ends[ts.next]]), ts.first+uint64(ts.next)
	ts.next++
	return tok, n
}

// tokenIs reports whether tok is the token of number n (not 0): whether it is n in
// base 36, written as [tokenSource] writes it.
func tokenIs(tok Token, n uint64) bool {
	var buf [16]byte
	return string(strconv.AppendUint(buf[:0], n, 36)) == string(tok)
}

// memShard is one lock's worth of a Memory. Its methods are called with mu held and
// take the time as an argument, so that tests can drive them.
//
// Nothing a shard holds has pointers, apart from the headers of its slices and map
// and its current token block, so that the garbage collector has nothing to scan in
// it however many entries it holds:
//   - slots holds the entries. A free slot is in the free list, linked by next.
//   - index maps the hash of a key to the slot of its entry. Keys with the same hash
//     (in practice never) are chained through next, starting from the index.
//   - arena holds the bytes of the keys: the Consumer, then the MessageID, of each
//     entry at the slot's off. The bytes of the keys dropped are dead until the
//     arena is compacted, which happens when it is full and they are half of it.
//   - marks queues the done marks by slot, in the order they expire.
type memShard struct {
	mu       sync.Mutex
	seed     maphash.Seed // the Memory's, for the methods that take no hash
	index    map[uint64]uint32
	slots    []memSlot
	free     uint32 // the first free slot, or noSlot
	n        int    // entries held: slots in use
	arena    []byte
	order    []uint32  // the slots in use by the place of their key, made by compact
	dead     int       // bytes of arena that no entry uses
	marks    doneQueue // done marks, oldest (first to expire) first
	capacity int
	claims   int   // entries that are claims, live or expired
	sweepAt  int64 // no claim expires before this: looking for expired claims earlier is useless
	tokens   tokenSource
	_        [64]byte
}

// noSlot is the slot index that means none.
const noSlot = math.MaxUint32

// minCompact is the number of dead bytes below which the arena is not compacted.
const minCompact = 4096

// memSlot is a claim (token not 0) or a done mark (token 0) that lasts until
// deadline, or a free slot.
type memSlot struct {
	hash     uint64
	deadline int64
	token    uint64 // the number of the claim's token; 0 for a done mark
	off      int    // where the key is in the arena
	clen     int    // the length of the Consumer, which the MessageID follows
	mlen     int    // the length of the MessageID
	next     uint32 // the next slot of the same hash, or of the free list; noSlot ends both
	used     bool
}

func (s *memShard) init(capacity int, seed maphash.Seed) {
	s.seed = seed
	s.index = make(map[uint64]uint32)
	s.free = noSlot
	s.capacity = capacity
	s.sweepAt = math.MaxInt64
	s.tokens.next = tokenBlock
}

// find returns the slot of k, whose hash is h, or noSlot.
func (s *memShard) find(k Key, h uint64) uint32 {
	i, ok := s.index[h]
	if !ok {
		return noSlot
	}
	for ; i != noSlot; i = s.slots[i].next {
		e := &s.slots[i]
		if e.hash == h && e.clen == len(k.Consumer) && e.mlen == len(k.MessageID) &&
			string(s.arena[e.off:e.off+e.clen]) == k.Consumer &&
			string(s.arena[e.off+e.clen:e.off+e.clen+e.mlen]) == k.MessageID {
			return i
		}
	}
	return noSlot
}

// key returns the key of the slot i, in new strings.
func (s *memShard) key(i uint32) Key {
	e := &s.slots[i]
	return Key{
		Consumer:  string(s.arena[e.off : e.off+e.clen]),
		MessageID: string(s.arena[e.off+e.clen : e.off+e.clen+e.mlen]),
	}
}

// add adds an entry for k, which the shard does not hold and whose hash is h, and
// returns its slot.
func (s *memShard) add(k Key, h uint64, token uint64, deadline int64) uint32 {
	if n := len(k.Consumer) + len(k.MessageID); len(s.arena)+n > cap(s.arena) {
		if s.dead >= minCompact && s.dead >= len(s.arena)/2 {
			s.compact()
		} else {
			// Double it at once, rather than by the quarters of append, so that a
			// shard that has just filled up reaches the size it keeps in one step.
			s.arena = append(make([]byte, 0, 2*(len(s.arena)+n)), s.arena...)
		}
	}
	off := len(s.arena)
	s.arena = append(append(s.arena, k.Consumer...), k.MessageID...)
	i := s.free
	if i == noSlot {
		i = uint32(len(s.slots))
		s.slots = append(s.slots, memSlot{})
	} else {
		s.free = s.slots[i].next
	}
	next, ok := s.index[h]
	if !ok {
		next = noSlot
	}
	s.slots[i] = memSlot{
		hash: h, deadline: deadline, token: token,
		off: off, clen: len(k.Consumer), mlen: len(k.MessageID),
		next: next, used: true,
	}
	s.index[h] = i
	s.n++
	return i
}

// remove drops the entry of slot i.
func (s *memShard) remove(i uint32) {
	e := &s.slots[i]
	if head := s.index[e.hash]; head == i {
		if e.next == noSlot {
			delete(s.index, e.hash)
		} else {
			s.index[e.hash] = e.next
		}
	} else {
		for s.slots[head].next != i {
			head = s.slots[head].next
		}
		s.slots[head].next = e.next
	}
	s.dead += e.clen + e.mlen
	*e = memSlot{next: s.free}
	s.free = i
	s.n--
	if s.n == 0 { // nothing is left to copy
		s.arena, s.dead = s.arena[:0], 0
	}
}

// compact moves the keys of the entries held to the start of the arena, in the
// order they are in it. It runs when the arena is full and at least half of it is
// dead, so that the bytes it moves are no more than the bytes that died since the
// last compaction (its cost is O(1) amortised per byte added, plus the sort of
// the slots by where their keys are), and the arena grows only when more than half
// of it is in use: it stays below four times the bytes of the keys held. A full
// shard that goes through keys of about the same size allocates nothing.
func (s *memShard) compact() {
	order := s.order[:0]
	for i := range s.slots {
		if s.slots[i].used {
			order = append(order, uint32(i))
		}
	}
	slices.SortFunc(order, func(a, b uint32) int { return cmp.Compare(s.slots[a].off, s.slots[b].off) })
	w := 0
	for _, i := range order {
		e := &s.slots[i]
		n := e.clen + e.mlen
		copy(s.arena[w:w+n], s.arena[e.off:e.off+n])
		e.off = w
		w += n
	}
	s.arena, s.dead, s.order = s.arena[:w], 0, order
}

// claim is claimHashed for tests, which drive a shard without its Memory.
func (s *memShard) claim(k Key, lease, now int64, tokens *atomic.Uint64) (Status, Token, error) {
	return s.claimHashed(k, hashKey(s.seed, k), lease, now, tokens)
}

func (s *memShard) done(k Key, tok Token, retention, now int64) error {
	return s.doneHashed(k, hashKey(s.seed, k), tok, retention, now)
}

func (s *memShard) release(k Key, tok Token, now int64) error {
	return s.releaseHashed(k, hashKey(s.seed, k), tok, now)
}

// claimHashed takes a token from tokens only when it claims k, so that a duplicate
// costs no allocation. h is the hash of k.
func (s *memShard) claimHashed(k Key, h uint64, lease, now int64, tokens *atomic.Uint64) (Status, Token, error) {
	s.dropExpiredDone(now)
	i := s.find(k, h)
	switch {
	case i != noSlot && s.slots[i].deadline > now && s.slots[i].token == 0:
		return AlreadyDone, "", nil
	case i != noSlot && s.slots[i].deadline > now:
		return InProgress, "", nil
	case i != noSlot:
		// A claim whose lease ended (expired done marks are gone already): its
		// place is taken over.
		s.claims--
	case s.n >= s.capacity && !s.makeRoom(now):
		return 0, "", fmt.Errorf("%w: %d live claims fill a shard of %d entries (MaxEntries too small for the number of messages in flight?)",
			ErrFull, s.claims, s.capacity)
	}
	tok, n := s.tokens.token(tokens)
	d := addSat(now, lease)
	if i != noSlot {
		s.slots[i].token, s.slots[i].deadline = n, d
	} else {
		s.add(k, h, n, d)
	}
	s.claims++
	if d < s.sweepAt {
		s.sweepAt = d
	}
	return Claimed, tok, nil
}

func (s *memShard) doneHashed(k Key, h uint64, tok Token, retention, now int64) error {
	if tok == "" {
		return ErrNotClaimed
	}
	s.dropExpiredDone(now)
	i := s.find(k, h)
	if i == noSlot || s.slots[i].token == 0 || !tokenIs(tok, s.slots[i].token) {
		return ErrNotClaimed
	}
	s.claims--
	e := &s.slots[i]
	if e.deadline <= now {
		s.remove(i)
		return ErrNotClaimed
	}
	d := addSat(now, retention)
	e.token, e.deadline = 0, d
	s.marks.push(doneItem{slot: i, deadline: d})
	return nil
}

func (s *memShard) releaseHashed(k Key, h uint64, tok Token, now int64) error {
	if tok == "" {
		return ErrNotClaimed
	}
	s.dropExpiredDone(now)
	i := s.find(k, h)
	if i == noSlot || s.slots[i].token == 0 || !tokenIs(tok, s.slots[i].token) {
		return ErrNotClaimed
	}
	s.claims--
	expired := s.slots[i].deadline <= now
	s.remove(i)
	if expired {
		return ErrNotClaimed
	}
	return nil
}

// dropExpiredDone drops the done marks that have expired. The queue is in expiry
// order, so this looks at its head only; each mark is dropped once, which makes the
// cleanup's cost O(1) amortised per operation.
//
// Every operation on the shard starts here, so no expired done mark is ever seen by
// the rest: a done mark leaves the shard only through the queue, and each queue item
// is the slot of a current mark (a slot is reused only after its mark left).
func (s *memShard) dropExpiredDone(now int64) {
	for s.marks.len() > 0 && s.marks.front().deadline <= now {
		s.remove(s.marks.pop().slot)
	}
}

// makeRoom frees one entry of a full shard: an expired claim if there is one, else
// the oldest done mark (expired marks are gone already). It reports false when
// only live claims are left.
func (s *memShard) makeRoom(now int64) bool {
	if s.claims > 0 && s.sweepAt <= now {
		s.sweepClaims(now)
		if s.n < s.capacity {
			return true
		}
	}
	if s.marks.len() > 0 {
		s.remove(s.marks.pop().slot)
		return true
	}
	return false
}

// sweepClaims drops every expired claim and recomputes sweepAt. It walks the whole
// shard, but only when the shard is full and some claim may have expired since the
// last walk.
func (s *memShard) sweepClaims(now int64) {
	next := int64(math.MaxInt64)
	for i := range s.slots {
		e := &s.slots[i]
		if !e.used || e.token == 0 {
			continue
		}
		if e.deadline <= now {
			s.remove(uint32(i))
			s.claims--
		} else if e.deadline < next {
			next = e.deadline
		}
	}
	s.sweepAt = next
}

// addSat returns a+b, or the largest int64 if that overflows (b >= 0).
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// doneItem is a done mark in the queue: its slot and when it expires.
type doneItem struct {
	slot     uint32
	deadline int64
}

// doneQueue is a growable ring buffer of done marks, in the order they were made,
// which is also the order in which they expire. Its length is 0 or a power of two.
type doneQueue struct {
	buf  []doneItem
	head int
	n    int
}

func (q *doneQueue) len() int          { return q.n }
func (q *doneQueue) front() *doneItem  { return &q.buf[q.head] }
func (q *doneQueue) at(i int) doneItem { return q.buf[(q.head+i)&(len(q.buf)-1)] }

func (q *doneQueue) push(it doneItem) {
	if q.n == len(q.buf) {
		grown := make([]doneItem, max(16, 2*len(q.buf)))
		for i := range q.n {
			grown[i] = q.at(i)
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = it
	q.n++
}

func (q *doneQueue) pop() doneItem {
	it := q.buf[q.head]
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return it
}
