package resilience

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"
)

func TestNewBudgetValidation(t *testing.T) {
	tests := []struct {
		opts BudgetOptions
		want string
	}{
		{BudgetOptions{Ratio: -0.1}, "resilience: BudgetOptions.Ratio: must be ≥ 0 and finite, got -0.1"},
		{BudgetOptions{Ratio: math.NaN()}, "resilience: BudgetOptions.Ratio: must be ≥ 0 and finite, got NaN"},
		{BudgetOptions{Ratio: math.Inf(1)}, "resilience: BudgetOptions.Ratio: must be ≥ 0 and finite, got +Inf"},
		{BudgetOptions{MinPerSecond: -1}, "resilience: BudgetOptions.MinPerSecond: must be ≥ 0, got -1"},
		{BudgetOptions{Window: -time.Second}, "resilience: BudgetOptions.Window: must be ≥ 1ms (or 0 for 10s), got -1s"},
		{BudgetOptions{Window: time.Microsecond}, "resilience: BudgetOptions.Window: must be ≥ 1ms (or 0 for 10s), got 1µs"},
	}
	for _, tt := range tests {
		b, err := NewBudget(tt.opts)
		if err == nil || err.Error() != tt.want || b != nil {
			t.Errorf("NewBudget(%+v) = %v, %v, want nil, %q", tt.opts, b, err, tt.want)
		}
	}
}

func TestNewBudgetDefaults(t *testing.T) {
	tests := []struct {
		opts BudgetOptions
		want BudgetOptions
	}{
		{BudgetOptions{}, BudgetOptions{Ratio: 0.2, MinPerSecond: 10, Window: 10 * time.Second}},
		{BudgetOptions{Ratio: 1.5, MinPerSecond: 1, Window: time.Millisecond}, BudgetOptions{Ratio: 1.5, MinPerSecond: 1, Window: time.Millisecond}},
	}
	for _, tt := range tests {
		b, err := NewBudget(tt.opts)
		if err != nil {
			t.Fatalf("NewBudget(%+v) = %v", tt.opts, err)
		}
		if got := b.Options(); got != tt.want {
			t.Errorf("NewBudget(%+v).Options() = %+v, want %+v", tt.opts, got, tt.want)
		}
	}
}

func TestBudgetNilAndZero(t *testing.T) {
	var nilBudget *Budget
	nilBudget.Deposit()
	if !nilBudget.TryWithdraw() {
		t.Error("(*Budget)(nil).TryWithdraw() = false, want true")
	}
	if got := nilBudget.Options(); got != (BudgetOptions{}) {
		t.Errorf("(*Budget)(nil).Options() = %+v, want zero", got)
	}
	var zero Budget
	zero.Deposit()
	for range 1000 {
		if !zero.TryWithdraw() {
			t.Fatal("Budget{}.TryWithdraw() = false, want true")
		}
	}
}

// TestBudgetReserveAndRatio checks the budget's capacity in a frozen instant: the
// reserve, then what deposits add.
func TestBudgetReserveAndRatio(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		b := Must(NewBudget(BudgetOptions{})) // 0.2 per request, plus 10/s × 10s
		if got := budgetDrain(b); got != 100 {
			t.Fatalf("zero-value budget allowed %d withdrawals without traffic, want 100", got)
		}
		for range 4 {
			b.Deposit()
		}
		if b.TryWithdraw() {
			t.Fatal("TryWithdraw() after 4 deposits (0.8 retries) = true, want false")
		}
		b.Deposit()
		if got := budgetDrain(b); got != 1 {
			t.Fatalf("after 5 deposits the budget allowed %d withdrawals, want 1", got)
		}
	})
}

// TestBudgetWindowSlides checks that requests and retries leave the window after
// Window, in steps of a tenth of it.
func TestBudgetWindowSlides(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		b := Must(NewBudget(BudgetOptions{Ratio: 1, MinPerSecond: 1, Window: time.Second}))
		for range 3 {
			b.Deposit()
		}
		if got := budgetDrain(b); got != 4 {
			t.Fatalf("at 0s: %d withdrawals allowed, want 4 (3 requests + 1 reserve)", got)
		}
		time.Sleep(999 * time.Millisecond)
		if b.TryWithdraw() {
			t.Fatal("at 999ms: TryWithdraw() = true, want false (everything still in the window)")
		}
		b.Deposit()
		time.Sleep(time.Millisecond)
		// At 1s the slot of 0s has left the window: its 3 requests and 4 retries too.
		if got := budgetDrain(b); got != 2 {
			t.Fatalf("at 1s: %d withdrawals allowed, want 2 (1 request + 1 reserve)", got)
		}
		time.Sleep(10 * time.Second)
		if got := budgetDrain(b); got != 1 {
			t.Fatalf("at 11s: %d withdrawals allowed, want 1 (reserve)", got)
		}
	})
}

