package resilience

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"
)

// BudgetOptions configure a [Budget]. The zero value allows retries of at most 20% of
// the requests of the last 10 seconds, plus 10 retries a second whatever the traffic.
type BudgetOptions struct {
	// Ratio is the number of retries allowed per request. Zero means 0.2; negative,
	// NaN or infinite is an error.
	Ratio float64
	// MinPerSecond is the number of retries allowed per second whatever the traffic,
	// so that a quiet client can still retry. Zero means 10; negative is an error.
	MinPerSecond int
	// Window is how far back requests and retries count. Zero means 10s; it must
	// otherwise be at least 1ms.
	Window time.Duration
}

// Defaults and limits of [BudgetOptions].
const (
	defaultBudgetRatio        = 0.2
	defaultBudgetMinPerSecond = 10
	defaultBudgetWindow       = 10 * time.Second
	minBudgetWindow           = time.Millisecond
)

// The window of a budget is a ring of budgetSlots time slots, each Window/budgetSlots
// long. Each slot is one atomic word that packs the slot's number (its tag, modulo
// 2^budgetTagBits) and the count of events in it, so that moving a slot on to a new
// time and counting in it are one compare-and-swap: no lock, no allocation.
const (
	budgetSlots     = 10
	budgetTagBits   = 40
	budgetCountBits = 64 - budgetTagBits
	budgetCountMax  = 1<<budgetCountBits - 1
	budgetTagMask   = 1<<budgetTagBits - 1
	// budgetAhead bounds how far (in slots) a stored tag may be ahead of a writer's
	// and still be taken for a newer slot than the writer's, rather than a very old
	// one whose tag wrapped around.
	budgetAhead = 1 << 24
	// budgetMaxShards bounds the deposit shards (one per P, rounded up to a power of
	// two).
	budgetMaxShards = 16
	// budgetSlack absorbs the rounding of Ratio × requests + reserve in floating
	// point, so that 0.29 × 100 requests allow 29 retries and not 28.
	budgetSlack = 1e-12
)

// Budget is a retry budget shared by many retry policies (per client, per host), so
// that retries cannot turn an outage into a storm. Every first attempt deposits into
// it and every retry withdraws from it: over the last Window, a withdrawal is allowed
// while
//
//	retries ≤ Ratio × requests + MinPerSecond × Window (in seconds)
//
// counting the retries allowed and the requests deposited in that window, as
// Finagle's RetryBudget does. The window moves in steps of a tenth of Window: at any
// moment it covers between 0.9 and 1 Window of the past.
//
// A Budget is safe for concurrent use. Deposit takes no lock and allocates nothing
// (it is on every call's path): deposits are spread at random over as many shards of
// atomic counters as there are CPUs (up to 16). Under concurrent withdrawals the
// budget errs on the side of refusing.
// Time is read with [time.Now], so a Budget made inside a testing/synctest bubble
// runs on the bubble's clock.
//
// Make a Budget with [NewBudget]. A nil *Budget, or a zero Budget not made by
// NewBudget, limits nothing: it allows every retry.
type Budget struct {
	opts    BudgetOptions // normalised
	start   time.Time     // slot 0 begins here
	width   time.Duration // the length of one slot: Window / budgetSlots
	reserve float64       // MinPerSecond × Window in seconds
	mask    uint32        // len(deposits) - 1

	withdrawals budgetShard
	deposits    []budgetShard
}

// budgetShard is one ring of slots, padded so that shards written by different CPUs
// do not share a cache line.
type budgetShard struct {
	_     [64]byte
	slots [budgetSlots]atomic.Uint64
}

// NewBudget returns a retry budget, or an error naming the option that is invalid.
func NewBudget(opts BudgetOptions) (*Budget, error) {
	switch {
	case math.IsNaN(opts.Ratio) || math.IsInf(opts.Ratio, 0) || opts.Ratio < 0:
		return nil, fmt.Errorf("resilience: BudgetOptions.Ratio: must be ≥ 0 and finite, got %v", opts.Ratio)
	case opts.MinPerSecond < 0:
		return nil, fmt.Errorf("resilience: BudgetOptions.MinPerSecond: must be ≥ 0, got %d", opts.MinPerSecond)
	case opts.Window < 0 || (opts.Window > 0 && opts.Window < minBudgetWindow):
		return nil, fmt.Errorf("resilience: BudgetOptions.Window: must be ≥ %s (or 0 for %s), got %s",
			minBudgetWindow, defaultBudgetWindow, opts.Window)
	}
	if opts.Ratio == 0 {
		opts.Ratio = defaultBudgetRatio
	}
	if opts.MinPerSecond == 0 {
		opts.MinPerSecond = defaultBudgetMinPerSecond
	}
	if opts.Window == 0 {
		opts.Window = defaultBudgetWindow
	}
	shards := 1 << bits.Len(uint(runtime.GOMAXPROCS(0)-1))
	shards = min(shards, budgetMaxShards)
	return &Budget{
		opts:     opts,
		start:    time.Now(),
		width:    opts.Window / budgetSlots,
		reserve:  float64(opts.MinPerSecond) * opts.Window.Seconds(),
		mask:     uint32(shards - 1),
		deposits: make([]budgetShard, shards),
	}, nil
}

