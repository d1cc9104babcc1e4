package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

var errRetryBoom = errors.New("boom")

// retryPipeline returns a pipeline named "test" with a retry of opts as its only
// policy.
func retryPipeline(t testing.TB, opts RetryOptions, obs Observer) *Pipeline {
	t.Helper()
	r, err := NewRetry(opts)
	if err != nil {
		t.Fatalf("NewRetry(%+v) = %v", opts, err)
	}
	p, err := NewPipeline(PipelineOptions{Name: "test", Observer: obs}, r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// retryRecorder records the calls of a function under retry: when (on the synctest
// clock, from its creation) and with which attempt number in the context.
type retryRecorder struct {
	start    time.Time
	at       []time.Duration
	attempts []int
}

func newRetryRecorder() *retryRecorder { return &retryRecorder{start: time.Now()} }

func (r *retryRecorder) call(ctx context.Context) int {
	r.at = append(r.at, time.Since(r.start))
	r.attempts = append(r.attempts, AttemptFromContext(ctx))
	return len(r.at)
}

// retryEvents is an Observer that keeps the events it sees.
type retryEvents struct {
	mu   sync.Mutex
	list []Event
}

func (o *retryEvents) Observe(_ context.Context, e Event) {
	o.mu.Lock()
	o.list = append(o.list, e)
	o.mu.Unlock()
}

// retryExhausted returns err as a *RetriesExhaustedError, failing the test if it is
// not one.
func retryExhausted(t *testing.T, err error) *RetriesExhaustedError {
	t.Helper()
	var re *RetriesExhaustedError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RetriesExhaustedError", err, err)
	}
	if !errors.Is(err, ErrRetriesExhausted) {
		t.Errorf("errors.Is(%v, ErrRetriesExhausted) = false, want true", err)
	}
	return re
}

func TestNewRetryValidation(t *testing.T) {
	tests := []struct {
		opts RetryOptions
		want string
	}{
		{RetryOptions{MaxAttempts: -1}, "resilience: RetryOptions.MaxAttempts: must be ≥ 0, got -1"},
		{RetryOptions{Backoff: Backoff{Base: -time.Second}}, "resilience: RetryOptions.Backoff.Base: must be ≥ 0, got -1s"},
		{RetryOptions{Backoff: Backoff{Max: -time.Second}}, "resilience: RetryOptions.Backoff.Max: must be ≥ 0, got -1s"},
		{RetryOptions{Backoff: Backoff{Multiplier: 0.9}}, "resilience: RetryOptions.Backoff.Multiplier: must be ≥ 1 (or 0 for 2), got 0.9"},
		{RetryOptions{Backoff: Backoff{Base: time.Second, Max: time.Millisecond}}, "resilience: RetryOptions.Backoff.Base: must be ≤ Max (1ms), got 1s"},
		{RetryOptions{Backoff: Backoff{Kind: 3}}, "resilience: RetryOptions.Backoff.Kind: unknown kind 3"},
		{RetryOptions{Backoff: Backoff{Jitter: 4}}, "resilience: RetryOptions.Backoff.Jitter: unknown jitter 4"},
		{RetryOptions{MaxDelayHint: -time.Second}, "resilience: RetryOptions.MaxDelayHint: must be ≥ 0, got -1s"},
	}
	for _, tt := range tests {
		r, err := NewRetry(tt.opts)
		if err == nil || err.Error() != tt.want || r != nil {
			t.Errorf("NewRetry(%+v) = %v, %v, want nil, %q", tt.opts, r, err, tt.want)
		}
	}
}

func TestNewRetryDefaults(t *testing.T) {
	r := Must(NewRetry(RetryOptions{}))
	got := r.Options()
	want := RetryOptions{
		Name:         "retry",
		MaxAttempts:  3,
		Backoff:      Backoff{Kind: BackoffExponential, Base: 100 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: JitterFull},
		MaxDelayHint: 30 * time.Second,
	}
	if got.Name != want.Name || got.MaxAttempts != want.MaxAttempts || got.Backoff != want.Backoff || got.MaxDelayHint != want.MaxDelayHint {
		t.Errorf("NewRetry(RetryOptions{}).Options() = %+v, want %+v", got, want)
	}
	if r.Name() != "retry" {
		t.Errorf("Name() = %q, want %q", r.Name(), "retry")
	}
	r = Must(NewRetry(RetryOptions{Name: "payments", MaxAttempts: 7, Backoff: Backoff{Kind: BackoffLinear}, MaxDelayHint: time.Second}))
	got = r.Options()
	if got.Name != "payments" || r.Name() != "payments" || got.MaxAttempts != 7 || got.MaxDelayHint != time.Second || got.Backoff.Jitter != JitterNone {
		t.Errorf("NewRetry(custom).Options() = %+v, want custom values kept, linear jitter none", got)
	}
}

// TestRetryHappyPathAllocs: a first attempt that succeeds costs nothing.
func TestRetryHappyPathAllocs(t *testing.T) {
	ctx := context.Background()
	static := func(context.Context) (int, error) { return 42, nil }
	for _, tt := range []struct {
		name string
		opts RetryOptions
	}{
		{"default", RetryOptions{}},
		{"budget", RetryOptions{Budget: Must(NewBudget(BudgetOptions{}))}},
		{"hint and discard", RetryOptions{DelayHint: func(Outcome) (time.Duration, bool) { return 0, false }, OnDiscard: func(Outcome) {}}},
	} {
		p := retryPipeline(t, tt.opts, nil)
		allocs := testing.AllocsPerRun(1000, func() {
			if v, err := Do(ctx, p, static); v != 42 || err != nil {
				panic(fmt.Sprint("Do = ", v, err))
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Do(ctx, pipeline with retry, static) allocates %v times, want 0", tt.name, allocs)
		}
	}
}

// TestRetrySchedule checks when each attempt starts, for each kind of backoff.
func TestRetrySchedule(t *testing.T) {
	defer goleak.VerifyNone(t)
	const ms = time.Millisecond
	tests := []struct {
		name    string
		backoff Backoff
		want    []time.Duration // start of each of the 5 attempts
	}{
		{"constant", Backoff{Kind: BackoffConstant, Base: 100 * ms}, []time.Duration{0, 100 * ms, 200 * ms, 300 * ms, 400 * ms}},
		{"linear", Backoff{Kind: BackoffLinear, Base: 100 * ms}, []time.Duration{0, 100 * ms, 300 * ms, 600 * ms, 1000 * ms}},
		{"linear capped", Backoff{Kind: BackoffLinear, Base: 100 * ms, Max: 250 * ms}, []time.Duration{0, 100 * ms, 300 * ms, 550 * ms, 800 * ms}},
		{"exponential", Backoff{Base: 100 * ms, Jitter: JitterNone}, []time.Duration{0, 100 * ms, 300 * ms, 700 * ms, 1500 * ms}},
		{"exponential capped", Backoff{Base: 100 * ms, Max: 500 * ms, Jitter: JitterNone}, []time.Duration{0, 100 * ms, 300 * ms, 700 * ms, 1200 * ms}},
		{"exponential ×3", Backoff{Base: 100 * ms, Max: time.Second, Multiplier: 3, Jitter: JitterNone}, []time.Duration{0, 100 * ms, 400 * ms, 1300 * ms, 2300 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := retryPipeline(t, RetryOptions{MaxAttempts: 5, Backoff: tt.backoff}, nil)
				rec := newRetryRecorder()
				_, err := Do(context.Background(), p, func(ctx context.Context) (int, error) {
					rec.call(ctx)
					return 0, errRetryBoom
				})
				elapsed := time.Since(rec.start)
				if fmt.Sprint(rec.at) != fmt.Sprint(tt.want) {
					t.Errorf("attempts started at %v, want %v", rec.at, tt.want)
				}
				if want := tt.want[len(tt.want)-1]; elapsed != want {
					t.Errorf("Do returned after %s, want %s", elapsed, want)
				}
				if re := retryExhausted(t, err); re.Attempts != 5 || re.Reason != RetryReasonMaxAttempts || re.Err != errRetryBoom {
					t.Errorf("Do = %+v, want 5 attempts, max attempts, boom", re)
				}
			})
		})
	}
}

// TestRetryJitterBounds checks the waits of jittered backoffs through a pipeline.
func TestRetryJitterBounds(t *testing.T) {
	defer goleak.VerifyNone(t)
	const ms = time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		full := retryPipeline(t, RetryOptions{MaxAttempts: 8, Backoff: Backoff{Base: 100 * ms, Max: time.Second}}, nil)
		decorrelated := retryPipeline(t, RetryOptions{MaxAttempts: 8, Backoff: Backoff{Base: 100 * ms, Max: time.Second, Jitter: JitterDecorrelated}}, nil)
		fail := func(rec *retryRecorder) func(context.Context) (int, error) {
			return func(ctx context.Context) (int, error) { rec.call(ctx); return 0, errRetryBoom }
		}
		for run := range 20 {
			rec := newRetryRecorder()
			Do(context.Background(), full, fail(rec))
			for k := 1; k < len(rec.at); k++ {
				wait, hi := rec.at[k]-rec.at[k-1], min(100*ms<<(k-1), time.Second)
				if wait < 0 || wait > hi {
					t.Fatalf("run %d, full jitter: wait before attempt %d = %s, want in [0, %s]", run, k+1, wait, hi)
				}
			}
			rec = newRetryRecorder()
			Do(context.Background(), decorrelated, fail(rec))
			prev := 100 * ms
			for k := 1; k < len(rec.at); k++ {
				wait, hi := rec.at[k]-rec.at[k-1], min(3*prev, time.Second)
				if wait < 100*ms || wait > hi {
					t.Fatalf("run %d, decorrelated jitter: wait before attempt %d = %s, want in [100ms, %s]", run, k+1, wait, hi)
				}
				prev = wait
			}
		}
	})
}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		p := retryPipeline(t, RetryOptions{Backoff: Backoff{Kind: BackoffConstant, Base: time.Second}}, nil)
		rec := newRetryRecorder()
		v, err := Do(context.Background(), p, func(ctx context.Context) (string, error) {
			if rec.call(ctx) < 3 {
				return "", errRetryBoom
			}
			return "ok", nil
		})
		if v != "ok" || err != nil || len(rec.at) != 3 {
			t.Errorf("Do = %q, %v after %d attempts, want ok, nil after 3", v, err, len(rec.at))
		}
		if elapsed := time.Since(rec.start); elapsed != 2*time.Second {
			t.Errorf("Do returned after %s, want 2s", elapsed)
		}
	})
}