// TestBudgetConcurrent hammers one budget from several goroutines in a frozen
// instant: no deposit may be lost, and no more withdrawals allowed than the budget
// holds.
func TestBudgetConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		b := Must(NewBudget(BudgetOptions{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second}))
		const goroutines, deposits = 8, 250 // capacity: 0.5 × 2000 + 10 = 1010
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range deposits {
					b.Deposit()
				}
			})
		}
		wg.Wait()
		var mu sync.Mutex
		allowed := 0
		for range goroutines {
			wg.Go(func() {
				n := 0
				for range 200 {
					if b.TryWithdraw() {
						n++
					}
				}
				mu.Lock()
				allowed += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if allowed > 1010 {
			t.Fatalf("concurrent withdrawals allowed = %d, want ≤ 1010", allowed)
		}
		if got := allowed + budgetDrain(b); got != 1010 {
			t.Fatalf("concurrent + sequential withdrawals allowed = %d, want 1010 (refusals must take nothing)", got)
		}
	})
}

func TestBudgetAllocs(t *testing.T) {
	b := Must(NewBudget(BudgetOptions{}))
	if n := testing.AllocsPerRun(1000, b.Deposit); n != 0 {
		t.Errorf("Budget.Deposit allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { b.TryWithdraw() }); n != 0 {
		t.Errorf("Budget.TryWithdraw allocates %v times, want 0", n)
	}
}

func TestBudgetShardSlots(t *testing.T) {
	var sh budgetShard
	steps := []struct {
		name string
		op   func() bool
		want bool
	}{
		{"add(25)", func() bool { return sh.add(25) }, true},
		{"add(25) again", func() bool { return sh.add(25) }, true},
		{"sum(25) == 2", func() bool { return sh.sum(25) == 2 }, true},
		{"sum(34) == 2", func() bool { return sh.sum(34) == 2 }, true}, // slot 25 is still in the window of 34
		{"sum(35) == 0", func() bool { return sh.sum(35) == 0 }, true}, // but not in that of 35
		{"add(15), overtaken by 25", func() bool { return sh.add(15) }, false},
		{"add(35) takes slot 25's place", func() bool { return sh.add(35) }, true},
		{"sum(35) == 1", func() bool { return sh.sum(35) == 1 }, true},
		{"remove(25) after it moved on", func() bool { sh.remove(25); return sh.sum(35) == 1 }, true},
		{"remove(35)", func() bool { sh.remove(35); return sh.sum(35) == 0 }, true},
		{"remove(35) at zero", func() bool { sh.remove(35); return sh.sum(35) == 0 }, true},
		{"sum(3) near the start", func() bool { return sh.add(3) && sh.sum(3) == 1 }, true},
		{"saturated slot refuses", func() bool {
			sh.slots[7].Store(budgetWord(7, budgetCountMax))
			return sh.add(7)
		}, false},
		{"a tag from long ago (wrapped) is reused", func() bool {
			s := uint64(7) + 10<<38 // same ring index, tag 2^39 slots later
			return sh.add(s) && sh.sum(s) == 1
		}, true},
	}
	for _, st := range steps {
		if got := st.op(); got != st.want {
			t.Fatalf("%s = %v, want %v", st.name, got, st.want)
		}
	}
}

// budgetDrain withdraws until the budget refuses and returns how many it allowed.
func budgetDrain(b *Budget) int {
	n := 0
	for b.TryWithdraw() {
		n++
		if n > 1_000_000 {
			panic("budget never refuses")
		}
	}
	return n
}

// budgetModelEvent is one deposit or allowed withdrawal seen by the model, at an
// offset from the budget's start.
type budgetModelEvent struct {
	at       time.Duration
	withdraw bool
}

// budgetOp is one step of a property test: a deposit, a withdrawal, or a time
// advance.
type budgetOp struct {
	kind    byte // 'd', 'w' or 'a'
	advance time.Duration
}

func (op budgetOp) String() string {
	if op.kind == 'a' {
		return "advance " + op.advance.String()
	}
	return map[byte]string{'d': "deposit", 'w': "withdraw"}[op.kind]
}

// budgetOps generates sequences of budget operations for a budget of the given
// window: advances are up to a window, often whole slots so that events fall on the
// window's edges. They are drawn outside the synctest bubble (rapid cannot run
// inside one) and replayed inside it.
func budgetOps(window time.Duration) *rapid.Generator[[]budgetOp] {
	slot := window / budgetSlots
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) budgetOp {
		switch rapid.IntRange(0, 7).Draw(t, "kind") {
		case 0, 1, 2:
			return budgetOp{kind: 'd'}
		case 3, 4, 5:
			return budgetOp{kind: 'w'}
		case 6:
			return budgetOp{kind: 'a', advance: time.Duration(rapid.IntRange(1, budgetSlots).Draw(t, "slots")) * slot}
		default:
			return budgetOp{kind: 'a', advance: time.Duration(rapid.Int64Range(0, int64(window)).Draw(t, "advance"))}
		}
	}), 0, 300)
}

