package resilience

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// BulkheadOptions configure a [Bulkhead]. The zero value admits 100 concurrent calls
// and queues none.
type BulkheadOptions struct {
	Name          string // empty means "bulkhead"
	MaxConcurrent int    // zero means 100; negative is an error
	MaxQueue      int    // calls that may wait for a slot; zero means none; negative is an error
}

// BulkheadFullError is the error of a call rejected by a bulkhead whose slots are all
// taken and whose queue is full. It matches [ErrBulkheadFull].
type BulkheadFullError struct {
	Bulkhead      string // the bulkhead's name
	MaxConcurrent int    // its number of slots
	MaxQueue      int    // its queue length
}

// Error describes the rejection.
func (e *BulkheadFullError) Error() string {
	return fmt.Sprintf("resilience: bulkhead %q is full (%d running, %d queued)", e.Bulkhead, e.MaxConcurrent, e.MaxQueue)
}

// Is reports whether target is [ErrBulkheadFull].
func (e *BulkheadFullError) Is(target error) bool { return target == ErrBulkheadFull }

// Bulkhead limits concurrent executions, with a bounded queue of waiting callers.
// Waiting honours the context; a call that finds the queue full fails at once with a
// [*BulkheadFullError], which matches [ErrBulkheadFull], and a call whose context ends
// while it waits fails with the context's error. Waiting callers get slots in the
// order they arrived. A rejection is reported to the pipeline's observer as an
// [EventRejected]. A call that finds a free slot runs at once, without looking at its
// context.
//
// Build a Bulkhead with [NewBulkhead]; the zero Bulkhead is not usable. It is safe for
// concurrent use, and may be shared by several pipelines to limit them together. Its
// happy path (a free slot and nobody waiting) takes no lock and allocates nothing.
type Bulkhead struct {
	name     string
	max      int64
	maxQueue int

	// inflight counts the slots taken, including a slot handed to a waiter that has
	// not yet woken up. It is only increased by a compare-and-swap that keeps it at or
	// below max; a slot released while callers wait is handed to the first of them
	// without passing through inflight.
	inflight atomic.Int64
	// queued is the length of the waiter list. It is written only under mu, and read
	// without it by the fast paths.
	queued atomic.Int64

	mu   sync.Mutex
	head *bulkheadWaiter // first in line, guarded by mu
	tail *bulkheadWaiter // last in line, guarded by mu
}

// bulkheadWaiter is a caller waiting for a slot. ready is closed, under the mutex,
// once a slot has been handed to it; it is then no longer in the list.
type bulkheadWaiter struct {
	ready      chan struct{}
	prev, next *bulkheadWaiter
}

// NewBulkhead returns a bulkhead, or an error naming the option that is invalid.
func NewBulkhead(opts BulkheadOptions) (*Bulkhead, error) {
	if opts.Name == "" {
		opts.Name = "bulkhead"
	}
	switch {
	case opts.MaxConcurrent < 0:
		return nil, fmt.Errorf("resilience: BulkheadOptions.MaxConcurrent: must be ≥ 0, got %d", opts.MaxConcurrent)
	case opts.MaxConcurrent == 0:
		opts.MaxConcurrent = 100
	}
	if opts.MaxQueue < 0 {
		return nil, fmt.Errorf("resilience: BulkheadOptions.MaxQueue: must be ≥ 0, got %d", opts.MaxQueue)
	}
	return &Bulkhead{name: opts.Name, max: int64(opts.MaxConcurrent), maxQueue: opts.MaxQueue}, nil
}

// Name returns the policy's name.
func (b *Bulkhead) Name() string { return b.name }
func (*Bulkhead) policy()        {}

// InFlight returns the number of calls running now (slots taken).
func (b *Bulkhead) InFlight() int { return int(b.inflight.Load()) }

// Queued returns the number of calls waiting for a slot.
func (b *Bulkhead) Queued() int { return int(b.queued.Load()) }

