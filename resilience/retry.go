package resilience

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RetryOptions configure a [Retry]. The zero value retries errors up to 3 attempts in
// all, with exponential backoff from 100ms, full jitter, capped at 30s.
type RetryOptions struct {
	// Name identifies the policy in events. Empty means "retry".
	Name string
	// MaxAttempts is the number of attempts in all, the first included. Zero means 3;
	// 1 never retries; negative is an error.
	MaxAttempts int
	// Backoff computes the wait before each retry. Its zero value is exponential from
	// 100ms, doubling, capped at 30s, with full jitter; invalid fields are an error
	// (see [Backoff.Validate]).
	Backoff Backoff
	// ShouldRetry decides whether an outcome is retried. Nil retries every error except
	// context cancellation, the caller's own deadline and errors marked [Permanent].
	// Setting it makes every attempt box its value into an [Outcome]. Whatever it
	// says, nothing is retried once the caller's context is done.
	ShouldRetry func(Outcome) bool
	// DelayHint extracts a wait from an outcome (an HTTP Retry-After, say) that replaces
	// the backoff for that retry. Nil uses the hint of any error in the chain that has a
	// RetryAfter() time.Duration method, such as [RetryAfterError]. A negative hint
	// counts as zero.
	DelayHint func(Outcome) (time.Duration, bool)
	// MaxDelayHint caps a hinted wait. Zero means 30s; negative is an error. A hint
	// above the cap is cut to the cap.
	MaxDelayHint time.Duration
	// Budget, if set, limits retries to a share of recent requests; a retry the budget
	// refuses ends the execution with the last outcome. Each execution deposits once
	// into it, and each retry withdraws once. One budget is usually shared by every
	// retry policy that calls one service.
	Budget *Budget
	// OnDiscard, if set, is called with each outcome that Retry drops in order to try
	// again, before it waits, so that the outcome's resources can be released: httpx
	// drains and closes a response's body this way. It sees error outcomes too (their
	// Value is then usually the zero value of the call's type), and never the
	// outcome Retry returns. With OnDiscard nil, a dropped value is simply forgotten:
	// a ShouldRetry that retries values holding resources must release them itself.
	// It runs on the caller's goroutine and must not block.
	OnDiscard func(Outcome)
}

// The reasons a [Retry] gives up, found in [RetriesExhaustedError.Reason].
const (
	// RetryReasonMaxAttempts: the last allowed attempt failed.
	RetryReasonMaxAttempts = "max attempts"
	// RetryReasonDeadline: the next wait would have ended after the context's
	// deadline, or the deadline has passed.
	RetryReasonDeadline = "deadline"
	// RetryReasonBudget: the [Budget] refused the retry.
	RetryReasonBudget = "budget"
	// RetryReasonCanceled: the caller's context was cancelled.
	RetryReasonCanceled = "canceled"
)

// Defaults of [RetryOptions].
const (
	defaultRetryName         = "retry"
	defaultRetryMaxAttempts  = 3
	defaultRetryMaxDelayHint = 30 * time.Second
)