// TestBudgetProperty drives a budget with any sequence of deposits, withdrawals and
// time advances (on the synctest clock) and checks each withdrawal against a model:
// allowed exactly when retries ≤ ratio × requests + minPerSecond × window over the
// budget's window, and never more than that over the sliding Window.
func TestBudgetProperty(t *testing.T) {
	defer goleak.VerifyNone(t)
	rapid.Check(t, func(rt *rapid.T) {
		percent := rapid.IntRange(1, 150).Draw(rt, "ratio%")
		minPerSecond := rapid.IntRange(1, 5).Draw(rt, "minPerSecond")
		windowTenths := rapid.IntRange(1, 50).Draw(rt, "window/100ms")
		window := time.Duration(windowTenths) * 100 * time.Millisecond
		ops := budgetOps(window).Draw(rt, "ops")
		// fits reports whether withdrawals ≤ ratio × deposits + reserve, exactly: both
		// sides × 1000.
		fits := func(deposits, withdrawals int) bool {
			return 1000*withdrawals <= 10*percent*deposits+100*minPerSecond*windowTenths
		}
		var failure string
		synctest.Test(t, func(*testing.T) {
			b := Must(NewBudget(BudgetOptions{Ratio: float64(percent) / 100, MinPerSecond: minPerSecond, Window: window}))
			start := time.Now()
			var events []budgetModelEvent
			// count returns the deposits and withdrawals at offsets in [from, to].
			count := func(from, to time.Duration) (deposits, withdrawals int) {
				for _, e := range events {
					if e.at >= from && e.at <= to {
						if e.withdraw {
							withdrawals++
						} else {
							deposits++
						}
					}
				}
				return deposits, withdrawals
			}
			for i, op := range ops {
				now := time.Since(start)
				switch op.kind {
				case 'd':
					b.Deposit()
					events = append(events, budgetModelEvent{at: now})
				case 'a':
					time.Sleep(op.advance)
				case 'w':
					first := (now/b.width - (budgetSlots - 1)) * b.width // the first slot the budget counts
					d, w := count(first, now)
					want := fits(d, w+1)
					if got := b.TryWithdraw(); got != want {
						failure = fmt.Sprintf("op %d at %s: TryWithdraw() = %v, want %v (%d requests and %d retries since %s)", i, now, got, want, d, w, first)
						return
					}
					if !want {
						continue
					}
					events = append(events, budgetModelEvent{at: now, withdraw: true})
					// Over the sliding window: the retries of the last 0.9 Window stay
					// within what the requests of the last Window allow.
					d, _ = count(now-window+1, now)
					_, w = count(now-(window-b.width)+1, now)
					if !fits(d, w) {
						failure = fmt.Sprintf("op %d at %s: %d retries in the last %s, %d requests in the last %s: over budget", i, now, w, window-b.width, d, window)
						return
					}
				}
			}
		})
		if failure != "" {
			rt.Fatal(failure)
		}
	})
}

// TestBudgetPropertyDepositsOnly checks that requests alone never use up the
// budget: after any sequence of deposits and time advances, the budget allows
// exactly ratio × requests + reserve retries.
func TestBudgetPropertyDepositsOnly(t *testing.T) {
	defer goleak.VerifyNone(t)
	rapid.Check(t, func(rt *rapid.T) {
		percent := rapid.IntRange(1, 100).Draw(rt, "ratio%")
		minPerSecond := rapid.IntRange(1, 3).Draw(rt, "minPerSecond")
		ops := budgetOps(2*time.Second).Draw(rt, "ops")
		var failure string
		synctest.Test(t, func(*testing.T) {
			b := Must(NewBudget(BudgetOptions{Ratio: float64(percent) / 100, MinPerSecond: minPerSecond, Window: time.Second}))
			start := time.Now()
			var deposits []time.Duration
			for _, op := range ops {
				switch op.kind {
				case 'd', 'w': // no retries requested: every step is a request
					b.Deposit()
					deposits = append(deposits, time.Since(start))
				case 'a':
					time.Sleep(op.advance)
				}
			}
			now := time.Since(start)
			first := (now/b.width - (budgetSlots - 1)) * b.width
			inWindow := 0
			for _, at := range deposits {
				if at >= first {
					inWindow++
				}
			}
			want := (percent*inWindow + 100*minPerSecond) / 100 // floor(ratio × requests + reserve)
			if got := budgetDrain(b); got != want {
				failure = fmt.Sprintf("after %d requests in the window the budget allowed %d retries, want %d", inWindow, got, want)
			}
		})
		if failure != "" {
			rt.Fatal(failure)
		}
	})
}