func TestRetryExhaustedError(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		p := retryPipeline(t, RetryOptions{}, nil)
		var last error
		v, err := Do(context.Background(), p, func(ctx context.Context) (int, error) {
			last = fmt.Errorf("attempt %d: %w", AttemptFromContext(ctx), errRetryBoom)
			return -1, last
		})
		if v != -1 {
			t.Errorf("Do value = %d, want the last attempt's -1", v)
		}
		if _, ok := err.(*RetriesExhaustedError); !ok {
			t.Errorf("Do error is a %T, want *RetriesExhaustedError", err)
		}
		re := retryExhausted(t, err)
		if re.Attempts != 3 || re.Reason != "max attempts" || re.Err != last {
			t.Errorf("Do error = {Attempts: %d, Reason: %q, Err: %v}, want {3, max attempts, %v}", re.Attempts, re.Reason, re.Err, last)
		}
		if !errors.Is(err, errRetryBoom) {
			t.Errorf("errors.Is(%v, errRetryBoom) = false, want true", err)
		}
		if want := "resilience: gave up after 3 attempt(s) (max attempts): attempt 3: boom"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v matches a context error, want not", err)
		}
	})
}

func TestRetryMaxAttemptsOne(t *testing.T) {
	p := retryPipeline(t, RetryOptions{MaxAttempts: 1}, nil)
	calls := 0
	_, err := Do(context.Background(), p, func(context.Context) (int, error) { calls++; return 0, errRetryBoom })
	if re := retryExhausted(t, err); calls != 1 || re.Attempts != 1 || re.Reason != RetryReasonMaxAttempts {
		t.Errorf("MaxAttempts 1: %d calls, error %+v, want 1 call, 1 attempt, max attempts", calls, re)
	}
}