// Options returns the budget's options with their defaults applied.
func (b *Budget) Options() BudgetOptions {
	if b == nil {
		return BudgetOptions{}
	}
	return b.opts
}

// Deposit records one request (a first attempt). It takes no lock and allocates
// nothing.
func (b *Budget) Deposit() {
	if b == nil || b.width == 0 {
		return
	}
	b.deposit(time.Now())
}

// TryWithdraw takes one retry from the budget and reports whether it was allowed. A
// refused withdrawal takes nothing.
func (b *Budget) TryWithdraw() bool {
	if b == nil || b.width == 0 {
		return true
	}
	return b.tryWithdraw(time.Now())
}

// slot returns the number of the slot that holds time now.
func (b *Budget) slot(now time.Time) uint64 {
	return uint64(max(now.Sub(b.start), 0) / b.width)
}

func (b *Budget) deposit(now time.Time) {
	sh := &b.deposits[0]
	if b.mask != 0 {
		sh = &b.deposits[rand.Uint32()&b.mask]
	}
	sh.add(b.slot(now)) // a deposit that cannot be counted is dropped: the budget only tightens
}

func (b *Budget) tryWithdraw(now time.Time) bool {
	s := b.slot(now)
	// Count the withdrawal first and check after, undoing it if over budget: two
	// concurrent withdrawals may then both be refused, but never both allowed when the
	// budget has room for one.
	if !b.withdrawals.add(s) {
		return false
	}
	var deposits uint64
	for i := range b.deposits {
		deposits += b.deposits[i].sum(s)
	}
	if float64(b.withdrawals.sum(s)) <= (b.opts.Ratio*float64(deposits)+b.reserve)*(1+budgetSlack) {
		return true
	}
	b.withdrawals.remove(s)
	return false
}

func budgetWord(tag, count uint64) uint64 { return tag<<budgetCountBits | count }
func budgetTag(w uint64) uint64           { return w >> budgetCountBits }
func budgetCount(w uint64) uint64         { return w & budgetCountMax }

// add counts one event in slot s. It reports false, counting nothing, when the slot's
// count is saturated or when a newer slot already took s's place in the ring (the
// writer was delayed for a whole window: s is out of every window by now).
func (sh *budgetShard) add(s uint64) bool {
	w := &sh.slots[s%budgetSlots]
	tag := s & budgetTagMask
	for {
		old := w.Load()
		var next uint64
		switch oldTag := budgetTag(old); {
		case oldTag == tag:
			if budgetCount(old) == budgetCountMax {
				return false
			}
			next = old + 1
		case budgetCount(old) != 0 && (oldTag-tag)&budgetTagMask < budgetAhead:
			return false
		default:
			next = budgetWord(tag, 1)
		}
		if w.CompareAndSwap(old, next) {
			return true
		}
	}
}

// remove uncounts one event that add counted in slot s, unless the slot has moved on
// since (which took the event with it).
func (sh *budgetShard) remove(s uint64) {
	w := &sh.slots[s%budgetSlots]
	tag := s & budgetTagMask
	for {
		old := w.Load()
		if budgetTag(old) != tag || budgetCount(old) == 0 {
			return
		}
		if w.CompareAndSwap(old, old-1) {
			return
		}
	}
}

// sum returns the events counted in the window that ends with slot s: s and the
// budgetSlots-1 slots before it.
func (sh *budgetShard) sum(s uint64) uint64 {
	var n uint64
	for j := uint64(0); j < budgetSlots && j <= s; j++ {
		t := s - j
		if w := sh.slots[t%budgetSlots].Load(); budgetTag(w) == t&budgetTagMask {
			n += budgetCount(w)
		}
	}
	return n
}
