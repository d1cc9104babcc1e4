package resilience

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors that callers branch on with [errors.Is]. Each rejection also has a
// struct type that carries its details.
var (
	// ErrBreakerOpen is returned when a circuit breaker rejects a call because it is
	// open, isolated, or half-open with all probes taken. See [BreakerOpenError].
	ErrBreakerOpen = errors.New("resilience: circuit breaker is open")
	// ErrBulkheadFull is returned when a bulkhead has no free slot and its wait queue
	// is full.
	ErrBulkheadFull = errors.New("resilience: bulkhead is full")
	// ErrRateLimited is returned when a rate limiter rejects a call. See
	// [RateLimitedError] for when to retry.
	ErrRateLimited = errors.New("resilience: rate limited")
	// ErrTimeout is matched by the error of a call cancelled by a [Timeout] policy.
	// The same error also matches [context.DeadlineExceeded].
	ErrTimeout = errors.New("resilience: timeout")
	// ErrRetriesExhausted is matched by the error returned when a [Retry] policy gives
	// up. See [RetriesExhaustedError] for the last error and the attempt count.
	ErrRetriesExhausted = errors.New("resilience: retries exhausted")
)

// BreakerOpenError is the error of a call rejected by a circuit breaker. It matches
// [ErrBreakerOpen].
type BreakerOpenError struct {
	Breaker string        // the breaker's name
	State   BreakerState  // the state that rejected the call
	RetryIn time.Duration // how long until it half-opens, rounded up to a tenth of the break; 0 when half-open or isolated
}

func (e *BreakerOpenError) Error() string {
	if e.RetryIn > 0 {
		return fmt.Sprintf("resilience: circuit breaker %q is %s (half-opens in %s)", e.Breaker, e.State, e.RetryIn)
	}
	return fmt.Sprintf("resilience: circuit breaker %q is %s", e.Breaker, e.State)
}

// Is reports whether target is [ErrBreakerOpen].
func (e *BreakerOpenError) Is(target error) bool { return target == ErrBreakerOpen }

// RateLimitedError is the error of a call rejected by a rate limiter. It matches
// [ErrRateLimited].
type RateLimitedError struct {
	Limiter    string        // the limiter's name
	RetryAfter time.Duration // how long until a permit is expected to be available
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("resilience: rate limited by %q, retry after %s", e.Limiter, e.RetryAfter)
}

// Is reports whether target is [ErrRateLimited].
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// TimeoutError is the error of a call whose context was cancelled by a [Timeout]
// policy. It matches both [ErrTimeout] and [context.DeadlineExceeded].
type TimeoutError struct {
	Policy  string        // the timeout policy's name
	Timeout time.Duration // the configured timeout
	Err     error         // what the call returned, if it was not the bare context error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("resilience: %s timed out after %s", e.Policy, e.Timeout)
}

// Is reports whether target is [ErrTimeout] or [context.DeadlineExceeded].
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == contextDeadlineExceeded
}

// Unwrap returns the error the call itself returned, if any.
func (e *TimeoutError) Unwrap() error { return e.Err }

// RetriesExhaustedError is returned by a [Retry] policy that gave up with an error
// outcome. It matches [ErrRetriesExhausted] and unwraps to the last error.
type RetriesExhaustedError struct {
	Attempts int    // attempts made, including the first
	Reason   string // "max attempts", "deadline", "budget" or "canceled" (see the RetryReason constants)
	Err      error  // the last attempt's error
}

func (e *RetriesExhaustedError) Error() string {
	return fmt.Sprintf("resilience: gave up after %d attempt(s) (%s): %v", e.Attempts, e.Reason, e.Err)
}

// Is reports whether target is [ErrRetriesExhausted].
func (e *RetriesExhaustedError) Is(target error) bool { return target == ErrRetriesExhausted }

// Unwrap returns the last attempt's error.
func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

// permanentError marks an error that must not be retried.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: retry policies do not retry it and the event bus
// dead-letters it at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterError carries a hint from the callee of how long to wait before trying
// again (an HTTP Retry-After header, a broker's throttle). [Retry] honours it within
// its cap. Errors may also implement the method themselves.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the hinted delay.
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// retryAfterHint extracts a delay hint from err: any error in its chain that has a
// RetryAfter() time.Duration method.
func retryAfterHint(err error) (time.Duration, bool) {
	for err != nil {
		if h, ok := err.(interface{ RetryAfter() time.Duration }); ok {
			return h.RetryAfter(), true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if d, ok := retryAfterHint(e); ok {
					return d, true
				}
			}
			return 0, false
		default:
			return 0, false
		}
	}
	return 0, false
}