// TestRetryNotRetryable: what the default predicate refuses comes back as it is,
// after one attempt.
func TestRetryNotRetryable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"permanent", Permanent(errRetryBoom)},
		{"wrapped permanent", fmt.Errorf("charge: %w", Permanent(errRetryBoom))},
		{"canceled", context.Canceled},
		{"wrapped canceled", fmt.Errorf("read: %w", context.Canceled)},
		{"success", nil},
	} {
		p := retryPipeline(t, RetryOptions{Backoff: Backoff{Base: time.Hour, Max: time.Hour}}, nil)
		calls := 0
		_, err := Do(context.Background(), p, func(context.Context) (int, error) { calls++; return 0, tt.err })
		if calls != 1 || err != tt.err {
			t.Errorf("%s: Do(fn returning %v) = %v after %d calls, want the same error after 1", tt.name, tt.err, err, calls)
		}
	}
}

// TestRetryRetriesTimeouts: an inner timeout is retried although it matches
// context.DeadlineExceeded, as long as the caller's own context is live.
func TestRetryRetriesTimeouts(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		for _, e := range []error{
			&TimeoutError{Policy: "attempt", Timeout: time.Second},
			&TimeoutError{Policy: "attempt", Timeout: time.Second, Err: fmt.Errorf("dial: %w", context.Canceled)},
			context.DeadlineExceeded,
		} {
			p := retryPipeline(t, RetryOptions{}, nil)
			calls := 0
			_, err := Do(context.Background(), p, func(context.Context) (int, error) { calls++; return 0, e })
			if re := retryExhausted(t, err); calls != 3 || re.Err != e {
				t.Errorf("Do(fn returning %v) = %v after %d calls, want it retried 3 times", e, err, calls)
			}
		}
	})
}