func runBulkhead[T any](ctx context.Context, b *Bulkhead, c chain[T], i int) (T, error) {
	if !b.tryAcquire() {
		if err := b.acquireSlow(ctx); err != nil {
			if _, full := err.(*BulkheadFullError); full && c.observed() {
				c.emit(ctx, b, Event{Kind: EventRejected, Err: err})
			}
			var zero T
			return zero, err
		}
	}
	defer b.release()
	return c.next(ctx, i)
}

// tryAcquire takes a free slot if there is one and nobody is waiting for it: the
// lock-free fast path.
func (b *Bulkhead) tryAcquire() bool {
	for {
		n := b.inflight.Load()
		if n >= b.max || b.queued.Load() > 0 {
			return false
		}
		if b.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// acquireSlow takes a slot, waiting in line for one if the queue has room. It is
// modelled on x/sync/semaphore's Acquire.
//
// A waiter cannot miss a release: it joins the list (queued+1) and then, under the
// mutex, looks for a free slot again (wakeLocked), while a releaser that finds no
// waiter frees its slot (inflight-1) and then looks at queued again. Atomics being
// sequentially consistent, one of the two sees the other's write.
func (b *Bulkhead) acquireSlow(ctx context.Context) error {
	done := ctx.Done()
	b.mu.Lock()
	select {
	case <-done:
		// The context ended before we could take a slot: fail even if one is free.
		b.mu.Unlock()
		return ctx.Err()
	default:
	}
	b.wakeLocked()
	if b.head == nil && b.tryAcquireLocked() {
		b.mu.Unlock()
		return nil
	}
	if int(b.queued.Load()) >= b.maxQueue {
		b.mu.Unlock()
		return &BulkheadFullError{Bulkhead: b.name, MaxConcurrent: int(b.max), MaxQueue: b.maxQueue}
	}
	w := &bulkheadWaiter{ready: make(chan struct{})}
	b.pushLocked(w)
	b.wakeLocked() // a slot may have been released since tryAcquireLocked
	b.mu.Unlock()

	select {
	case <-w.ready:
		// A slot was handed to us. Check that ctx has not ended meanwhile (select
		// picks at random among ready cases).
		select {
		case <-done:
			b.release()
			return ctx.Err()
		default:
			return nil
		}
	case <-done:
		b.mu.Lock()
		select {
		case <-w.ready:
			// A slot was handed to us after ctx ended: pass it on.
			b.handOffLocked()
		default:
			b.removeLocked(w)
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// tryAcquireLocked takes a free slot if there is one, ignoring the queue.
func (b *Bulkhead) tryAcquireLocked() bool {
	for {
		n := b.inflight.Load()
		if n >= b.max {
			return false
		}
		if b.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release gives a slot back: to the first waiter if there is one, to the pool
// otherwise.
func (b *Bulkhead) release() {
	if b.queued.Load() == 0 {
		b.inflight.Add(-1)
		if b.queued.Load() == 0 {
			return
		}
		// Someone joined the line meanwhile and may have missed the freed slot.
		b.mu.Lock()
		b.wakeLocked()
		b.mu.Unlock()
		return
	}
	b.mu.Lock()
	b.handOffLocked()
	b.mu.Unlock()
}

// handOffLocked gives a slot held by the caller to the first waiter, or frees it if
// nobody waits.
func (b *Bulkhead) handOffLocked() {
	if w := b.head; w != nil {
		b.removeLocked(w)
		close(w.ready)
		return
	}
	b.inflight.Add(-1)
}

// wakeLocked hands free slots to waiters, first in line first.
func (b *Bulkhead) wakeLocked() {
	for b.head != nil && b.tryAcquireLocked() {
		w := b.head
		b.removeLocked(w)
		close(w.ready)
	}
}

func (b *Bulkhead) pushLocked(w *bulkheadWaiter) {
	w.prev = b.tail
	if b.tail != nil {
		b.tail.next = w
	} else {
		b.head = w
	}
	b.tail = w
	b.queued.Add(1)
}

func (b *Bulkhead) removeLocked(w *bulkheadWaiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		b.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		b.tail = w.prev
	}
	w.prev, w.next = nil, nil
	b.queued.Add(-1)
}
