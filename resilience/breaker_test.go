package resilience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// Helpers of this file are prefixed with bk so that they do not collide with those of
// the package's other tests.

var bkBoom = errors.New("boom")

// bkNew returns a breaker built from opts, failing the test on an error.
func bkNew(t testing.TB, opts BreakerOptions) *Breaker {
	t.Helper()
	b, err := NewBreaker(opts)
	if err != nil {
		t.Fatalf("NewBreaker(%+v) = %v", opts, err)
	}
	return b
}

// bkPipeline returns a pipeline named "bk" that holds only b.
func bkPipeline(t testing.TB, b *Breaker, obs Observer) *Pipeline {
	t.Helper()
	p, err := NewPipeline(PipelineOptions{Name: "bk", Observer: obs}, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// bkCall runs a call that returns err through p, and returns what the pipeline returned.
func bkCall(p *Pipeline, err error) error {
	return p.Run(context.Background(), func(context.Context) error { return err })
}

// bkLog records state changes.
type bkLog struct {
	mu      sync.Mutex
	changes []BreakerStateChange
}

func (l *bkLog) add(c BreakerStateChange) {
	l.mu.Lock()
	l.changes = append(l.changes, c)
	l.mu.Unlock()
}

// path returns the states as "closed>open>half-open".
func (l *bkLog) path() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.changes) == 0 {
		return ""
	}
	s := []string{l.changes[0].From.String()}
	for _, c := range l.changes {
		s = append(s, c.To.String())
	}
	return strings.Join(s, ">")
}

// bkWantOpenError checks that err is a *BreakerOpenError with state and retryIn.
func bkWantOpenError(t *testing.T, err error, state BreakerState, retryIn time.Duration) {
	t.Helper()
	var boe *BreakerOpenError
	if !errors.As(err, &boe) || !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("err = %v, want a *BreakerOpenError matching ErrBreakerOpen", err)
	}
	if boe.State != state || boe.RetryIn != retryIn {
		t.Fatalf("BreakerOpenError = {State: %s, RetryIn: %s}, want {%s, %s}", boe.State, boe.RetryIn, state, retryIn)
	}
}

// bkSameSnapshot reports whether a and b are equal, comparing times with Equal.
func bkSameSnapshot(a, b BreakerSnapshot) bool {
	return a.Name == b.Name && a.State == b.State && a.Successes == b.Successes && a.Failures == b.Failures &&
		a.ConsecutiveFailures == b.ConsecutiveFailures && a.Trips == b.Trips &&
		a.OpenedAt.Equal(b.OpenedAt) && a.HalfOpensAt.Equal(b.HalfOpensAt)
}