// TestRetryDeadline: a retry whose wait would end at or after the deadline is not
// waited for; Retry returns the last outcome at once.
func TestRetryDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	const ms = time.Millisecond
	for _, tt := range []struct {
		timeout  time.Duration
		attempts int
		elapsed  time.Duration
	}{
		{250 * ms, 3, 200 * ms},
		{300 * ms, 3, 200 * ms}, // the third wait would end exactly at the deadline
		{301 * ms, 4, 300 * ms},
		{50 * ms, 1, 0},
	} {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			p := retryPipeline(t, RetryOptions{MaxAttempts: 10, Backoff: Backoff{Kind: BackoffConstant, Base: 100 * ms}}, nil)
			rec := newRetryRecorder()
			_, err := Do(ctx, p, func(ctx context.Context) (int, error) { rec.call(ctx); return 0, errRetryBoom })
			elapsed := time.Since(rec.start)
			re := retryExhausted(t, err)
			if re.Attempts != tt.attempts || re.Reason != RetryReasonDeadline || re.Err != errRetryBoom || elapsed != tt.elapsed {
				t.Errorf("timeout %s: Do = %+v after %s, want %d attempts, deadline, boom after %s", tt.timeout, re, elapsed, tt.attempts, tt.elapsed)
			}
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("timeout %s: ctx.Err() = %v, error %v: want the deadline still ahead and not matched", tt.timeout, ctx.Err(), err)
			}
		})
	}
}

// TestRetryDeadlinePassed: an attempt that outlives the caller's deadline is not
// retried.
func TestRetryDeadlinePassed(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		p := retryPipeline(t, RetryOptions{}, nil)
		start := time.Now()
		calls := 0
		// A function that ignores its context and fails with its own error.
		_, err := Do(ctx, p, func(context.Context) (int, error) {
			calls++
			time.Sleep(200 * time.Millisecond)
			return 0, errRetryBoom
		})
		re := retryExhausted(t, err)
		if calls != 1 || re.Reason != RetryReasonDeadline || re.Err != errRetryBoom || time.Since(start) != 200*time.Millisecond {
			t.Errorf("Do = %+v after %d calls and %s, want deadline, boom after 1 call and 200ms", re, calls, time.Since(start))
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errRetryBoom) {
			t.Errorf("error %v: want it to match both context.DeadlineExceeded and boom", err)
		}

		// A function that honours its context returns the context's error, as it is.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel2()
		calls = 0
		_, err = Do(ctx2, p, func(ctx context.Context) (int, error) { calls++; <-ctx.Done(); return 0, ctx.Err() })
		if calls != 1 || err != context.DeadlineExceeded {
			t.Errorf("Do(fn honouring ctx) = %v after %d calls, want context.DeadlineExceeded after 1", err, calls)
		}
	})
}

// TestRetryDelayHint: a Retry-After hint replaces the backoff, within its cap.
func TestRetryDelayHint(t *testing.T) {
	defer goleak.VerifyNone(t)
	const ms = time.Millisecond
	constant := Backoff{Kind: BackoffConstant, Base: 100 * ms}
	for _, tt := range []struct {
		name  string
		opts  RetryOptions
		first error // the first attempt's error; later ones fail with errRetryBoom
		want  []time.Duration
	}{
		{"honoured", RetryOptions{Backoff: constant}, &RetryAfterError{Err: errRetryBoom, After: 2 * time.Second}, []time.Duration{0, 2 * time.Second, 2100 * ms}},
		{"capped", RetryOptions{Backoff: constant, MaxDelayHint: 5 * time.Second}, &RetryAfterError{Err: errRetryBoom, After: time.Minute}, []time.Duration{0, 5 * time.Second, 5100 * ms}},
		{"default cap", RetryOptions{Backoff: constant}, &RetryAfterError{Err: errRetryBoom, After: time.Hour}, []time.Duration{0, 30 * time.Second, 30100 * ms}},
		{"zero", RetryOptions{Backoff: constant}, &RetryAfterError{Err: errRetryBoom}, []time.Duration{0, 0, 100 * ms}},
		{"negative", RetryOptions{Backoff: constant}, &RetryAfterError{Err: errRetryBoom, After: -time.Second}, []time.Duration{0, 0, 100 * ms}},
		{"wrapped", RetryOptions{Backoff: constant}, fmt.Errorf("get: %w", &RetryAfterError{Err: errRetryBoom, After: time.Second}), []time.Duration{0, time.Second, 1100 * ms}},
		{"joined", RetryOptions{Backoff: constant}, errors.Join(errRetryBoom, &RetryAfterError{Err: errRetryBoom, After: time.Second}), []time.Duration{0, time.Second, 1100 * ms}},
		{"custom hint", RetryOptions{Backoff: constant, DelayHint: func(o Outcome) (time.Duration, bool) {
			return 3 * time.Second, o.Attempt == 1
		}}, errRetryBoom, []time.Duration{0, 3 * time.Second, 3100 * ms}},
		{"custom hint ignores errors' hints", RetryOptions{Backoff: constant, DelayHint: func(Outcome) (time.Duration, bool) { return 0, false }},
			&RetryAfterError{Err: errRetryBoom, After: time.Second}, []time.Duration{0, 100 * ms, 200 * ms}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := retryPipeline(t, tt.opts, nil)
				rec := newRetryRecorder()
				Do(context.Background(), p, func(ctx context.Context) (int, error) {
					if rec.call(ctx) == 1 {
						return 0, tt.first
					}
					return 0, errRetryBoom
				})
				if fmt.Sprint(rec.at) != fmt.Sprint(tt.want) {
					t.Errorf("attempts started at %v, want %v", rec.at, tt.want)
				}
			})
		})
	}
}