// Retry is a policy that runs the rest of the pipeline again when its outcome is
// retryable, waiting between attempts. It never waits past the context's deadline:
// when the next wait would end after it, Retry returns the last outcome at once.
// When it gives up on an error it returns a [*RetriesExhaustedError]; when it gives
// up on a value that ShouldRetry rejected, it returns that value with a nil error.
// A Retry is safe for concurrent use.
//
// # Outcomes
//
// An outcome that is not retryable is returned as it is, on any attempt: a success,
// an error marked [Permanent], a context error. A retryable one is retried until:
//
//   - it came from the last of MaxAttempts attempts (Reason "max attempts");
//   - the wait before the next attempt would end at or after the context's deadline
//     (Reason "deadline"): Retry returns without waiting;
//   - the [Budget] refuses the retry (Reason "budget");
//   - the caller's context is done (Reason "canceled", or "deadline" if it expired).
//
// When it gives up on an error, the error is a [*RetriesExhaustedError] with the
// attempt count, the reason and the last error (use [errors.As]); when the caller's
// context ended the retries, the returned error also matches the context's error
// (context.Canceled, context.DeadlineExceeded). When it gives up on a value with a
// nil error (an HTTP 503 response that ShouldRetry retried, say), it returns that
// value and a nil error, so the caller sees the last response.
//
// Once Retry has decided to retry, the outcome is dropped (see
// [RetryOptions.OnDiscard]) before the wait; if the caller's context is cancelled
// during the wait, Retry returns the zero value and a [*RetriesExhaustedError] with
// Reason "canceled" whose Err is the last error, or the context's error when the
// last outcome was a value.
//
// # Waits
//
// The wait before retry n (attempt n+1) is [Backoff.Delay](n, previous wait), or the
// outcome's delay hint ([RetryOptions.DelayHint]) cut to MaxDelayHint. The wait is a
// timer that the context's cancellation interrupts.
//
// # Attempts and events
//
// From the second attempt on, the context passed down carries the attempt number,
// read with [AttemptFromContext]. With an observer, Retry reports an [EventAttempt]
// after each attempt (Attempt, Duration, Err), an [EventRetry] before each wait
// (Attempt is the number of the attempt about to start, Delay the wait, Err the
// error retried) and an [EventRetriesExhausted] when it gives up (Attempt is the
// number of attempts made, Err the last error).
//
// # Cost
//
// When the first attempt succeeds and ShouldRetry is nil, Retry allocates nothing and
// takes no lock (a [Budget] deposit is one atomic compare-and-swap). A retry
// allocates its timer and the context that carries the attempt number.
type Retry struct {
	name string
	opts RetryOptions // normalised by NewRetry
}

// NewRetry returns a retry policy, or an error naming the option that is invalid,
// such as "resilience: RetryOptions.MaxAttempts: must be ≥ 0, got -1". Zero options
// take their documented defaults.
func NewRetry(opts RetryOptions) (*Retry, error) {
	if opts.MaxAttempts < 0 {
		return nil, fmt.Errorf("resilience: RetryOptions.MaxAttempts: must be ≥ 0, got %d", opts.MaxAttempts)
	}
	if err := opts.Backoff.validate("RetryOptions.Backoff"); err != nil {
		return nil, err
	}
	if opts.MaxDelayHint < 0 {
		return nil, fmt.Errorf("resilience: RetryOptions.MaxDelayHint: must be ≥ 0, got %s", opts.MaxDelayHint)
	}
	if opts.Name == "" {
		opts.Name = defaultRetryName
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = defaultRetryMaxAttempts
	}
	opts.Backoff = opts.Backoff.normalized()
	if opts.MaxDelayHint == 0 {
		opts.MaxDelayHint = defaultRetryMaxDelayHint
	}
	return &Retry{name: opts.Name, opts: opts}, nil
}

// Name returns the policy's name.
func (r *Retry) Name() string { return r.name }
func (*Retry) policy()        {}

// Options returns the policy's options with their defaults applied (the Backoff's
// Jitter is resolved: never JitterDefault).
func (r *Retry) Options() RetryOptions { return r.opts }

// attemptKey is the context key of the attempt number.
type attemptKey struct{}

// AttemptFromContext returns the number of the attempt that ctx belongs to: 1 for a
// first attempt or a context outside any [Retry], 2 for the first retry, and so on.
// HTTP telemetry reports it as http.request.resend_count (minus one). Within nested
// retries it is the number of the innermost one that has retried.
func AttemptFromContext(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey{}).(int); ok {
		return n
	}
	return 1
}

