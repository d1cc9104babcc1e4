package resilience

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func newBulkheadPipeline(t *testing.T, opts BulkheadOptions, obs Observer) (*Pipeline, *Bulkhead) {
	t.Helper()
	b, err := NewBulkhead(opts)
	if err != nil {
		t.Fatalf("NewBulkhead(%+v) = %v", opts, err)
	}
	p, err := NewPipeline(PipelineOptions{Name: "test", Observer: obs}, b)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

func bulkheadStaticOK(context.Context) (int, error) { return 1, nil }

// bulkheadHold runs a call through p that holds its slot until release is closed.
// It returns a channel that receives the call's error.
func bulkheadHold(p *Pipeline, ctx context.Context, release <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := Do(ctx, p, func(context.Context) (int, error) {
			<-release
			return 1, nil
		})
		done <- err
	}()
	return done
}

func TestBulkheadOptions(t *testing.T) {
	tests := []struct {
		opts              BulkheadOptions
		wantName          string
		wantMax, wantQueu int
		wantErr           string
	}{
		{BulkheadOptions{}, "bulkhead", 100, 0, ""},
		{BulkheadOptions{Name: "db", MaxConcurrent: 3, MaxQueue: 7}, "db", 3, 7, ""},
		{BulkheadOptions{MaxConcurrent: -1}, "", 0, 0, "resilience: BulkheadOptions.MaxConcurrent: must be ≥ 0, got -1"},
		{BulkheadOptions{MaxQueue: -1}, "", 0, 0, "resilience: BulkheadOptions.MaxQueue: must be ≥ 0, got -1"},
	}
	for _, tt := range tests {
		b, err := NewBulkhead(tt.opts)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("NewBulkhead(%+v) error = %v, want %q", tt.opts, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewBulkhead(%+v) = %v, want no error", tt.opts, err)
			continue
		}
		if b.Name() != tt.wantName || int(b.max) != tt.wantMax || b.maxQueue != tt.wantQueu {
			t.Errorf("NewBulkhead(%+v) = (%q, %d, %d), want (%q, %d, %d)", tt.opts, b.Name(), b.max, b.maxQueue, tt.wantName, tt.wantMax, tt.wantQueu)
		}
	}
}

func TestBulkheadQueueFull(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var obs policyEvents
		p, b := newBulkheadPipeline(t, BulkheadOptions{Name: "bh", MaxConcurrent: 1, MaxQueue: 1}, &obs)
		release := make(chan struct{})
		running := bulkheadHold(p, context.Background(), release)
		synctest.Wait()
		queued := bulkheadHold(p, context.Background(), release)
		synctest.Wait()
		if b.InFlight() != 1 || b.Queued() != 1 {
			t.Fatalf("InFlight(), Queued() = %d, %d, want 1, 1", b.InFlight(), b.Queued())
		}

		start := time.Now()
		_, err := Do(context.Background(), p, bulkheadStaticOK)
		if !errors.Is(err, ErrBulkheadFull) {
			t.Errorf("Do on a full bulkhead = %v, want ErrBulkheadFull", err)
		}
		var full *BulkheadFullError
		if !errors.As(err, &full) || *full != (BulkheadFullError{Bulkhead: "bh", MaxConcurrent: 1, MaxQueue: 1}) {
			t.Errorf("Do on a full bulkhead = %#v, want *BulkheadFullError{bh, 1, 1}", err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("rejection took %s, want 0", got)
		}
		if evs := obs.list(); len(evs) != 1 || evs[0].Kind != EventRejected || evs[0].Policy != "bh" || !errors.Is(evs[0].Err, ErrBulkheadFull) {
			t.Errorf("events = %+v, want one EventRejected from bh", evs)
		}

		close(release)
		if err := <-running; err != nil {
			t.Errorf("running call = %v, want nil", err)
		}
		if err := <-queued; err != nil {
			t.Errorf("queued call = %v, want nil", err)
		}
		if b.InFlight() != 0 || b.Queued() != 0 {
			t.Errorf("at the end InFlight(), Queued() = %d, %d, want 0, 0", b.InFlight(), b.Queued())
		}
	})
}

func TestBulkheadNoQueueRejectsAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		p, b := newBulkheadPipeline(t, BulkheadOptions{MaxConcurrent: 2}, nil)
		release := make(chan struct{})
		h1 := bulkheadHold(p, context.Background(), release)
		h2 := bulkheadHold(p, context.Background(), release)
		synctest.Wait()
		if _, err := Do(context.Background(), p, bulkheadStaticOK); !errors.Is(err, ErrBulkheadFull) {
			t.Errorf("Do with 2 of 2 slots taken and no queue = %v, want ErrBulkheadFull", err)
		}
		close(release)
		<-h1
		<-h2
		if v, err := Do(context.Background(), p, bulkheadStaticOK); v != 1 || err != nil {
			t.Errorf("Do after release = %d, %v, want 1, nil", v, err)
		}
		if b.InFlight() != 0 {
			t.Errorf("InFlight() = %d, want 0", b.InFlight())
		}
	})
}

func TestBulkheadFIFO(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		const waiters = 5
		p, b := newBulkheadPipeline(t, BulkheadOptions{MaxConcurrent: 1, MaxQueue: waiters}, nil)
		release := make(chan struct{})
		holder := bulkheadHold(p, context.Background(), release)
		synctest.Wait()

		var mu sync.Mutex
		var order []int
		var wg sync.WaitGroup
		for n := range waiters {
			wg.Go(func() {
				_, err := Do(context.Background(), p, func(context.Context) (int, error) {
					mu.Lock()
					order = append(order, n)
					mu.Unlock()
					return 0, nil
				})
				if err != nil {
					t.Errorf("waiter %d: %v", n, err)
				}
			})
			synctest.Wait() // waiter n is in line before waiter n+1 starts
		}
		if b.Queued() != waiters {
			t.Fatalf("Queued() = %d, want %d", b.Queued(), waiters)
		}
		close(release)
		<-holder
		wg.Wait()
		for n := range waiters {
			if n >= len(order) || order[n] != n {
				t.Fatalf("order of waiters = %v, want 0..%d", order, waiters-1)
			}
		}
	})
}

func TestBulkheadCancelWhileWaiting(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		p, b := newBulkheadPipeline(t, BulkheadOptions{MaxConcurrent: 1, MaxQueue: 3}, nil)
		release := make(chan struct{})
		holder := bulkheadHold(p, context.Background(), release)
		synctest.Wait()

		// A waiter whose context is cancelled leaves the line at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := bulkheadHold(p, ctx, release)
		// A waiter whose deadline passes leaves it at the deadline.
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		start := time.Now()
		expired := bulkheadHold(p, dctx, release)
		// A waiter that stays gets the slot after them.
		ran := make(chan struct{})
		stayed := make(chan error, 1)
		go func() {
			_, err := Do(context.Background(), p, func(context.Context) (int, error) {
				close(ran)
				return 0, nil
			})
			stayed <- err
		}()
		synctest.Wait()
		if b.Queued() != 3 {
			t.Fatalf("Queued() = %d, want 3", b.Queued())
		}

		cancel()
		if err := <-cancelled; err != context.Canceled {
			t.Errorf("cancelled waiter = %v, want context.Canceled", err)
		}
		if err := <-expired; err != context.DeadlineExceeded {
			t.Errorf("expired waiter = %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("expired waiter gave up after %s, want 1s", got)
		}
		if b.InFlight() != 1 || b.Queued() != 1 {
			t.Errorf("InFlight(), Queued() = %d, %d, want 1, 1", b.InFlight(), b.Queued())
		}
		close(release)
		<-holder
		<-ran
		if err := <-stayed; err != nil {
			t.Errorf("waiter that stayed = %v, want nil", err)
		}
		if b.InFlight() != 0 || b.Queued() != 0 {
			t.Errorf("at the end InFlight(), Queued() = %d, %d, want 0, 0", b.InFlight(), b.Queued())
		}
	})
}