// TestRetryDelayHintPastDeadline: a hinted wait that would end after the deadline is
// not waited for.
func TestRetryDelayHintPastDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p := retryPipeline(t, RetryOptions{}, nil)
		start := time.Now()
		hinted := &RetryAfterError{Err: errRetryBoom, After: 20 * time.Second}
		_, err := Do(ctx, p, func(context.Context) (int, error) { return 0, hinted })
		if re := retryExhausted(t, err); re.Attempts != 1 || re.Reason != RetryReasonDeadline || re.Err != hinted || time.Since(start) != 0 {
			t.Errorf("Do = %+v after %s, want 1 attempt, deadline, the hinted error, at once", re, time.Since(start))
		}
	})
}

// TestRetryCancelDuringWait: cancelling the context interrupts the wait at once.
func TestRetryCancelDuringWait(t *testing.T) {
	defer goleak.VerifyNone(t)
	const ms = time.Millisecond
	constant := Backoff{Kind: BackoffConstant, Base: 100 * ms}

	t.Run("error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop := time.AfterFunc(150*ms, cancel) // during the second wait
			defer stop.Stop()
			p := retryPipeline(t, RetryOptions{MaxAttempts: 10, Backoff: constant}, nil)
			rec := newRetryRecorder()
			_, err := Do(ctx, p, func(ctx context.Context) (int, error) { rec.call(ctx); return 0, errRetryBoom })
			re := retryExhausted(t, err)
			if elapsed := time.Since(rec.start); re.Attempts != 2 || re.Reason != RetryReasonCanceled || re.Err != errRetryBoom || elapsed != 150*ms {
				t.Errorf("Do = %+v after %s, want 2 attempts, canceled, boom after 150ms", re, elapsed)
			}
			if !errors.Is(err, context.Canceled) || !errors.Is(err, errRetryBoom) {
				t.Errorf("error %v: want it to match both context.Canceled and boom", err)
			}
			if want := "resilience: gave up after 2 attempt(s) (canceled): boom"; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	})

	t.Run("cause", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			errShutdown := errors.New("shutting down")
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			stop := time.AfterFunc(50*ms, func() { cancel(errShutdown) })
			defer stop.Stop()
			p := retryPipeline(t, RetryOptions{Backoff: constant}, nil)
			_, err := Do(ctx, p, func(ctx context.Context) (int, error) { return 0, errRetryBoom })
			if !errors.Is(err, errShutdown) || !errors.Is(err, context.Canceled) || !errors.Is(err, errRetryBoom) {
				t.Errorf("error %v: want it to match the cause, context.Canceled and boom", err)
			}
		})
	})

	t.Run("value", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop := time.AfterFunc(50*ms, cancel)
			defer stop.Stop()
			var discarded []any
			p := retryPipeline(t, RetryOptions{
				Backoff:     constant,
				ShouldRetry: func(o Outcome) bool { return o.Value == 503 },
				OnDiscard:   func(o Outcome) { discarded = append(discarded, o.Value) },
			}, nil)
			v, err := Do(ctx, p, func(context.Context) (int, error) { return 503, nil })
			// The value was discarded before the wait: it cannot be returned.
			re := retryExhausted(t, err)
			if v != 0 || re.Attempts != 1 || re.Reason != RetryReasonCanceled || re.Err != context.Canceled {
				t.Errorf("Do = %d, %+v, want 0 and 1 attempt, canceled, context.Canceled", v, re)
			}
			if fmt.Sprint(discarded) != "[503]" {
				t.Errorf("discarded %v, want [503]", discarded)
			}
		})
	})
}