func runRetry[T any](ctx context.Context, r *Retry, c chain[T], i int) (T, error) {
	opts := &r.opts
	opts.Budget.Deposit()
	attemptCtx := ctx
	var prev time.Duration // the previous wait the backoff computed, for decorrelated jitter
	for attempt := 1; ; attempt++ {
		var start time.Time
		if c.observed() {
			start = time.Now()
		}
		v, err := c.next(attemptCtx, i)
		if c.observed() {
			c.emit(ctx, r, Event{Kind: EventAttempt, Attempt: attempt, Duration: time.Since(start), Err: err})
		}

		// o is boxed only when a callback needs it: never on the default happy path.
		var o Outcome
		if opts.ShouldRetry == nil {
			if !defaultRetryable(ctx, err) {
				return v, err
			}
		} else {
			o = outcomeOf(v, err, attempt)
			if !opts.ShouldRetry(o) {
				return v, err
			}
		}
		if o.Attempt == 0 && (opts.DelayHint != nil || opts.OnDiscard != nil) {
			o = outcomeOf(v, err, attempt)
		}

		delay, reason := r.plan(ctx, attempt, &prev, o, err)
		if reason != "" {
			if c.observed() {
				c.emit(ctx, r, Event{Kind: EventRetriesExhausted, Attempt: attempt, Err: err})
			}
			return v, retryGiveUp(ctx, attempt, reason, err)
		}
		if c.observed() {
			c.emit(ctx, r, Event{Kind: EventRetry, Attempt: attempt + 1, Delay: delay, Err: err})
		}
		if opts.OnDiscard != nil {
			opts.OnDiscard(o)
		}
		if ctxErr := retryWait(ctx, delay); ctxErr != nil {
			if c.observed() {
				c.emit(ctx, r, Event{Kind: EventRetriesExhausted, Attempt: attempt, Err: err})
			}
			if err == nil {
				err = ctxErr // the value is gone: report what ended the wait
			}
			var zero T
			return zero, retryGiveUp(ctx, attempt, retryContextReason(ctxErr), err)
		}
		attemptCtx = context.WithValue(ctx, attemptKey{}, attempt+1)
	}
}

// defaultRetryable is the predicate of a Retry without ShouldRetry: every error but
// the caller's cancellation or deadline and errors marked Permanent. A timeout of an
// inner policy is retried even if what it wraps says "canceled".
func defaultRetryable(ctx context.Context, err error) bool {
	if err == nil || IsPermanent(err) {
		return false
	}
	if errors.Is(err, context.Canceled) && !errors.Is(err, ErrTimeout) {
		return false
	}
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return false
	}
	return true
}

// plan decides what follows a retryable outcome of attempt number attempt: the wait
// before the next attempt, or the reason to give up. It withdraws from the budget
// only for a retry it lets happen. prev is the backoff's previous wait, updated.
func (r *Retry) plan(ctx context.Context, attempt int, prev *time.Duration, o Outcome, err error) (time.Duration, string) {
	opts := &r.opts
	if attempt >= opts.MaxAttempts {
		return 0, RetryReasonMaxAttempts
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return 0, retryContextReason(ctxErr)
	}
	delay := opts.Backoff.Delay(attempt, *prev)
	*prev = delay
	var hint time.Duration
	var hinted bool
	if opts.DelayHint != nil {
		hint, hinted = opts.DelayHint(o)
	} else if err != nil {
		hint, hinted = retryAfterHint(err)
	}
	if hinted {
		delay = min(max(hint, 0), opts.MaxDelayHint)
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Add(delay).Before(deadline) {
		return 0, RetryReasonDeadline
	}
	if !opts.Budget.TryWithdraw() {
		return 0, RetryReasonBudget
	}
	return delay, ""
}

// retryWait waits for d or until ctx is done, and returns ctx's error in the latter
// case.
func retryWait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// retryContextReason is the reason to give up because of a done context.
func retryContextReason(ctxErr error) string {
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		return RetryReasonDeadline
	}
	return RetryReasonCanceled
}

// retryGiveUp returns the error of a Retry that gives up for reason after attempts
// attempts whose last error is err: nil when err is nil (the caller gets the last
// value), a *RetriesExhaustedError otherwise, which also matches the context's error
// when the context is done.
func retryGiveUp(ctx context.Context, attempts int, reason string, err error) error {
	if err == nil {
		return nil
	}
	e := &RetriesExhaustedError{Attempts: attempts, Reason: reason, Err: err}
	ctxErr := ctx.Err()
	if ctxErr == nil || errors.Is(err, ctxErr) {
		return e
	}
	return &retryStoppedError{exhausted: e, ctxErr: ctxErr, cause: context.Cause(ctx)}
}

// retryStoppedError is the error of a Retry that the caller's context stopped: it
// reads as the RetriesExhaustedError and matches it, the context's error and the
// context's cause.
type retryStoppedError struct {
	exhausted *RetriesExhaustedError
	ctxErr    error
	cause     error
}

func (e *retryStoppedError) Error() string { return e.exhausted.Error() }

func (e *retryStoppedError) Unwrap() []error {
	if e.cause == nil || e.cause == e.ctxErr {
		return []error{e.exhausted, e.ctxErr}
	}
	return []error{e.exhausted, e.ctxErr, e.cause}
}