func TestBreakerStateString(t *testing.T) {
	for s, want := range map[BreakerState]string{
		StateClosed: "closed", StateOpen: "open", StateHalfOpen: "half-open", StateIsolated: "isolated", 9: "unknown",
	} {
		if got := s.String(); got != want {
			t.Errorf("BreakerState(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func TestBreakerOptionsInvalid(t *testing.T) {
	tests := []struct {
		opts BreakerOptions
		want string
	}{
		{BreakerOptions{FailureRatio: 1.5}, "resilience: BreakerOptions.FailureRatio: must be in (0, 1], got 1.5"},
		{BreakerOptions{FailureRatio: -0.1}, "resilience: BreakerOptions.FailureRatio: must be in (0, 1], got -0.1"},
		{BreakerOptions{FailureRatio: math.NaN()}, "resilience: BreakerOptions.FailureRatio: must be in (0, 1], got NaN"},
		{BreakerOptions{Mode: 7}, "resilience: BreakerOptions.Mode: must be TripFailureRatio or TripConsecutiveFailures, got 7"},
		{BreakerOptions{MinThroughput: -1}, "resilience: BreakerOptions.MinThroughput: must not be negative, got -1"},
		{BreakerOptions{SamplingWindow: -time.Second}, "resilience: BreakerOptions.SamplingWindow: must not be negative, got -1s"},
		{BreakerOptions{SamplingWindow: time.Millisecond}, "resilience: BreakerOptions.SamplingWindow: must be at least 10ms, got 1ms"},
		{BreakerOptions{ConsecutiveFailures: -2}, "resilience: BreakerOptions.ConsecutiveFailures: must not be negative, got -2"},
		{BreakerOptions{BreakDuration: -time.Second}, "resilience: BreakerOptions.BreakDuration: must not be negative, got -1s"},
		{BreakerOptions{BreakGrowth: 0.5}, "resilience: BreakerOptions.BreakGrowth: must be at least 1, got 0.5"},
		{BreakerOptions{BreakGrowth: math.Inf(1)}, "resilience: BreakerOptions.BreakGrowth: must be finite, got +Inf"},
		{BreakerOptions{MaxBreakDuration: -time.Second}, "resilience: BreakerOptions.MaxBreakDuration: must not be negative, got -1s"},
		{BreakerOptions{MaxBreakDuration: time.Second}, "resilience: BreakerOptions.MaxBreakDuration: must be at least BreakDuration (5s), got 1s"},
		{BreakerOptions{BreakDuration: time.Minute, MaxBreakDuration: time.Second}, "resilience: BreakerOptions.MaxBreakDuration: must be at least BreakDuration (1m0s), got 1s"},
		{BreakerOptions{HalfOpenProbes: -1}, "resilience: BreakerOptions.HalfOpenProbes: must not be negative, got -1"},
		{
			BreakerOptions{FailureRatio: 2, HalfOpenProbes: -1},
			"resilience: BreakerOptions.FailureRatio: must be in (0, 1], got 2\n" +
				"resilience: BreakerOptions.HalfOpenProbes: must not be negative, got -1",
		},
	}
	for _, tt := range tests {
		b, err := NewBreaker(tt.opts)
		if err == nil || err.Error() != tt.want || b != nil {
			t.Errorf("NewBreaker(%+v) = %v, %v; want nil, %q", tt.opts, b, err, tt.want)
		}
	}
}

func TestBreakerOptionsDefaults(t *testing.T) {
	b := bkNew(t, BreakerOptions{})
	want := BreakerOptions{
		Name: "breaker", Mode: TripFailureRatio, FailureRatio: 0.5, MinThroughput: 10,
		SamplingWindow: 30 * time.Second, ConsecutiveFailures: 5, BreakDuration: 5 * time.Second,
		BreakGrowth: 1, MaxBreakDuration: 50 * time.Second, HalfOpenProbes: 1,
	}
	if fmt.Sprintf("%+v", b.opts) != fmt.Sprintf("%+v", want) {
		t.Fatalf("normalised zero options = %+v, want %+v", b.opts, want)
	}
	if b.Name() != "breaker" || b.State() != StateClosed {
		t.Fatalf("Name(), State() = %q, %s; want breaker, closed", b.Name(), b.State())
	}
	// Valid edges are accepted.
	for _, opts := range []BreakerOptions{
		{FailureRatio: 1}, {SamplingWindow: 10 * time.Millisecond}, {BreakGrowth: 1},
		{BreakDuration: time.Second, MaxBreakDuration: time.Second},
		{BreakDuration: math.MaxInt64},
	} {
		if _, err := NewBreaker(opts); err != nil {
			t.Errorf("NewBreaker(%+v) = %v, want no error", opts, err)
		}
	}
}

func TestBreakerConsecutiveFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log bkLog
		b := bkNew(t, BreakerOptions{Name: "c", Mode: TripConsecutiveFailures, ConsecutiveFailures: 3,
			BreakDuration: 10 * time.Second, OnStateChange: log.add})
		p := bkPipeline(t, b, nil)
		// Two failures, a success: the count starts again.
		for _, err := range []error{bkBoom, bkBoom, nil, bkBoom, bkBoom} {
			if got := bkCall(p, err); got != err {
				t.Fatalf("call = %v, want %v", got, err)
			}
		}
		if s := b.Snapshot(); s.State != StateClosed || s.ConsecutiveFailures != 2 {
			t.Fatalf("after F F S F F: State, ConsecutiveFailures = %s, %d; want closed, 2", s.State, s.ConsecutiveFailures)
		}
		if got := bkCall(p, bkBoom); got != bkBoom {
			t.Fatalf("third failure = %v, want boom", got)
		}
		if b.State() != StateOpen {
			t.Fatalf("State() after 3 failures = %s, want open", b.State())
		}
		called := false
		err := p.Run(context.Background(), func(context.Context) error { called = true; return nil })
		if called {
			t.Fatal("an open breaker ran the call")
		}
		bkWantOpenError(t, err, StateOpen, 10*time.Second)
		if got := log.path(); got != "closed>open" {
			t.Fatalf("state changes = %s, want closed>open", got)
		}
		if r := log.changes[0].Reason; r != "3 consecutive failures" {
			t.Fatalf("Reason = %q, want %q", r, "3 consecutive failures")
		}
	})
}

func TestBreakerRatioMinThroughput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := bkNew(t, BreakerOptions{FailureRatio: 0.5, MinThroughput: 10, SamplingWindow: 10 * time.Second})
		p := bkPipeline(t, b, nil)
		for i := 1; i <= 9; i++ {
			bkCall(p, bkBoom)
			if b.State() != StateClosed {
				t.Fatalf("State() after %d failures (min throughput 10) = %s, want closed", i, b.State())
			}
		}
		bkCall(p, bkBoom)
		if s := b.Snapshot(); s.State != StateOpen || s.Failures != 10 || s.Successes != 0 || s.Trips != 1 {
			t.Fatalf("after 10 failures: Snapshot = %+v, want open with 10 failures, 1 trip", s)
		}
	})
}