// TestRetryCallerContextDone: nothing is retried once the caller's context is done,
// whatever ShouldRetry says.
func TestRetryCallerContextDone(t *testing.T) {
	always := func(Outcome) bool { return true }

	ctx, cancel := context.WithCancel(context.Background())
	p := retryPipeline(t, RetryOptions{ShouldRetry: always}, nil)
	calls := 0
	_, err := Do(ctx, p, func(context.Context) (int, error) { calls++; cancel(); return 0, errRetryBoom })
	if re := retryExhausted(t, err); calls != 1 || re.Reason != RetryReasonCanceled || re.Err != errRetryBoom || !errors.Is(err, context.Canceled) {
		t.Errorf("Do = %v after %d calls, want canceled, boom, matching context.Canceled, after 1", err, calls)
	}

	ctx, cancel = context.WithCancel(context.Background())
	calls = 0
	_, err = Do(ctx, p, func(ctx context.Context) (int, error) { calls++; cancel(); return 0, ctx.Err() })
	if re := retryExhausted(t, err); calls != 1 || re.Err != context.Canceled {
		t.Errorf("Do = %v after %d calls, want context.Canceled after 1", err, calls)
	}

	ctx, cancel = context.WithCancel(context.Background())
	calls = 0
	v, err := Do(ctx, p, func(context.Context) (int, error) { calls++; cancel(); return 7, nil })
	if v != 7 || err != nil || calls != 1 {
		t.Errorf("Do = %d, %v after %d calls, want 7, nil after 1", v, err, calls)
	}
}

// TestRetryValuePredicate: values are retried on ShouldRetry's word; giving up on a
// value returns it with a nil error.
func TestRetryValuePredicate(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		shouldRetry := func(o Outcome) bool { return o.Err != nil || o.Value.(int) >= 500 }
		for _, tt := range []struct {
			statuses []int
			want     int
			calls    int
		}{
			{[]int{503, 502, 200}, 200, 3},
			{[]int{503, 404}, 404, 2},
			{[]int{503, 503, 503, 200}, 503, 3},
		} {
			p := retryPipeline(t, RetryOptions{ShouldRetry: shouldRetry}, nil)
			calls := 0
			v, err := Do(context.Background(), p, func(context.Context) (int, error) {
				calls++
				return tt.statuses[calls-1], nil
			})
			if v != tt.want || err != nil || calls != tt.calls {
				t.Errorf("statuses %v: Do = %d, %v after %d calls, want %d, nil after %d", tt.statuses, v, err, calls, tt.want, tt.calls)
			}
		}
	})
}

// TestRetryOnDiscard: every outcome retried over is handed to OnDiscard before the
// wait, and the one returned never is.
func TestRetryOnDiscard(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		type body struct {
			n      int
			closed bool
		}
		for _, tt := range []struct {
			name          string
			max           int
			succeedAt     int
			wantDiscarded []int
			wantValue     int
		}{
			{"success on 3", 5, 3, []int{1, 2}, 3},
			{"exhausted", 3, 0, []int{1, 2}, 3},
			{"first succeeds", 3, 1, nil, 1},
		} {
			var bodies []*body
			var discarded []int
			start := time.Now()
			var discardedAt []time.Duration
			p := retryPipeline(t, RetryOptions{
				MaxAttempts: tt.max,
				Backoff:     Backoff{Kind: BackoffConstant, Base: time.Second},
				ShouldRetry: func(o Outcome) bool { return o.Value.(*body).n != tt.succeedAt },
				OnDiscard: func(o Outcome) {
					b := o.Value.(*body)
					if o.Attempt != b.n {
						t.Errorf("%s: OnDiscard(Attempt %d) for the value of attempt %d", tt.name, o.Attempt, b.n)
					}
					b.closed = true
					discarded = append(discarded, b.n)
					discardedAt = append(discardedAt, time.Since(start))
				},
			}, nil)
			v, err := Do(context.Background(), p, func(context.Context) (*body, error) {
				b := &body{n: len(bodies) + 1}
				bodies = append(bodies, b)
				return b, nil
			})
			if err != nil || v.n != tt.wantValue || v.closed {
				t.Errorf("%s: Do = %+v, %v, want body %d not closed", tt.name, v, err, tt.wantValue)
			}
			if fmt.Sprint(discarded) != fmt.Sprint(tt.wantDiscarded) {
				t.Errorf("%s: discarded %v, want %v", tt.name, discarded, tt.wantDiscarded)
			}
			for k, at := range discardedAt {
				if want := time.Duration(k) * time.Second; at != want {
					t.Errorf("%s: discard %d at %s, want %s (before the wait)", tt.name, k+1, at, want)
				}
			}
		}

		// Error outcomes are discarded too, with the call's value.
		var errs []error
		p := retryPipeline(t, RetryOptions{OnDiscard: func(o Outcome) { errs = append(errs, o.Err) }}, nil)
		Do(context.Background(), p, func(context.Context) (int, error) { return 0, errRetryBoom })
		if len(errs) != 2 || errs[0] != errRetryBoom || errs[1] != errRetryBoom {
			t.Errorf("discarded errors %v, want [boom boom]", errs)
		}
	})
}

func TestRetryAttemptFromContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	if got := AttemptFromContext(context.Background()); got != 1 {
		t.Errorf("AttemptFromContext(context.Background()) = %d, want 1", got)
	}
	synctest.Test(t, func(t *testing.T) {
		p := retryPipeline(t, RetryOptions{MaxAttempts: 4}, nil)
		rec := newRetryRecorder()
		Do(context.Background(), p, func(ctx context.Context) (int, error) { rec.call(ctx); return 0, errRetryBoom })
		if fmt.Sprint(rec.attempts) != "[1 2 3 4]" {
			t.Errorf("AttemptFromContext in attempts = %v, want [1 2 3 4]", rec.attempts)
		}

		// Nested: an inner retry's first attempt sees the outer attempt number, its
		// retries their own.
		inner := retryPipeline(t, RetryOptions{MaxAttempts: 2}, nil)
		var seen []int
		Do(context.Background(), p, func(ctx context.Context) (int, error) {
			return Do(ctx, inner, func(ctx context.Context) (int, error) {
				seen = append(seen, AttemptFromContext(ctx))
				return 0, errRetryBoom
			})
		})
		if fmt.Sprint(seen) != "[1 2 2 2 3 2 4 2]" {
			t.Errorf("nested AttemptFromContext = %v, want [1 2 2 2 3 2 4 2]", seen)
		}
	})
}

// TestRetryBudget: a shared budget stops retries when it is spent, and the window
// refills it.
func TestRetryBudget(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		// Ratio 0.01 with 1 retry a second over a 1s window: a reserve of one retry.
		b := Must(NewBudget(BudgetOptions{Ratio: 0.01, MinPerSecond: 1, Window: time.Second}))
		p := retryPipeline(t, RetryOptions{MaxAttempts: 5, Backoff: Backoff{Kind: BackoffConstant, Base: time.Millisecond}, Budget: b}, nil)
		fail := func(context.Context) (int, error) { return 0, errRetryBoom }

		_, err := Do(context.Background(), p, fail)
		if re := retryExhausted(t, err); re.Attempts != 2 || re.Reason != RetryReasonBudget || re.Err != errRetryBoom {
			t.Errorf("first call: %+v, want 2 attempts, budget, boom", re)
		}
		_, err = Do(context.Background(), p, fail)
		if re := retryExhausted(t, err); re.Attempts != 1 || re.Reason != RetryReasonBudget {
			t.Errorf("second call: %+v, want 1 attempt, budget", re)
		}
		time.Sleep(time.Second)
		_, err = Do(context.Background(), p, fail)
		if re := retryExhausted(t, err); re.Attempts != 2 || re.Reason != RetryReasonBudget {
			t.Errorf("a window later: %+v, want 2 attempts, budget", re)
		}

		// A retry the deadline forbids takes nothing from the budget.
		time.Sleep(time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		_, err = Do(ctx, p, fail)
		if re := retryExhausted(t, err); re.Attempts != 1 || re.Reason != RetryReasonDeadline {
			t.Errorf("with a 1ms deadline: %+v, want 1 attempt, deadline", re)
		}
		if !b.TryWithdraw() {
			t.Error("TryWithdraw() after a retry the deadline forbade = false, want true")
		}
	})
}

// TestRetryEvents checks the events a retry reports.
func TestRetryEvents(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		obs := &retryEvents{}
		p := retryPipeline(t, RetryOptions{Name: "r", Backoff: Backoff{Kind: BackoffConstant, Base: 100 * time.Millisecond}}, obs)
		calls := 0
		Do(context.Background(), p, func(context.Context) (int, error) {
			calls++
			time.Sleep(10 * time.Millisecond)
			if calls == 3 {
				return 1, nil
			}
			return 0, errRetryBoom
		})
		ev := func(k EventKind, attempt int, delay, duration time.Duration, err error) Event {
			return Event{Kind: k, Pipeline: "test", Policy: "r", Attempt: attempt, Delay: delay, Duration: duration, Err: err}
		}
		const ms = time.Millisecond
		want := []Event{
			ev(EventAttempt, 1, 0, 10*ms, errRetryBoom),
			ev(EventRetry, 2, 100*ms, 0, errRetryBoom),
			ev(EventAttempt, 2, 0, 10*ms, errRetryBoom),
			ev(EventRetry, 3, 100*ms, 0, errRetryBoom),
			ev(EventAttempt, 3, 0, 10*ms, nil),
		}
		retryCompareEvents(t, "success on 3", obs.list, want)

		obs.list = nil
		Do(context.Background(), p, func(context.Context) (int, error) { return 0, errRetryBoom })
		want = []Event{
			ev(EventAttempt, 1, 0, 0, errRetryBoom),
			ev(EventRetry, 2, 100*ms, 0, errRetryBoom),
			ev(EventAttempt, 2, 0, 0, errRetryBoom),
			ev(EventRetry, 3, 100*ms, 0, errRetryBoom),
			ev(EventAttempt, 3, 0, 0, errRetryBoom),
			ev(EventRetriesExhausted, 3, 0, 0, errRetryBoom),
		}
		retryCompareEvents(t, "exhausted", obs.list, want)

		obs.list = nil
		Do(context.Background(), p, func(context.Context) (int, error) { return 0, Permanent(errRetryBoom) })
		if len(obs.list) != 1 || obs.list[0].Kind != EventAttempt {
			t.Errorf("permanent error: events %v, want one attempt", obs.list)
		}
	})
}

