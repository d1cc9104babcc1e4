package resilience

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func chaosStaticOK(context.Context) (int, error) { return 1, nil }

func newChaosPipeline(t *testing.T, opts ChaosOptions, obs Observer) (*Pipeline, *Chaos) {
	t.Helper()
	ch, err := NewChaos(opts)
	if err != nil {
		t.Fatalf("NewChaos(%+v) = %v", opts, err)
	}
	p, err := NewPipeline(PipelineOptions{Name: "test", Observer: obs}, ch)
	if err != nil {
		t.Fatal(err)
	}
	return p, ch
}

func TestChaosOptions(t *testing.T) {
	tests := []struct {
		opts    ChaosOptions
		wantErr string // a prefix of the error; empty means valid
	}{
		{ChaosOptions{}, ""},
		{ChaosOptions{Enabled: true, FaultRate: 1, LatencyRate: 0.5, Latency: time.Second}, ""},
		{ChaosOptions{FaultRate: -0.1}, "resilience: ChaosOptions.FaultRate: must be in [0, 1], got -0.1"},
		{ChaosOptions{FaultRate: 1.5}, "resilience: ChaosOptions.FaultRate: must be in [0, 1], got 1.5"},
		{ChaosOptions{FaultRate: math.NaN()}, "resilience: ChaosOptions.FaultRate: "},
		{ChaosOptions{LatencyRate: 2}, "resilience: ChaosOptions.LatencyRate: must be in [0, 1], got 2"},
		{ChaosOptions{LatencyRate: math.Inf(-1)}, "resilience: ChaosOptions.LatencyRate: "},
		{ChaosOptions{Latency: -time.Second}, "resilience: ChaosOptions.Latency: must be ≥ 0, got -1s"},
	}
	for _, tt := range tests {
		ch, err := NewChaos(tt.opts)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("NewChaos(%+v) = %v, want no error", tt.opts, err)
		case tt.wantErr == "" && (ch.Name() != "chaos" || ch.Enabled() != tt.opts.Enabled):
			t.Errorf("NewChaos(%+v) = (%q, enabled %t), want (chaos, enabled %t)", tt.opts, ch.Name(), ch.Enabled(), tt.opts.Enabled)
		case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
			t.Errorf("NewChaos(%+v) error = %v, want %q...", tt.opts, err, tt.wantErr)
		}
	}
}

func TestChaosRatesZeroAndOneAreDeterministic(t *testing.T) {
	errCustom := errors.New("custom fault")
	tests := []struct {
		name      string
		opts      ChaosOptions
		wantCalls int
		wantErr   error
	}{
		{"disabled", ChaosOptions{FaultRate: 1}, 100, nil},
		{"rate 0", ChaosOptions{Enabled: true}, 100, nil},
		{"rate 1", ChaosOptions{Enabled: true, FaultRate: 1}, 0, ErrInjectedFault},
		{"rate 1, custom fault", ChaosOptions{Enabled: true, FaultRate: 1, Fault: errCustom}, 0, errCustom},
	}
	for _, tt := range tests {
		p, _ := newChaosPipeline(t, tt.opts, nil)
		calls := 0
		for range 100 {
			_, err := Do(context.Background(), p, func(context.Context) (int, error) { calls++; return 1, nil })
			if err != tt.wantErr {
				t.Fatalf("%s: Do = %v, want %v", tt.name, err, tt.wantErr)
			}
		}
		if calls != tt.wantCalls {
			t.Errorf("%s: %d calls ran out of 100, want %d", tt.name, calls, tt.wantCalls)
		}
	}
}

func TestChaosFaultRateIsAShare(t *testing.T) {
	p, _ := newChaosPipeline(t, ChaosOptions{Enabled: true, FaultRate: 0.3}, nil)
	const n = 20000
	faults := 0
	for range n {
		if _, err := Do(context.Background(), p, chaosStaticOK); err != nil {
			faults++
		}
	}
	// The standard deviation is about 65; 10 of them is never reached by chance.
	if share := float64(faults) / n; math.Abs(share-0.3) > 0.035 {
		t.Errorf("FaultRate 0.3: %d faults out of %d (%.3f), want about 0.3", faults, n, share)
	}
}

func TestChaosLatency(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var obs policyEvents
		p, _ := newChaosPipeline(t, ChaosOptions{Name: "ch", Enabled: true, LatencyRate: 1, Latency: 300 * time.Millisecond}, &obs)
		start := time.Now()
		var ranAt time.Duration
		v, err := Do(context.Background(), p, func(context.Context) (int, error) {
			ranAt = time.Since(start)
			return 1, nil
		})
		if v != 1 || err != nil || ranAt != 300*time.Millisecond {
			t.Errorf("Do = %d, %v, the call ran after %s, want 1, nil after 300ms", v, err, ranAt)
		}
		if evs := obs.list(); len(evs) != 1 || evs[0].Kind != EventChaos || evs[0].Delay != 300*time.Millisecond || evs[0].Err != nil || evs[0].Policy != "ch" {
			t.Errorf("events = %+v, want one EventChaos with a 300ms delay", evs)
		}

		// The wait honours the context.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start = time.Now()
		calls := 0
		_, err = Do(ctx, p, func(context.Context) (int, error) { calls++; return 1, nil })
		if err != context.DeadlineExceeded || calls != 0 || time.Since(start) != 100*time.Millisecond {
			t.Errorf("Do with a 100ms deadline = %v after %s with %d calls, want context.DeadlineExceeded after 100ms with none", err, time.Since(start), calls)
		}
	})
}

func TestChaosLatencyThenFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var obs policyEvents
		p, _ := newChaosPipeline(t, ChaosOptions{Enabled: true, LatencyRate: 1, Latency: time.Second, FaultRate: 1}, &obs)
		start := time.Now()
		_, err := Do(context.Background(), p, chaosStaticOK)
		if err != ErrInjectedFault || time.Since(start) != time.Second {
			t.Errorf("Do = %v after %s, want ErrInjectedFault after 1s", err, time.Since(start))
		}
		evs := obs.list()
		if len(evs) != 2 || evs[0].Delay != time.Second || evs[1].Err != ErrInjectedFault {
			t.Errorf("events = %+v, want a latency then a fault EventChaos", evs)
		}
	})
}

func TestChaosSetEnabledAndUpdate(t *testing.T) {
	p, ch := newChaosPipeline(t, ChaosOptions{FaultRate: 1}, nil)
	ctx := context.Background()
	if _, err := Do(ctx, p, chaosStaticOK); err != nil || ch.Enabled() {
		t.Errorf("disabled: Do = %v, Enabled() = %t, want nil, false", err, ch.Enabled())
	}
	ch.SetEnabled(true)
	if _, err := Do(ctx, p, chaosStaticOK); err != ErrInjectedFault || !ch.Enabled() {
		t.Errorf("after SetEnabled(true): Do = %v, Enabled() = %t, want ErrInjectedFault, true", err, ch.Enabled())
	}

	// Update replaces the rates and keeps the switch and the name.
	errNew := errors.New("new fault")
	if err := ch.Update(ChaosOptions{Name: "ignored", Enabled: false, FaultRate: 1, Fault: errNew}); err != nil {
		t.Fatalf("Update = %v, want nil", err)
	}
	if _, err := Do(ctx, p, chaosStaticOK); err != errNew || !ch.Enabled() || ch.Name() != "chaos" {
		t.Errorf("after Update: Do = %v, Enabled() = %t, Name() = %q, want new fault, true, chaos", err, ch.Enabled(), ch.Name())
	}
	if err := ch.Update(ChaosOptions{FaultRate: 2}); err == nil || !strings.Contains(err.Error(), "ChaosOptions.FaultRate") {
		t.Errorf("Update(FaultRate: 2) = %v, want an error naming ChaosOptions.FaultRate", err)
	}
	if _, err := Do(ctx, p, chaosStaticOK); err != errNew {
		t.Errorf("after a failed Update: Do = %v, want the options unchanged (new fault)", err)
	}
	if err := ch.Update(ChaosOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Do(ctx, p, chaosStaticOK); err != nil {
		t.Errorf("after Update(zero rates): Do = %v, want nil", err)
	}

	ch.SetEnabled(false)
	ch.SetEnabled(false)
	if ch.Enabled() {
		t.Error("Enabled() after SetEnabled(false) = true, want false")
	}
}

// TestChaosConcurrentSwitching switches a chaos policy on and off, and changes
// its rate, from two goroutines while calls run through it. Every call either
// runs or fails with the injected fault, each fault is reported once to the
// observer, and neither switch loses the other's last word: the policy ends
// enabled (the last SetEnabled) with a fault rate of 1 (the last Update).
func TestChaosConcurrentSwitching(t *testing.T) {
	defer goleak.VerifyNone(t)
	var observed atomic.Int64
	obs := ObserverFunc(func(_ context.Context, e Event) {
		if e.Kind == EventChaos && errors.Is(e.Err, ErrInjectedFault) {
			observed.Add(1)
		}
	})
	p, ch := newChaosPipeline(t, ChaosOptions{FaultRate: 1}, obs)
	const switches = 2001 // the last: SetEnabled(true), Update(FaultRate: 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := range switches {
			ch.SetEnabled(n%2 == 0)
		}
	})
	wg.Go(func() {
		for n := range switches {
			if err := ch.Update(ChaosOptions{FaultRate: float64(n%3) / 2}); err != nil {
				t.Errorf("Update(FaultRate: %v) = %v", float64(n%3)/2, err)
				return
			}
		}
	})
	var faults int64
	for range 2000 {
		v, err := Do(context.Background(), p, chaosStaticOK)
		switch {
		case err == nil && v == 1:
		case errors.Is(err, ErrInjectedFault) && v == 0:
			faults++
		default:
			t.Fatalf("Do = %d, %v; want 1, nil or 0, ErrInjectedFault", v, err)
		}
	}
	wg.Wait()
	if got := observed.Load(); got != faults {
		t.Errorf("the observer saw %d injected faults, want %d, the faults the calls returned", got, faults)
	}

	if !ch.Enabled() {
		t.Fatal("Enabled() = false after the last SetEnabled(true): a concurrent Update lost the switch")
	}
	for range 100 {
		if _, err := Do(context.Background(), p, chaosStaticOK); !errors.Is(err, ErrInjectedFault) {
			t.Fatalf("Do after the last Update(FaultRate: 1) = %v, want ErrInjectedFault every time", err)
		}
	}
	ch.SetEnabled(false)
	for range 100 {
		if v, err := Do(context.Background(), p, chaosStaticOK); err != nil || v != 1 {
			t.Fatalf("Do with chaos disabled = %d, %v; want 1, nil", v, err)
		}
	}
}

func TestChaosAllocs(t *testing.T) {
	for _, opts := range []ChaosOptions{
		{FaultRate: 1, LatencyRate: 1, Latency: time.Hour}, // disabled
		{Enabled: true}, // enabled, rates 0
	} {
		p, _ := newChaosPipeline(t, opts, nil)
		ctx := context.Background()
		got := testing.AllocsPerRun(1000, func() {
			if _, err := Do(ctx, p, chaosStaticOK); err != nil {
				t.Fatal(err)
			}
		})
		if got != 0 {
			t.Errorf("Do through Chaos(%+v) allocates %v times, want 0", opts, got)
		}
	}
}