func TestBreakerRatioBoundary(t *testing.T) {
	tests := []struct {
		ratio             float64
		successes, failed int // in this order
		want              BreakerState
	}{
		{0.5, 5, 5, StateOpen},    // exactly 0.5
		{0.5, 6, 4, StateClosed},  // 0.4
		{0.3, 7, 3, StateOpen},    // exactly 0.3, which 0.3×10 would miss
		{0.3, 8, 2, StateClosed},  // 0.2
		{0.1, 9, 1, StateOpen},    // exactly 0.1
		{1, 1, 9, StateClosed},    // 0.9
		{1, 0, 10, StateOpen},     // all failed
		{0.7, 3, 7, StateOpen},    // exactly 0.7
		{0.7, 4, 6, StateClosed},  // 0.6
		{0.6, 4, 5, StateClosed},  // 9 calls, below MinThroughput
		{0.25, 30, 10, StateOpen}, // exactly 0.25 over 40
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			b := bkNew(t, BreakerOptions{FailureRatio: tt.ratio, MinThroughput: 10})
			p := bkPipeline(t, b, nil)
			for range tt.successes {
				bkCall(p, nil)
			}
			for range tt.failed {
				bkCall(p, bkBoom)
			}
			if got := b.State(); got != tt.want {
				t.Errorf("ratio %v, %d successes then %d failures: State() = %s, want %s",
					tt.ratio, tt.successes, tt.failed, got, tt.want)
			}
		})
	}
}

func TestBreakerWindowSlides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Buckets of 1s; the window holds the current one and the nine before.
		b := bkNew(t, BreakerOptions{FailureRatio: 0.5, MinThroughput: 4, SamplingWindow: 10 * time.Second})
		p := bkPipeline(t, b, nil)
		for range 3 {
			bkCall(p, bkBoom)
		}
		bkCall(p, nil)
		time.Sleep(9*time.Second + 500*time.Millisecond)
		if s := b.Snapshot(); s.Failures != 3 || s.Successes != 1 {
			t.Fatalf("9.5s later: Failures, Successes = %d, %d; want 3, 1", s.Failures, s.Successes)
		}
		time.Sleep(500 * time.Millisecond)
		if s := b.Snapshot(); s.Failures != 0 || s.Successes != 0 {
			t.Fatalf("10s later: Failures, Successes = %d, %d; want 0, 0 (forgotten)", s.Failures, s.Successes)
		}
		// A fourth failure would have tripped it with the old ones; alone it does not.
		bkCall(p, bkBoom)
		if s := b.Snapshot(); s.State != StateClosed || s.Failures != 1 {
			t.Fatalf("after old failures slid out: State, Failures = %s, %d; want closed, 1", s.State, s.Failures)
		}
		// Outcomes spread over the window add up.
		for range 3 {
			time.Sleep(2 * time.Second)
			bkCall(p, bkBoom)
		}
		if s := b.Snapshot(); s.State != StateOpen || s.Failures != 4 {
			t.Fatalf("four failures over 6s: State, Failures = %s, %d; want open, 4", s.State, s.Failures)
		}
	})
}

func TestBreakerOpenRejectsUntilBreakElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log bkLog
		b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1,
			BreakDuration: 10 * time.Second, OnStateChange: log.add})
		p := bkPipeline(t, b, nil)
		bkCall(p, bkBoom)
		// RetryIn is rounded up to a tenth of the break.
		for _, step := range []struct {
			sleep, retryIn time.Duration
		}{
			{0, 10 * time.Second},
			{500 * time.Millisecond, 10 * time.Second},
			{500 * time.Millisecond, 9 * time.Second},
			{time.Nanosecond, 9 * time.Second},
			{8*time.Second - time.Nanosecond, time.Second},
			{999 * time.Millisecond, time.Second},
			{time.Millisecond - time.Nanosecond, time.Second},
		} {
			time.Sleep(step.sleep)
			_, err := b.Allow()
			bkWantOpenError(t, err, StateOpen, step.retryIn)
		}
		if b.State() != StateOpen || log.path() != "closed>open" {
			t.Fatalf("before the break is over: State() = %s, changes %s; want open, closed>open", b.State(), log.path())
		}
		time.Sleep(time.Nanosecond) // exactly 10s: the break is over
		if b.State() != StateOpen {
			t.Fatalf("State() after the break, before a call = %s, want open (lazy)", b.State())
		}
		permit, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow() after the break = %v, want a probe", err)
		}
		if b.State() != StateHalfOpen || log.path() != "closed>open>half-open" {
			t.Fatalf("after the first call: State() = %s, changes %s; want half-open", b.State(), log.path())
		}
		if r := log.changes[1].Reason; r != "break elapsed" {
			t.Fatalf("Reason = %q, want %q", r, "break elapsed")
		}
		_, err = b.Allow()
		bkWantOpenError(t, err, StateHalfOpen, 0)
		permit.Done(false)
		if b.State() != StateClosed || log.path() != "closed>open>half-open>closed" {
			t.Fatalf("after the probe succeeded: State() = %s, changes %s; want closed", b.State(), log.path())
		}
	})
}

