package idempotency

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
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
// keeps the strings of the keys it holds. It never blocks on I/O, so it ignores the
// contexts passed to it. A Memory is safe for concurrent use; it must be created with
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
		m.shards[i].init(c)
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
	s := m.shard(k)
	s.mu.Lock()
	st, tok, err := s.claim(k, int64(lease), m.now(), &m.tokens)
	s.mu.Unlock()
	return st, tok, err
}

// Done implements [Store].
func (m *Memory) Done(_ context.Context, k Key, t Token) error {
	if err := k.Validate(); err != nil {
		return err
	}
	s := m.shard(k)
	s.mu.Lock()
	err := s.done(k, t, m.retention, m.now())
	s.mu.Unlock()
	return err
}

// Release implements [Store].
func (m *Memory) Release(_ context.Context, k Key, t Token) error {
	if err := k.Validate(); err != nil {
		return err
	}
	s := m.shard(k)
	s.mu.Lock()
	err := s.release(k, t, m.now())
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
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// now is the time in nanoseconds since the store was made, on the monotonic clock.
// It is read under the shard lock, so that the done marks of a shard are queued in
// the order of their expiry.
func (m *Memory) now() int64 { return int64(time.Since(m.epoch)) }

func (m *Memory) shard(k Key) *memShard {
	if m.mask == 0 {
		return &m.shards[0]
	}
	h := maphash.String(m.seed, k.MessageID) ^ maphash.String(m.seed, k.Consumer)*0x9e3779b97f4a7c15
	return &m.shards[h&m.mask]
}

// tokenBlock is how many tokens a shard makes at once, in one string.
const tokenBlock = 64

// tokenSource hands out the tokens of one shard: values of the Memory's counter
// in base 36, unique within the Memory. It takes tokenBlock values of the counter
// at a time and writes them into one string, of which each token is a part, so
// that a claim costs no allocation of its own. (A token held keeps its block's
// few hundred bytes.)
type tokenSource struct {
	text string
	ends [tokenBlock]uint16 // where each token of text ends
	next int                // the index of the next token to hand out; tokenBlock when text is used up
}

func (ts *tokenSource) token(counter *atomic.Uint64) Token {
	if ts.next == tokenBlock {
		first := counter.Add(tokenBlock) - tokenBlock + 1
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
	tok := Token(ts.text[start:ts.ends[ts.next]])
	ts.next++
	return tok
}

// memShard is one lock's worth of a Memory. Its methods are called with mu held and
// take the time as an argument, so that tests can drive them.
type memShard struct {
	mu       sync.Mutex
	entries  map[Key]memEntry
	marks    doneQueue // done marks, oldest (first to expire) first
	capacity int
	claims   int   // entries that are claims, live or expired
	sweepAt  int64 // no claim expires before this: looking for expired claims earlier is useless
	tokens   tokenSource
	_        [64]byte
}

// memEntry is a claim (token set) or a done mark (token empty) that lasts until
// deadline.
type memEntry struct {
	token    Token
	deadline int64
}

func (s *memShard) init(capacity int) {
	s.entries = make(map[Key]memEntry)
	s.capacity = capacity
	s.sweepAt = math.MaxInt64
	s.tokens.next = tokenBlock
}

// claim takes a token from tokens only when it claims k, so that a duplicate costs no
// allocation.
func (s *memShard) claim(k Key, lease, now int64, tokens *atomic.Uint64) (Status, Token, error) {
	s.dropExpiredDone(now)
	e, ok := s.entries[k]
	switch {
	case ok && e.deadline > now && e.token == "":
		return AlreadyDone, "", nil
	case ok && e.deadline > now:
		return InProgress, "", nil
	case ok:
		// A claim whose lease ended (expired done marks are gone already): its
		// place is taken over.
		s.claims--
	case len(s.entries) >= s.capacity && !s.makeRoom(now):
		return 0, "", fmt.Errorf("%w: %d live claims fill a shard of %d entries (MaxEntries too small for the number of messages in flight?)",
			ErrFull, s.claims, s.capacity)
	}
	tok := s.tokens.token(tokens)
	d := addSat(now, lease)
	s.entries[k] = memEntry{token: tok, deadline: d}
	s.claims++
	if d < s.sweepAt {
		s.sweepAt = d
	}
	return Claimed, tok, nil
}

func (s *memShard) done(k Key, tok Token, retention, now int64) error {
	if tok == "" {
		return ErrNotClaimed
	}
	s.dropExpiredDone(now)
	e, ok := s.entries[k]
	if !ok || e.token != tok {
		return ErrNotClaimed
	}
	s.claims--
	if e.deadline <= now {
		delete(s.entries, k)
		return ErrNotClaimed
	}
	d := addSat(now, retention)
	s.entries[k] = memEntry{deadline: d}
	s.marks.push(doneItem{key: k, deadline: d})
	return nil
}

func (s *memShard) release(k Key, tok Token, now int64) error {
	if tok == "" {
		return ErrNotClaimed
	}
	s.dropExpiredDone(now)
	e, ok := s.entries[k]
	if !ok || e.token != tok {
		return ErrNotClaimed
	}
	s.claims--
	delete(s.entries, k)
	if e.deadline <= now {
		return ErrNotClaimed
	}
	return nil
}

// dropExpiredDone drops the done marks that have expired. The queue is in expiry
// order, so this looks at its head only; each mark is dropped once, which makes the
// cleanup's cost O(1) amortised per operation.
//
// Every operation on the shard starts here, so no expired done mark is ever seen by
// the rest: a done mark leaves the map only through the queue, and each queue item is
// the current mark of its key.
func (s *memShard) dropExpiredDone(now int64) {
	for s.marks.len() > 0 && s.marks.front().deadline <= now {
		delete(s.entries, s.marks.pop().key)
	}
}

// makeRoom frees one entry of a full shard: an expired claim if there is one, else
// the oldest done mark (expired marks are gone already). It reports false when
// only live claims are left.
func (s *memShard) makeRoom(now int64) bool {
	if s.claims > 0 && s.sweepAt <= now {
		s.sweepClaims(now)
		if len(s.entries) < s.capacity {
			return true
		}
	}
	if s.marks.len() > 0 {
		delete(s.entries, s.marks.pop().key)
		return true
	}
	return false
}

// sweepClaims drops every expired claim and recomputes sweepAt. It walks the whole
// shard, but only when the shard is full and some claim may have expired since the
// last walk.
func (s *memShard) sweepClaims(now int64) {
	next := int64(math.MaxInt64)
	for k, e := range s.entries {
		if e.token == "" {
			continue
		}
		if e.deadline <= now {
			delete(s.entries, k)
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

// doneItem is a done mark in the queue: its key and when it expires.
type doneItem struct {
	key      Key
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
	q.buf[q.head] = doneItem{} // let the key's strings go
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return it
}
