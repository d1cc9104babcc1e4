package resilience

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// hedgingAttempts runs attempt n of a call with behaviours[n-1] and records when each
// attempt started, relative to the start of the test.
type hedgingAttempts struct {
	start      time.Time
	behaviours []func(ctx context.Context) (string, error)
	n          atomic.Int32
	mu         sync.Mutex
	started    []time.Duration
}

func newHedgingAttempts(behaviours ...func(ctx context.Context) (string, error)) *hedgingAttempts {
	return &hedgingAttempts{start: time.Now(), behaviours: behaviours}
}

func (a *hedgingAttempts) call(ctx context.Context) (string, error) {
	n := int(a.n.Add(1))
	a.mu.Lock()
	a.started = append(a.started, time.Since(a.start))
	a.mu.Unlock()
	if n > len(a.behaviours) {
		return "", fmt.Errorf("unexpected attempt %d", n)
	}
	return a.behaviours[n-1](ctx)
}

func (a *hedgingAttempts) startTimes() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.started)
}

// hedgingAfter returns a behaviour that answers v, err after d, or the context's
// error if it ends first.
func hedgingAfter(d time.Duration, v string, err error) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		select {
		case <-time.After(d):
			return v, err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// hedgingDiscards records the outcomes passed to OnDiscard.
type hedgingDiscards struct {
	mu       sync.Mutex
	outcomes []Outcome
}

func (d *hedgingDiscards) onDiscard(o Outcome) {
	d.mu.Lock()
	d.outcomes = append(d.outcomes, o)
	d.mu.Unlock()
}

func (d *hedgingDiscards) list() []Outcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.outcomes)
}

func newHedgingPipeline(t *testing.T, opts HedgingOptions, obs Observer) *Pipeline {
	t.Helper()
	h, err := NewHedging(opts)
	if err != nil {
		t.Fatalf("NewHedging(%+v) = %v", opts, err)
	}
	p, err := NewPipeline(PipelineOptions{Name: "test", Observer: obs}, h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHedgingOptions(t *testing.T) {
	tests := []struct {
		opts      HedgingOptions
		wantName  string
		wantMax   int
		wantDelay time.Duration
		wantErr   string
	}{
		{HedgingOptions{}, "hedging", 1, 2 * time.Second, ""},
		{HedgingOptions{Name: "h", MaxHedges: 3, Delay: time.Millisecond}, "h", 3, time.Millisecond, ""},
		{HedgingOptions{MaxHedges: -1}, "", 0, 0, "resilience: HedgingOptions.MaxHedges: must be ≥ 0, got -1"},
		{HedgingOptions{Delay: -time.Second}, "", 0, 0, "resilience: HedgingOptions.Delay: must be ≥ 0, got -1s"},
	}
	for _, tt := range tests {
		h, err := NewHedging(tt.opts)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("NewHedging(%+v) error = %v, want %q", tt.opts, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewHedging(%+v) = %v, want no error", tt.opts, err)
			continue
		}
		if h.Name() != tt.wantName || h.maxHedges != tt.wantMax || h.delay != tt.wantDelay {
			t.Errorf("NewHedging(%+v) = (%q, %d, %s), want (%q, %d, %s)", tt.opts, h.Name(), h.maxHedges, h.delay, tt.wantName, tt.wantMax, tt.wantDelay)
		}
	}
}

func TestHedgingStartsHedgeAfterDelay(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var obs policyEvents
		var discards hedgingDiscards
		p := newHedgingPipeline(t, HedgingOptions{Name: "h", Delay: 100 * time.Millisecond, OnDiscard: discards.onDiscard}, &obs)
		var loserErr error
		var loserDone atomic.Bool
		a := newHedgingAttempts(
			func(ctx context.Context) (string, error) {
				<-ctx.Done()
				loserErr = ctx.Err()
				time.Sleep(5 * time.Millisecond) // cleaning up takes a while
				loserDone.Store(true)
				return "one", ctx.Err()
			},
			hedgingAfter(20*time.Millisecond, "two", nil),
		)
		v, err := Do(context.Background(), p, a.call)
		if v != "two" || err != nil {
			t.Errorf("Do = %q, %v, want two, nil", v, err)
		}
		if got, want := a.startTimes(), []time.Duration{0, 100 * time.Millisecond}; !slices.Equal(got, want) {
			t.Errorf("attempts started at %v, want %v", got, want)
		}
		// The loser was cancelled when attempt 2 won at 120ms, and waited for.
		if got := time.Since(a.start); got != 125*time.Millisecond {
			t.Errorf("Do returned after %s, want 125ms", got)
		}
		if !loserDone.Load() || loserErr != context.Canceled {
			t.Errorf("loser done = %t with ctx.Err() = %v, want true, context.Canceled", loserDone.Load(), loserErr)
		}
		if got := discards.list(); len(got) != 1 || got[0].Attempt != 1 || got[0].Value != "one" || got[0].Err != context.Canceled {
			t.Errorf("OnDiscard got %+v, want attempt 1's outcome (one, context.Canceled)", got)
		}
		var kinds []string
		for _, e := range obs.list() {
			kinds = append(kinds, fmt.Sprintf("%s %d %s", e.Kind, e.Attempt, e.Duration))
		}
		if want := []string{"hedge 2 0s", "attempt 2 20ms", "attempt 1 125ms"}; !slices.Equal(kinds, want) {
			t.Errorf("events = %q, want %q", kinds, want)
		}
	})
}

func TestHedgingFailureHedgesAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var discards hedgingDiscards
		p := newHedgingPipeline(t, HedgingOptions{Delay: time.Second, OnDiscard: discards.onDiscard}, nil)
		errFirst := errors.New("first failed")
		a := newHedgingAttempts(
			hedgingAfter(10*time.Millisecond, "", errFirst),
			hedgingAfter(10*time.Millisecond, "two", nil),
		)
		v, err := Do(context.Background(), p, a.call)
		if v != "two" || err != nil {
			t.Errorf("Do = %q, %v, want two, nil", v, err)
		}
		if got, want := a.startTimes(), []time.Duration{0, 10 * time.Millisecond}; !slices.Equal(got, want) {
			t.Errorf("attempts started at %v, want %v", got, want)
		}
		if got := time.Since(a.start); got != 20*time.Millisecond {
			t.Errorf("Do returned after %s, want 20ms", got)
		}
		if got := discards.list(); len(got) != 1 || got[0].Attempt != 1 || got[0].Err != errFirst {
			t.Errorf("OnDiscard got %+v, want attempt 1's failure", got)
		}
	})
}

func TestHedgingAllFailReturnsLast(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var discards hedgingDiscards
		p := newHedgingPipeline(t, HedgingOptions{MaxHedges: 2, Delay: 100 * time.Millisecond, OnDiscard: discards.onDiscard}, nil)
		errs := []error{errors.New("one"), errors.New("two"), errors.New("three")}
		a := newHedgingAttempts(
			hedgingAfter(50*time.Millisecond, "", errs[0]),  // ends at 50ms; hedge 2 starts at once
			hedgingAfter(250*time.Millisecond, "", errs[1]), // ends at 300ms, last
			hedgingAfter(50*time.Millisecond, "", errs[2]),  // starts 100ms after hedge 2, ends at 200ms
		)
		_, err := Do(context.Background(), p, a.call)
		if err != errs[1] {
			t.Errorf("Do error = %v, want the last to finish (two)", err)
		}
		if got, want := a.startTimes(), []time.Duration{0, 50 * time.Millisecond, 150 * time.Millisecond}; !slices.Equal(got, want) {
			t.Errorf("attempts started at %v, want %v", got, want)
		}
		if got := time.Since(a.start); got != 300*time.Millisecond {
			t.Errorf("Do returned after %s, want 300ms", got)
		}
		var discarded []int
		for _, o := range discards.list() {
			discarded = append(discarded, o.Attempt)
		}
		if want := []int{1, 3}; !slices.Equal(discarded, want) {
			t.Errorf("OnDiscard got attempts %v, want %v", discarded, want)
		}
	})
}