func retryCompareEvents(t *testing.T, name string, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d events %+v, want %d %+v", name, len(got), got, len(want), want)
		return
	}
	for k := range got {
		if got[k] != want[k] {
			t.Errorf("%s: event %d = %+v, want %+v", name, k, got[k], want[k])
		}
	}
}

// TestRetryConcurrent runs one retry policy and budget from many goroutines (and
// the race detector). Call (g, k) succeeds at the attempt a where g+k+a is a
// multiple of 3, so it needs 0 to 2 retries, about 160 in all; the budget allows
// 0.2 × 160 requests + 1/s × 10s = 42 within its window, which the run (waits of
// at most 10ms) never leaves. Every call must end either with its success after
// attempts 1, 2, ... a, or refused by the budget before a; the budget never
// allows more than it holds, and the events tell exactly what happened.
func TestRetryConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		const goroutines, calls, capacity = 8, 20, 42
		b := Must(NewBudget(BudgetOptions{Ratio: 0.2, MinPerSecond: 1, Window: 10 * time.Second}))
		events := &retryEvents{}
		p := retryPipeline(t, RetryOptions{Budget: b, Backoff: Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond, Jitter: JitterDecorrelated}}, events)
		type result struct {
			g, k     int
			attempts []int // the attempt numbers the function saw, in order
			v        int
			err      error
		}
		results := make([][]result, goroutines)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for k := range calls {
					r := result{g: g, k: k}
					r.v, r.err = Do(context.Background(), p, func(ctx context.Context) (int, error) {
						a := AttemptFromContext(ctx)
						r.attempts = append(r.attempts, a)
						if (g+k+a)%3 == 0 {
							return 1, nil
						}
						return 0, errRetryBoom
					})
					results[g] = append(results[g], r)
				}
			})
		}
		wg.Wait()

		var attempts, retries, refused int
		for _, rs := range results {
			for _, r := range rs {
				succeedsAt := 3 - (r.g+r.k)%3 // the a in 1..3 with g+k+a ≡ 0 (mod 3)
				for i, a := range r.attempts {
					if a != i+1 {
						t.Fatalf("call (%d, %d) saw attempts %v, want 1, 2, 3, ... in order", r.g, r.k, r.attempts)
					}
				}
				n := len(r.attempts)
				attempts += n
				retries += n - 1
				var re *RetriesExhaustedError
				switch {
				case r.err == nil:
					if r.v != 1 || n != succeedsAt {
						t.Errorf("call (%d, %d) = %d after %d attempts, want 1 after %d", r.g, r.k, r.v, n, succeedsAt)
					}
				case errors.As(r.err, &re) && re.Reason == RetryReasonBudget:
					refused++
					if n >= succeedsAt || re.Attempts != n || !errors.Is(r.err, errRetryBoom) {
						t.Errorf("call (%d, %d) refused by the budget after %d attempts (%v), want fewer than %d, with the last error", r.g, r.k, n, r.err, succeedsAt)
					}
				default:
					t.Errorf("call (%d, %d) = %v after %d attempts, want success or a budget refusal", r.g, r.k, r.err, n)
				}
			}
		}
		if retries > capacity {
			t.Errorf("the budget allowed %d retries, want at most %d", retries, capacity)
		}
		if retries == 0 || refused == 0 {
			t.Errorf("%d retries and %d refusals, want both: the test exercises neither the retry nor the budget otherwise", retries, refused)
		}
		count := map[EventKind]int{}
		events.mu.Lock()
		for _, e := range events.list {
			count[e.Kind]++
		}
		events.mu.Unlock()
		if count[EventAttempt] != attempts || count[EventRetry] != retries || count[EventRetriesExhausted] != refused {
			t.Errorf("events: %d attempts, %d retries, %d exhausted; want %d, %d, %d as the calls saw them",
				count[EventAttempt], count[EventRetry], count[EventRetriesExhausted], attempts, retries, refused)
		}
	})
}