func TestBreakerHalfOpenProbes(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1,
			BreakDuration: time.Second, HalfOpenProbes: 3})
		p := bkPipeline(t, b, nil)
		bkCall(p, bkBoom)
		time.Sleep(time.Second)

		release := make(chan struct{})
		var admitted, rejected atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				err := p.Run(context.Background(), func(context.Context) error {
					admitted.Add(1)
					<-release
					return nil
				})
				if errors.Is(err, ErrBreakerOpen) {
					rejected.Add(1)
				}
			})
		}
		synctest.Wait() // every call is either rejected or blocked in the function
		if a, r := admitted.Load(), rejected.Load(); a != 3 || r != 7 {
			t.Fatalf("10 concurrent calls to a half-open breaker with 3 probes: %d admitted, %d rejected; want 3, 7", a, r)
		}
		if b.State() != StateHalfOpen {
			t.Fatalf("State() with probes in flight = %s, want half-open", b.State())
		}
		close(release)
		wg.Wait()
		if b.State() != StateClosed {
			t.Fatalf("State() after 3 successful probes = %s, want closed", b.State())
		}
	})
}

func TestBreakerProbesMustAllSucceed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1,
			BreakDuration: time.Second, HalfOpenProbes: 2})
		permit, _ := b.Allow()
		permit.Done(true)
		time.Sleep(time.Second)
		p1, err1 := b.Allow()
		p2, err2 := b.Allow()
		if err1 != nil || err2 != nil {
			t.Fatalf("two probes: %v, %v; want both admitted", err1, err2)
		}
		p1.Done(false)
		if b.State() != StateHalfOpen {
			t.Fatalf("State() after 1 of 2 probes succeeded = %s, want half-open", b.State())
		}
		// The slot of a succeeded probe is not given back.
		_, err := b.Allow()
		bkWantOpenError(t, err, StateHalfOpen, 0)
		p2.Done(true)
		if s := b.Snapshot(); s.State != StateOpen || s.Trips != 2 {
			t.Fatalf("after the second probe failed: State, Trips = %s, %d; want open, 2", s.State, s.Trips)
		}
		p2.Done(true) // a late or repeated report of an earlier period is not counted
		if s := b.Snapshot(); s.Trips != 2 {
			t.Fatalf("Trips after a stale report = %d, want 2", s.Trips)
		}
	})
}

func TestBreakerBreakGrowth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log bkLog
		b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1,
			BreakDuration: time.Second, BreakGrowth: 2, MaxBreakDuration: 5 * time.Second, OnStateChange: log.add})
		p := bkPipeline(t, b, nil)
		bkCall(p, bkBoom)
		// Each failed probe doubles the break, up to 5s.
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
		for i, d := range want {
			s := b.Snapshot()
			if s.State != StateOpen || s.HalfOpensAt.Sub(s.OpenedAt) != d || !s.OpenedAt.Equal(time.Now()) || s.Trips != i+1 {
				t.Fatalf("trip %d: Snapshot = %+v, want open for %s from now, %d trips", i+1, s, d, i+1)
			}
			_, err := b.Allow()
			bkWantOpenError(t, err, StateOpen, d)
			time.Sleep(d)
			if got := bkCall(p, bkBoom); got != bkBoom {
				t.Fatalf("probe %d = %v, want boom", i+1, got)
			}
		}
		time.Sleep(5 * time.Second)
		if err := bkCall(p, nil); err != nil {
			t.Fatalf("successful probe = %v", err)
		}
		if b.State() != StateClosed {
			t.Fatalf("State() after a successful probe = %s, want closed", b.State())
		}
		// Closing resets the break to its base.
		bkCall(p, bkBoom)
		if s := b.Snapshot(); s.HalfOpensAt.Sub(s.OpenedAt) != time.Second {
			t.Fatalf("break after closing and tripping again = %s, want 1s", s.HalfOpensAt.Sub(s.OpenedAt))
		}
		wantPath := "closed>open" + strings.Repeat(">half-open>open", 5) + ">half-open>closed>open"
		if got := log.path(); got != wantPath {
			t.Fatalf("state changes = %s, want %s", got, wantPath)
		}
	})
}

func TestBreakerIsolateReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log bkLog
		b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 2,
			BreakDuration: time.Second, OnStateChange: log.add})
		p := bkPipeline(t, b, nil)
		bkCall(p, bkBoom)
		early, err := b.Allow() // admitted before Isolate
		if err != nil {
			t.Fatal(err)
		}
		b.Isolate()
		b.Isolate() // no second change
		if b.State() != StateIsolated {
			t.Fatalf("State() after Isolate = %s, want isolated", b.State())
		}
		time.Sleep(time.Hour)
		bkWantOpenError(t, bkCall(p, nil), StateIsolated, 0)
		early.Done(true) // not counted: admitted before the change
		b.Reset()
		if s := b.Snapshot(); s.State != StateClosed || s.ConsecutiveFailures != 0 || s.Trips != 0 {
			t.Fatalf("after Reset: Snapshot = %+v, want closed with no counts", s)
		}
		early.Done(true)
		bkCall(p, bkBoom)
		if b.State() != StateClosed {
			t.Fatalf("one failure after Reset (threshold 2) with a stale failure report: State() = %s, want closed", b.State())
		}
		b.Reset() // closed: forgets counts, no state change
		bkCall(p, bkBoom)
		if b.State() != StateClosed {
			t.Fatalf("Reset of a closed breaker kept its count: State() = %s, want closed", b.State())
		}
		if got := log.path(); got != "closed>isolated>closed" {
			t.Fatalf("state changes = %s, want closed>isolated>closed", got)
		}
		if r := log.changes[0].Reason + "," + log.changes[1].Reason; r != "isolated,reset" {
			t.Fatalf("reasons = %s, want isolated,reset", r)
		}
		// Reset of an open breaker closes it.
		bkCall(p, bkBoom)
		b.Reset()
		if got := log.path(); got != "closed>isolated>closed>open>closed" {
			t.Fatalf("state changes = %s, want closed>isolated>closed>open>closed", got)
		}
	})
}

func TestBreakerSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := bkNew(t, BreakerOptions{Name: "snap", FailureRatio: 0.5, MinThroughput: 4,
			SamplingWindow: 10 * time.Second, BreakDuration: 3 * time.Second})
		p := bkPipeline(t, b, nil)
		if got, want := b.Snapshot(), (BreakerSnapshot{Name: "snap"}); !bkSameSnapshot(got, want) {
			t.Fatalf("new breaker: Snapshot = %+v, want %+v", got, want)
		}
		bkCall(p, nil)
		bkCall(p, nil)
		bkCall(p, bkBoom)
		if got, want := b.Snapshot(), (BreakerSnapshot{Name: "snap", Successes: 2, Failures: 1, ConsecutiveFailures: 1}); !bkSameSnapshot(got, want) {
			t.Fatalf("closed: Snapshot = %+v, want %+v", got, want)
		}
		time.Sleep(time.Second)
		bkCall(p, bkBoom)
		opened := start.Add(time.Second)
		want := BreakerSnapshot{Name: "snap", State: StateOpen, Successes: 2, Failures: 2, ConsecutiveFailures: 2,
			Trips: 1, OpenedAt: opened, HalfOpensAt: opened.Add(3 * time.Second)}
		if got := b.Snapshot(); !bkSameSnapshot(got, want) {
			t.Fatalf("open: Snapshot = %+v, want %+v", got, want)
		}
		time.Sleep(3 * time.Second)
		if got := b.Snapshot(); !bkSameSnapshot(got, want) {
			t.Fatalf("open after the break, before a call: Snapshot = %+v, want %+v", got, want)
		}
		permit, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		want.State, want.HalfOpensAt = StateHalfOpen, time.Time{}
		if got := b.Snapshot(); !bkSameSnapshot(got, want) {
			t.Fatalf("half-open: Snapshot = %+v, want %+v", got, want)
		}
		permit.Done(false)
		want = BreakerSnapshot{Name: "snap", State: StateClosed, Trips: 1, OpenedAt: opened}
		if got := b.Snapshot(); !bkSameSnapshot(got, want) {
			t.Fatalf("closed again: Snapshot = %+v, want %+v", got, want)
		}
	})
}

func TestBreakerListenersOutsideLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *Breaker
		var seen []string
		var events []string
		b = bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1, BreakDuration: time.Second,
			OnStateChange: func(c BreakerStateChange) {
				// Reading the breaker from a listener must not deadlock.
				s := b.Snapshot()
				seen = append(seen, fmt.Sprintf("%s>%s state=%s snapshot=%s", c.From, c.To, b.State(), s.State))
				if c.To == StateOpen && s.Trips == 1 {
					b.Isolate() // and neither must changing it
				}
			},
			Observer: ObserverFunc(func(ctx context.Context, e Event) {
				_ = b.Snapshot()
				events = append(events, fmt.Sprintf("%s %s %s>%s %q", e.Kind, e.Policy, e.From, e.To, e.Pipeline))
			}),
		})
		bkCall(bkPipeline(t, b, nil), bkBoom)
		wantSeen := []string{
			// Isolate ran inside the first listener call: State reports it, and its own
			// change is reported after the first one, in order.
			"closed>open state=open snapshot=open",
			"open>isolated state=isolated snapshot=isolated",
		}
		if fmt.Sprint(seen) != fmt.Sprint(wantSeen) {
			t.Fatalf("listener saw %q, want %q", seen, wantSeen)
		}
		wantEvents := []string{
			`breaker_state_change breaker closed>open ""`,
			`breaker_state_change breaker open>isolated ""`,
		}
		if fmt.Sprint(events) != fmt.Sprint(wantEvents) {
			t.Fatalf("observer saw %q, want %q", events, wantEvents)
		}
	})
}