func TestHedgingStopsAtMaxHedges(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		p := newHedgingPipeline(t, HedgingOptions{MaxHedges: 2, Delay: 100 * time.Millisecond}, nil)
		slow := hedgingAfter(time.Hour, "late", nil)
		a := newHedgingAttempts(slow, slow, slow)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := Do(ctx, p, a.call)
		if err != context.DeadlineExceeded {
			t.Errorf("Do error = %v, want context.DeadlineExceeded", err)
		}
		if got, want := a.startTimes(), []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(got, want) {
			t.Errorf("attempts started at %v, want %v", got, want)
		}
		if got := time.Since(a.start); got != time.Second {
			t.Errorf("Do returned after %s, want 1s", got)
		}
	})
}

func TestHedgingCallerCancellationStopsEverything(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tt := range []struct {
		name        string
		shouldHedge func(Outcome) bool
	}{
		{name: "default ShouldHedge"},
		{name: "every error unacceptable", shouldHedge: func(o Outcome) bool { return o.Err != nil }},
	} {
		synctest.Test(t, func(t *testing.T) {
			p := newHedgingPipeline(t, HedgingOptions{MaxHedges: 3, Delay: 100 * time.Millisecond, ShouldHedge: tt.shouldHedge}, nil)
			slow := hedgingAfter(time.Hour, "late", nil)
			a := newHedgingAttempts(slow, slow, slow, slow)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(150*time.Millisecond, cancel)
			_, err := Do(ctx, p, a.call)
			if err != context.Canceled {
				t.Errorf("%s: Do error = %v, want context.Canceled", tt.name, err)
			}
			if got := time.Since(a.start); got != 150*time.Millisecond {
				t.Errorf("%s: Do returned after %s, want 150ms", tt.name, got)
			}
			time.Sleep(time.Second) // no attempt starts after the call returned
			if got, want := a.startTimes(), []time.Duration{0, 100 * time.Millisecond}; !slices.Equal(got, want) {
				t.Errorf("%s: attempts started at %v, want %v", tt.name, got, want)
			}
		})
	}
}

func TestHedgingShouldHedgeOnValue(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var discards hedgingDiscards
		p := newHedgingPipeline(t, HedgingOptions{
			Delay:       time.Second,
			ShouldHedge: func(o Outcome) bool { return o.Err != nil || o.Value == "stale" },
			OnDiscard:   discards.onDiscard,
		}, nil)
		a := newHedgingAttempts(
			hedgingAfter(10*time.Millisecond, "stale", nil),
			hedgingAfter(10*time.Millisecond, "fresh", nil),
		)
		v, err := Do(context.Background(), p, a.call)
		if v != "fresh" || err != nil {
			t.Errorf("Do = %q, %v, want fresh, nil", v, err)
		}
		if got := discards.list(); len(got) != 1 || got[0].Value != "stale" {
			t.Errorf("OnDiscard got %+v, want the stale value", got)
		}
	})
}

func TestHedgingFirstAttemptWinsWithoutHedge(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var obs policyEvents
		p := newHedgingPipeline(t, HedgingOptions{Delay: 100 * time.Millisecond}, &obs)
		a := newHedgingAttempts(hedgingAfter(99*time.Millisecond, "one", nil))
		v, err := Do(context.Background(), p, a.call)
		if v != "one" || err != nil || len(a.startTimes()) != 1 {
			t.Errorf("Do = %q, %v with %d attempts, want one, nil with 1 attempt", v, err, len(a.startTimes()))
		}
		if evs := obs.list(); len(evs) != 1 || evs[0].Kind != EventAttempt || evs[0].Attempt != 1 {
			t.Errorf("events = %+v, want one EventAttempt for attempt 1", evs)
		}
	})
}

func TestHedgingPanicIsRaisedOnCaller(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		p := newHedgingPipeline(t, HedgingOptions{Delay: 10 * time.Millisecond}, nil)
		var otherDone atomic.Bool
		a := newHedgingAttempts(
			func(ctx context.Context) (string, error) {
				<-ctx.Done()
				otherDone.Store(true)
				return "", ctx.Err()
			},
			func(context.Context) (string, error) { panic("attempt 2 broke") },
		)
		defer func() {
			r := recover()
			if s, _ := r.(string); !strings.Contains(s, "attempt 2 broke") {
				t.Errorf("recover() = %v, want the attempt's panic", r)
			}
			if !otherDone.Load() {
				t.Error("the other attempt was still running when the panic was raised")
			}
		}()
		_, _ = Do(context.Background(), p, a.call)
		t.Error("Do returned, want a panic")
	})
}
