package resilience

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// policyEvents records the events of a pipeline; safe for concurrent use.
type policyEvents struct {
	mu     sync.Mutex
	events []Event
}

func (r *policyEvents) Observe(_ context.Context, e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *policyEvents) list() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func newTimeoutPipeline(t *testing.T, opts TimeoutOptions, obs Observer) (*Pipeline, *Timeout) {
	t.Helper()
	to, err := NewTimeout(opts)
	if err != nil {
		t.Fatalf("NewTimeout(%+v) = %v", opts, err)
	}
	p, err := NewPipeline(PipelineOptions{Name: "test", Observer: obs}, to)
	if err != nil {
		t.Fatal(err)
	}
	return p, to
}

// timeoutWaitForCtx blocks until its context ends and returns the context's error.
func timeoutWaitForCtx(ctx context.Context) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

func timeoutStaticOK(context.Context) (int, error) { return 1, nil }

func TestTimeoutOptions(t *testing.T) {
	tests := []struct {
		opts     TimeoutOptions
		wantName string
		wantD    time.Duration
		wantErr  string
	}{
		{TimeoutOptions{}, "timeout", 10 * time.Second, ""},
		{TimeoutOptions{Name: "db", Timeout: time.Second}, "db", time.Second, ""},
		{TimeoutOptions{Timeout: -time.Second}, "", 0, "resilience: TimeoutOptions.Timeout: must be ≥ 0, got -1s"},
	}
	for _, tt := range tests {
		to, err := NewTimeout(tt.opts)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("NewTimeout(%+v) error = %v, want %q", tt.opts, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewTimeout(%+v) = %v, want no error", tt.opts, err)
			continue
		}
		if to.Name() != tt.wantName || to.Duration() != tt.wantD {
			t.Errorf("NewTimeout(%+v) = (%q, %s), want (%q, %s)", tt.opts, to.Name(), to.Duration(), tt.wantName, tt.wantD)
		}
	}
}

func TestTimeoutFiresAtConfiguredTime(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		var obs policyEvents
		p, _ := newTimeoutPipeline(t, TimeoutOptions{Name: "call", Timeout: 100 * time.Millisecond}, &obs)
		start := time.Now()
		var cause error
		_, err := Do(context.Background(), p, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			cause = context.Cause(ctx)
			return 0, ctx.Err()
		})
		if got := time.Since(start); got != 100*time.Millisecond {
			t.Errorf("Do returned after %s, want 100ms", got)
		}
		for _, target := range []error{ErrTimeout, context.DeadlineExceeded} {
			if !errors.Is(err, target) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, target)
			}
		}
		var te *TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("Do error = %T (%v), want *TimeoutError", err, err)
		}
		if te.Policy != "call" || te.Timeout != 100*time.Millisecond || te.Err != nil {
			t.Errorf("TimeoutError = %+v, want {Policy: call, Timeout: 100ms, Err: nil}", *te)
		}
		if !errors.Is(cause, ErrTimeout) {
			t.Errorf("context.Cause inside the call = %v, want a cause matching ErrTimeout", cause)
		}
		evs := obs.list()
		if len(evs) != 1 || evs[0].Kind != EventTimeout || evs[0].Duration != 100*time.Millisecond || !errors.Is(evs[0].Err, ErrTimeout) {
			t.Errorf("events = %+v, want one EventTimeout after 100ms", evs)
		}
		if evs[0].Pipeline != "test" || evs[0].Policy != "call" {
			t.Errorf("event names = (%q, %q), want (test, call)", evs[0].Pipeline, evs[0].Policy)
		}
	})
}

func TestTimeoutOnlyReportsItsOwnDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	callErr := errors.New("boom")
	tests := []struct {
		name        string
		parent      time.Duration // parent deadline; 0 means none
		cancelAfter time.Duration // parent cancelled after; 0 means never
		fn          func(ctx context.Context) (int, error)
		wantAfter   time.Duration
		wantTimeout bool
		wantErr     error // matched with errors.Is
		wantV       int
	}{
		{name: "own deadline", fn: timeoutWaitForCtx, wantAfter: time.Second, wantTimeout: true, wantErr: context.DeadlineExceeded},
		{name: "parent deadline earlier", parent: 300 * time.Millisecond, fn: timeoutWaitForCtx, wantAfter: 300 * time.Millisecond, wantErr: context.DeadlineExceeded},
		{name: "parent deadline later", parent: 3 * time.Second, fn: timeoutWaitForCtx, wantAfter: time.Second, wantTimeout: true, wantErr: ErrTimeout},
		{name: "parent cancelled", cancelAfter: 200 * time.Millisecond, fn: timeoutWaitForCtx, wantAfter: 200 * time.Millisecond, wantErr: context.Canceled},
		{name: "call fails early", fn: func(context.Context) (int, error) {
			time.Sleep(10 * time.Millisecond)
			return 0, callErr
		}, wantAfter: 10 * time.Millisecond, wantErr: callErr},
		{name: "wrapped context error", fn: func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, fmt.Errorf("dial: %w", ctx.Err())
		}, wantAfter: time.Second, wantTimeout: true, wantErr: context.DeadlineExceeded},
		{name: "other error after own deadline", fn: func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, callErr
		}, wantAfter: time.Second, wantTimeout: true, wantErr: callErr},
		{name: "value despite timeout", fn: func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 42, nil
		}, wantAfter: time.Second, wantV: 42},
		{name: "success", fn: timeoutStaticOK, wantV: 1},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			p, _ := newTimeoutPipeline(t, TimeoutOptions{Timeout: time.Second}, nil)
			ctx := context.Background()
			if tt.parent > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.parent)
				defer cancel()
			}
			if tt.cancelAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				time.AfterFunc(tt.cancelAfter, cancel)
			}
			start := time.Now()
			v, err := Do(ctx, p, tt.fn)
			if got := time.Since(start); got != tt.wantAfter {
				t.Errorf("%s: Do returned after %s, want %s", tt.name, got, tt.wantAfter)
			}
			if v != tt.wantV {
				t.Errorf("%s: Do value = %d, want %d", tt.name, v, tt.wantV)
			}
			if got := errors.Is(err, ErrTimeout); got != tt.wantTimeout {
				t.Errorf("%s: errors.Is(%v, ErrTimeout) = %t, want %t", tt.name, err, got, tt.wantTimeout)
			}
			switch {
			case !tt.wantTimeout && err != tt.wantErr:
				// Outcomes not caused by this policy are returned as they are.
				t.Errorf("%s: Do error = %#v, want %#v as is", tt.name, err, tt.wantErr)
			case tt.wantTimeout && !errors.Is(err, tt.wantErr):
				t.Errorf("%s: errors.Is(%v, %v) = false, want true", tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestTimeoutUpdate(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		p, to := newTimeoutPipeline(t, TimeoutOptions{Timeout: time.Second}, nil)
		if err := to.Update(TimeoutOptions{Timeout: 50 * time.Millisecond}); err != nil {
			t.Fatalf("Update(50ms) = %v, want nil", err)
		}
		err := to.Update(TimeoutOptions{Timeout: -1})
		if err == nil || !strings.Contains(err.Error(), "TimeoutOptions.Timeout") {
			t.Errorf("Update(-1ns) = %v, want an error naming TimeoutOptions.Timeout", err)
		}
		if got := to.Duration(); got != 50*time.Millisecond {
			t.Errorf("Duration() after a failed Update = %s, want 50ms", got)
		}
		start := time.Now()
		_, err = Do(context.Background(), p, timeoutWaitForCtx)
		var te *TimeoutError
		if got := time.Since(start); got != 50*time.Millisecond || !errors.As(err, &te) || te.Timeout != 50*time.Millisecond {
			t.Errorf("Do after Update(50ms) = (%v after %s), want a 50ms *TimeoutError after 50ms", err, got)
		}
		if err := to.Update(TimeoutOptions{}); err != nil || to.Duration() != 10*time.Second {
			t.Errorf("Update(zero) = %v, Duration() = %s, want nil, 10s", err, to.Duration())
		}
	})
}