func TestBreakerListenerPanicDoesNotWedge(t *testing.T) {
	var calls int
	b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1,
		OnStateChange: func(BreakerStateChange) {
			calls++
			if calls == 1 {
				panic("listener")
			}
		}})
	func() {
		defer func() { recover() }()
		b.Isolate()
	}()
	b.Reset()
	if calls != 2 {
		t.Fatalf("listener calls after a panicking one = %d, want 2", calls)
	}
}

func TestBreakerEvents(t *testing.T) {
	var pipeline, own []Event
	b := bkNew(t, BreakerOptions{Name: "payments", Mode: TripConsecutiveFailures, ConsecutiveFailures: 1,
		Observer: ObserverFunc(func(_ context.Context, e Event) { own = append(own, e) })})
	p := bkPipeline(t, b, ObserverFunc(func(_ context.Context, e Event) { pipeline = append(pipeline, e) }))
	bkCall(p, bkBoom)
	err := bkCall(p, nil)
	if len(pipeline) != 1 || pipeline[0].Kind != EventRejected || pipeline[0].Err != err ||
		pipeline[0].Pipeline != "bk" || pipeline[0].Policy != "payments" {
		t.Fatalf("pipeline observer got %+v, want one rejection by payments in bk", pipeline)
	}
	if len(own) != 1 || own[0].Kind != EventBreakerStateChange || own[0].From != StateClosed ||
		own[0].To != StateOpen || own[0].Policy != "payments" || own[0].Pipeline != "" {
		t.Fatalf("breaker observer got %+v, want one closed>open state change", own)
	}
	// Outside a pipeline the breaker's own observer gets the rejection.
	_, err = b.Allow()
	if len(own) != 2 || own[1].Kind != EventRejected || own[1].Err != err || own[1].Policy != "payments" {
		t.Fatalf("breaker observer got %+v, want a rejection from Allow", own)
	}
}

func TestBreakerNotCounted(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	timeout := &TimeoutError{Policy: "attempt", Timeout: time.Second}
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		counted bool
	}{
		{"canceled", context.Background(), context.Canceled, false},
		{"wrapped canceled", context.Background(), fmt.Errorf("get: %w", context.Canceled), false},
		{"caller's deadline", done, context.DeadlineExceeded, false},
		{"bulkhead full", context.Background(), ErrBulkheadFull, false},
		{"rate limited", context.Background(), &RateLimitedError{Limiter: "l", RetryAfter: time.Second}, false},
		{"inner breaker open", context.Background(), &BreakerOpenError{Breaker: "inner", State: StateOpen}, false},
		{"wrapped rejection", context.Background(), fmt.Errorf("x: %w", ErrRateLimited), false},
		{"timeout policy", context.Background(), timeout, true},
		{"timeout policy, caller done", done, timeout, true},
		{"wrapped timeout policy", context.Background(), fmt.Errorf("get: %w", timeout), true},
		{"joined timeout policy", context.Background(), errors.Join(context.Canceled, timeout), true},
		{"deadline, caller live", context.Background(), context.DeadlineExceeded, true},
		{"plain error", context.Background(), bkBoom, true},
		{"plain error, caller done", done, bkBoom, true},
	}
	for _, tt := range tests {
		b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1})
		p := bkPipeline(t, b, nil)
		for range 3 {
			p.Run(tt.ctx, func(context.Context) error { return tt.err })
		}
		if got := b.State() == StateOpen; got != tt.counted {
			t.Errorf("%s: counted as a failure = %v, want %v", tt.name, got, tt.counted)
		}
		// The low-level API agrees, given the context.
		b = bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1})
		permit, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		permit.Record(tt.ctx, Outcome{Err: tt.err})
		if got := b.State() == StateOpen; got != tt.counted {
			t.Errorf("%s: Record counted it as a failure = %v, want %v", tt.name, got, tt.counted)
		}
	}
}

func TestBreakerNotCountedIsNotSuccess(t *testing.T) {
	b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 2})
	p := bkPipeline(t, b, nil)
	bkCall(p, bkBoom)
	bkCall(p, context.Canceled) // does not break the run of failures
	bkCall(p, bkBoom)
	if b.State() != StateOpen {
		t.Fatalf("F, canceled, F with threshold 2: State() = %s, want open", b.State())
	}
}