func TestBulkheadDoneContextDoesNotWait(t *testing.T) {
	p, b := newBulkheadPipeline(t, BulkheadOptions{MaxConcurrent: 1, MaxQueue: 1}, nil)
	// Take the only slot by hand.
	if !b.tryAcquire() {
		t.Fatal("tryAcquire on an empty bulkhead = false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Do(ctx, p, bulkheadStaticOK); err != context.Canceled {
		t.Errorf("Do with a done context on a busy bulkhead = %v, want context.Canceled", err)
	}
	b.release()
	if b.InFlight() != 0 || b.Queued() != 0 {
		t.Errorf("InFlight(), Queued() = %d, %d, want 0, 0", b.InFlight(), b.Queued())
	}
}

func TestBulkheadReleasesSlotOnPanic(t *testing.T) {
	p, b := newBulkheadPipeline(t, BulkheadOptions{MaxConcurrent: 1}, nil)
	func() {
		defer func() { _ = recover() }()
		_, _ = Do(context.Background(), p, func(context.Context) (int, error) { panic("boom") })
	}()
	if b.InFlight() != 0 {
		t.Errorf("InFlight() after a panicking call = %d, want 0", b.InFlight())
	}
}

// TestBulkheadStress hammers a bulkhead from many goroutines with random
// cancellations and checks that it never admits more than MaxConcurrent calls, loses
// no slot and wakes every waiter.
func TestBulkheadStress(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, opts := range []BulkheadOptions{
		{MaxConcurrent: 1, MaxQueue: 1},
		{MaxConcurrent: 3, MaxQueue: 8},
		{MaxConcurrent: 4, MaxQueue: 1000}, // nobody is ever rejected
		{MaxConcurrent: 8, MaxQueue: 0},
	} {
		p, b := newBulkheadPipeline(t, opts, nil)
		const goroutines, calls = 32, 300
		var running, peak atomic.Int64
		var ok, full, cancelled atomic.Int64
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range calls {
					ctx, cancel := context.WithCancel(context.Background())
					var stop sync.WaitGroup
					if rand.IntN(4) == 0 {
						// Cancel from another goroutine at a random moment.
						spins := rand.IntN(8)
						stop.Go(func() {
							for range spins {
								runtime.Gosched()
							}
							cancel()
						})
					}
					_, err := Do(ctx, p, func(context.Context) (int, error) {
						n := running.Add(1)
						for {
							m := peak.Load()
							if n <= m || peak.CompareAndSwap(m, n) {
								break
							}
						}
						runtime.Gosched()
						running.Add(-1)
						return 0, nil
					})
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, ErrBulkheadFull):
						full.Add(1)
					case errors.Is(err, context.Canceled):
						cancelled.Add(1)
					default:
						t.Errorf("Do = %v, want nil, ErrBulkheadFull or context.Canceled", err)
					}
					stop.Wait()
					cancel()
				}
			})
		}
		wg.Wait()
		if got := peak.Load(); got > int64(opts.MaxConcurrent) {
			t.Errorf("%+v: peak concurrency = %d, want ≤ %d", opts, got, opts.MaxConcurrent)
		}
		if b.InFlight() != 0 || b.Queued() != 0 {
			t.Errorf("%+v: at the end InFlight(), Queued() = %d, %d, want 0, 0", opts, b.InFlight(), b.Queued())
		}
		if total := ok.Load() + full.Load() + cancelled.Load(); total != goroutines*calls {
			t.Errorf("%+v: %d outcomes, want %d", opts, total, goroutines*calls)
		}
		if opts.MaxQueue >= goroutines && full.Load() != 0 {
			t.Errorf("%+v: %d rejections with a queue longer than the callers, want 0", opts, full.Load())
		}
		t.Logf("%+v: peak %d, %d ok, %d full, %d cancelled", opts, peak.Load(), ok.Load(), full.Load(), cancelled.Load())
	}
}

// TestBulkheadNoLostWakeup races a release against a caller joining the line, over
// and over, inside a synctest bubble: a waiter that misses the release blocks for
// ever, which the bubble reports as a deadlock. Half of the rounds also cancel the
// waiter while the slot may be handed to it, which must pass the slot on.
func TestBulkheadNoLostWakeup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, b := newBulkheadPipeline(t, BulkheadOptions{MaxConcurrent: 1, MaxQueue: 2}, nil)
		fn := func(context.Context) (int, error) {
			runtime.Gosched()
			return 0, nil
		}
		for round := range 20000 {
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			wg.Go(func() { _, _ = Do(context.Background(), p, fn) })
			wg.Go(func() { _, _ = Do(ctx, p, fn) })
			if round%2 == 1 {
				wg.Go(cancel)
			}
			wg.Go(func() { _, _ = Do(context.Background(), p, fn) })
			wg.Wait()
			cancel()
			if b.InFlight() != 0 || b.Queued() != 0 {
				t.Fatalf("round %d: InFlight(), Queued() = %d, %d, want 0, 0", round, b.InFlight(), b.Queued())
			}
		}
	})
}

func TestBulkheadAllocs(t *testing.T) {
	p, _ := newBulkheadPipeline(t, BulkheadOptions{MaxConcurrent: 4}, nil)
	ctx := context.Background()
	got := testing.AllocsPerRun(1000, func() {
		if _, err := Do(ctx, p, bulkheadStaticOK); err != nil {
			t.Fatal(err)
		}
	})
	if got != 0 {
		t.Errorf("Do through a Bulkhead with a free slot allocates %v times, want 0", got)
	}
}