func TestTimeoutCancelsContextOnReturn(t *testing.T) {
	p, _ := newTimeoutPipeline(t, TimeoutOptions{Timeout: time.Hour}, nil)
	var inner context.Context
	_, err := Do(context.Background(), p, func(ctx context.Context) (int, error) {
		inner = ctx
		return 1, nil
	})
	if err != nil || inner.Err() != context.Canceled {
		t.Errorf("after Do: err = %v, inner ctx.Err() = %v, want nil, context.Canceled", err, inner.Err())
	}
}

func TestTimeoutAllocs(t *testing.T) {
	p, _ := newTimeoutPipeline(t, TimeoutOptions{Timeout: time.Hour}, nil)
	ctx := context.Background()
	bare := testing.AllocsPerRun(1000, func() {
		_, cancel := context.WithTimeout(ctx, time.Hour)
		cancel()
	})
	got := testing.AllocsPerRun(1000, func() {
		if _, err := Do(ctx, p, timeoutStaticOK); err != nil {
			t.Fatal(err)
		}
	})
	if got > bare {
		t.Errorf("Do through a Timeout allocates %v times, want at most %v (context.WithTimeout)", got, bare)
	}
	// Under a parent that has a deadline already, nothing changes either.
	pctx, cancel := context.WithTimeout(ctx, 2*time.Hour)
	defer cancel()
	bare = testing.AllocsPerRun(1000, func() {
		_, cancel := context.WithTimeout(pctx, time.Hour)
		cancel()
	})
	got = testing.AllocsPerRun(1000, func() {
		if _, err := Do(pctx, p, timeoutStaticOK); err != nil {
			t.Fatal(err)
		}
	})
	if got > bare {
		t.Errorf("Do through a Timeout under a deadline allocates %v times, want at most %v (context.WithTimeout)", got, bare)
	}
}

// BenchmarkTimeout and BenchmarkTimeoutBareContext compare the cost of a Timeout
// policy with a bare context.WithTimeout and cancel (the target is at most 1.2×):
//
//	go test ./resilience -run '^$' -bench 'Timeout' -benchmem -count 10
func BenchmarkTimeout(b *testing.B) {
	to := Must(NewTimeout(TimeoutOptions{Timeout: time.Hour}))
	p := Must(NewPipeline(PipelineOptions{}, to))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Do(ctx, p, timeoutStaticOK)
	}
}

func BenchmarkTimeoutBareContext(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tctx, cancel := context.WithTimeout(ctx, time.Hour)
		_, _ = timeoutStaticOK(tctx)
		cancel()
	}
}

// TestTimeoutAllocsInPipeline checks the package's promise for a pipeline of the
// policies whose happy path is free: it allocates what context.WithTimeout does.
func TestTimeoutAllocsInPipeline(t *testing.T) {
	ctx := context.Background()
	p := Must(NewPipeline(PipelineOptions{Name: "all"},
		Must(NewFallback(FallbackOptions{Fallback: func(context.Context, Outcome) (any, error) { return 0, nil }})),
		Must(NewRateLimiter(RateLimiterOptions{Rate: 1e9, Burst: 1e6})),
		Must(NewBulkhead(BulkheadOptions{})),
		Must(NewChaos(ChaosOptions{Enabled: true})),
		Must(NewTimeout(TimeoutOptions{Timeout: time.Hour})),
	))
	bare := testing.AllocsPerRun(1000, func() {
		_, cancel := context.WithTimeout(ctx, time.Hour)
		cancel()
	})
	got := testing.AllocsPerRun(1000, func() {
		if _, err := Do(ctx, p, timeoutStaticOK); err != nil {
			t.Fatal(err)
		}
	})
	if got > bare {
		t.Errorf("Do through fallback, rate limiter, bulkhead, chaos and timeout allocates %v times, want at most %v (context.WithTimeout)", got, bare)
	}
}