func TestBreakerFailed(t *testing.T) {
	b := bkNew(t, BreakerOptions{})
	tests := []struct {
		o    Outcome
		want bool
	}{
		{Outcome{}, false},
		{Outcome{Err: bkBoom}, true},
		{Outcome{Err: context.Canceled}, false},
		{Outcome{Err: ErrBulkheadFull}, false},
		{Outcome{Err: context.DeadlineExceeded}, true}, // without a context: a slow callee
		{Outcome{Err: &TimeoutError{}}, true},
	}
	for _, tt := range tests {
		if got := b.Failed(tt.o); got != tt.want {
			t.Errorf("Failed(%v) = %v, want %v", tt.o.Err, got, tt.want)
		}
	}
}

func TestBreakerShouldHandle(t *testing.T) {
	type response struct{ status int }
	unavailable := errors.New("unavailable")
	b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 2,
		ShouldHandle: func(o Outcome) bool {
			r, _ := o.Value.(*response)
			return (r != nil && r.status >= 500) || errors.Is(o.Err, unavailable)
		}})
	p := bkPipeline(t, b, nil)
	call := func(status int, err error) {
		Do(context.Background(), p, func(context.Context) (*response, error) { return &response{status}, err })
	}
	for _, tt := range []struct {
		status int
		err    error
		consec int
	}{
		{503, nil, 1},              // a failure by value
		{200, nil, 0},              // a success
		{0, unavailable, 1},        // a failure by error
		{0, bkBoom, 0},             // an error the predicate accepts: a success
		{0, unavailable, 1},        //
		{0, context.Canceled, 1},   // not a failure and cancellation: not counted
		{0, ErrBulkheadFull, 1},    // likewise
		{404, nil, 0},              // a success
		{0, context.Canceled, 0},   //
		{500, context.Canceled, 1}, // the predicate says failure: it counts
	} {
		call(tt.status, tt.err)
		if got := b.Snapshot().ConsecutiveFailures; got != tt.consec {
			t.Fatalf("after (%d, %v): ConsecutiveFailures = %d, want %d", tt.status, tt.err, got, tt.consec)
		}
	}
	b2 := bkNew(t, BreakerOptions{ShouldHandle: func(o Outcome) bool { return o.Err != nil }})
	if !b2.Failed(Outcome{Err: context.Canceled}) || b2.Failed(Outcome{Err: nil}) {
		t.Fatal("Failed does not follow ShouldHandle")
	}
}

func TestBreakerIgnoredProbeGivesSlotBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := bkNew(t, BreakerOptions{Mode: TripConsecutiveFailures, ConsecutiveFailures: 1, BreakDuration: time.Second})
		p := bkPipeline(t, b, nil)
		bkCall(p, bkBoom)
		time.Sleep(time.Second)
		if err := bkCall(p, context.Canceled); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled probe = %v, want context.Canceled", err)
		}
		if b.State() != StateHalfOpen {
			t.Fatalf("State() after a cancelled probe = %s, want half-open", b.State())
		}
		permit, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow() after a cancelled probe = %v, want the slot back", err)
		}
		permit.Ignore()
		func() {
			defer func() { recover() }()
			p.Run(context.Background(), func(context.Context) error { panic("probe") })
		}()
		if err := bkCall(p, nil); err != nil {
			t.Fatalf("call after a panicking probe = %v, want the slot back", err)
		}
		if b.State() != StateClosed {
			t.Fatalf("State() = %s, want closed", b.State())
		}
	})
}

func TestBreakerZeroPermit(t *testing.T) {
	var p BreakerPermit
	p.Done(true)
	p.Ignore()
	p.Record(context.Background(), Outcome{Err: bkBoom})
}

func TestBreakerAllocs(t *testing.T) {
	ctx := context.Background()
	static := func(context.Context) (int, error) { return 1, nil }
	for _, mode := range []TripMode{TripFailureRatio, TripConsecutiveFailures} {
		b := bkNew(t, BreakerOptions{Mode: mode})
		p := bkPipeline(t, b, nil)
		if n := testing.AllocsPerRun(1000, func() { Do(ctx, p, static) }); n != 0 {
			t.Errorf("mode %d: Do through a closed breaker: %v allocs, want 0", mode, n)
		}
		if n := testing.AllocsPerRun(1000, func() {
			permit, _ := b.Allow()
			permit.Done(false)
		}); n != 0 {
			t.Errorf("mode %d: Allow+Done(false) of a closed breaker: %v allocs, want 0", mode, n)
		}
		// Failures that do not trip (and in ratio mode, with a window below
		// MinThroughput) allocate nothing either.
		if mode == TripConsecutiveFailures {
			if n := testing.AllocsPerRun(1000, func() {
				permit, _ := b.Allow()
				permit.Done(true)
				permit, _ = b.Allow()
				permit.Done(false)
			}); n != 0 {
				t.Errorf("mode %d: failure below the threshold: %v allocs, want 0", mode, n)
			}
		}
		b.Isolate()
		b.Reset()
		for range 20 {
			Do(ctx, p, func(context.Context) (int, error) { return 0, bkBoom })
		}
		if b.State() != StateOpen {
			t.Fatalf("mode %d: State() = %s after 20 failures, want open", mode, b.State())
		}
		if n := testing.AllocsPerRun(1000, func() { Do(ctx, p, static) }); n != 0 {
			t.Errorf("mode %d: Do rejected by an open breaker: %v allocs, want 0", mode, n)
		}
		if n := testing.AllocsPerRun(1000, func() { b.Allow() }); n != 0 {
			t.Errorf("mode %d: Allow rejected by an open breaker: %v allocs, want 0", mode, n)
		}
		obs := bkPipeline(t, b, ObserverFunc(func(context.Context, Event) {}))
		if n := testing.AllocsPerRun(1000, func() { Do(ctx, obs, static) }); n != 0 {
			t.Errorf("mode %d: observed rejection: %v allocs, want 0", mode, n)
		}
		b.Isolate()
		if n := testing.AllocsPerRun(1000, func() { Do(ctx, p, static) }); n != 0 {
			t.Errorf("mode %d: Do rejected by an isolated breaker: %v allocs, want 0", mode, n)
		}
	}
}

// TestBreakerConcurrent hammers one breaker from many goroutines, under -race, while
// another isolates and resets it and reads snapshots. Listeners must see one chain of
// changes, each From the To of the one before, and never concurrently (the race
// detector checks the unguarded listener state). It runs in a synctest bubble and on
// the real clock, whose lock-free paths differ (a bubble has no monotonic fast path).
func TestBreakerConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, mode := range []TripMode{TripFailureRatio, TripConsecutiveFailures} {
		synctest.Test(t, func(t *testing.T) { bkHammer(t, mode) })
		t.Run(fmt.Sprintf("mode=%d/real-clock", mode), func(t *testing.T) { bkHammer(t, mode) })
	}
}

func bkHammer(t *testing.T, mode TripMode) {
	last := StateClosed
	var changes int
	var bad []string
	b := bkNew(t, BreakerOptions{Mode: mode, MinThroughput: 5, ConsecutiveFailures: 3,
		SamplingWindow: 100 * time.Millisecond, BreakDuration: time.Millisecond, BreakGrowth: 2,
		MaxBreakDuration: 4 * time.Millisecond, HalfOpenProbes: 2,
		OnStateChange: func(c BreakerStateChange) {
			changes++ // unguarded on purpose: reports are serialised
			if c.From != last || c.From == c.To || (c.To == StateHalfOpen && c.From != StateOpen) {
				bad = append(bad, fmt.Sprintf("%s>%s after %s", c.From, c.To, last))
			}
			last = c.To
		}})
	p := bkPipeline(t, b, ObserverFunc(func(context.Context, Event) {}))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 2000 {
				fail := r.IntN(100) < 30
				Do(context.Background(), p, func(context.Context) (int, error) {
					if fail {
						return 0, bkBoom
					}
					return 1, nil
				})
				if i%20 == 0 {
					time.Sleep(100 * time.Microsecond)
				}
			}
		})
	}
	var manual sync.WaitGroup
	manual.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if i%2 == 0 {
				b.Isolate()
			} else {
				b.Reset()
			}
			_ = b.Snapshot()
		}
	})
	wg.Wait()
	close(stop)
	manual.Wait()
	if len(bad) > 0 {
		t.Fatalf("inconsistent state changes: %v", bad)
	}
	if changes == 0 {
		t.Fatal("no state change: the test does not exercise the breaker")
	}
}

func BenchmarkBreaker(b *testing.B) {
	ctx := context.Background()
	static := func(context.Context) (int, error) { return 1, nil }
	for _, mode := range []struct {
		name string
		mode TripMode
	}{{"ratio", TripFailureRatio}, {"consecutive", TripConsecutiveFailures}} {
		br := bkNew(b, BreakerOptions{Mode: mode.mode})
		p := bkPipeline(b, br, nil)
		b.Run(mode.name+"/closed/AllowDone", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				permit, _ := br.Allow()
				permit.Done(false)
			}
		})
		b.Run(mode.name+"/closed/Do", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Do(ctx, p, static)
			}
		})
		b.Run(mode.name+"/closed/Do/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					Do(ctx, p, static)
				}
			})
		})
	}
	br := bkNew(b, BreakerOptions{BreakDuration: time.Hour})
	p := bkPipeline(b, br, nil)
	for range 20 {
		Do(ctx, p, func(context.Context) (int, error) { return 0, bkBoom })
	}
	b.Run("open/Do", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Do(ctx, p, static)
		}
	})
	b.Run("open/Do/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				Do(ctx, p, static)
			}
		})
	})
}
