package resilience

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiterOptions configure a [RateLimiter]. Rate is required.
type RateLimiterOptions struct {
	Name  string  // empty means "rate-limiter"
	Rate  float64 // permits per second; must be > 0 and finite
	Burst int     // bucket size; zero means max(1, ceil(Rate)); negative is an error
	// Wait makes a call wait for a permit (up to MaxWait and the context's deadline)
	// instead of failing at once with ErrRateLimited. A call whose wait would end
	// after MaxWait or the deadline fails at once, without waiting.
	Wait    bool
	MaxWait time.Duration // zero means no bound but the context's; negative is an error
}

// RateLimiter is a token-bucket rate limiter (golang.org/x/time/rate). A rejected call
// fails with a [*RateLimitedError] that says when a permit is expected, and is
// reported to the pipeline's observer as an [EventRejected]; a call that waits for a
// permit and whose context ends meanwhile fails with the context's error and gives its
// permit back.
//
// Build a RateLimiter with [NewRateLimiter]; the zero RateLimiter is not usable. It is
// safe for concurrent use; [RateLimiter.Update] changes its options at run time. One
// limiter shared by several pipelines limits them together. A call that gets a permit
// at once takes the limiter's lock once and allocates nothing.
type RateLimiter struct {
	name     string
	lim      *rate.Limiter
	settings atomic.Pointer[rateLimiterSettings]
}

// rateLimiterSettings is the part of a RateLimiter that the limiter itself does not
// hold, replaced as a whole by Update.
type rateLimiterSettings struct {
	wait    bool
	maxWait time.Duration
}

// NewRateLimiter returns a rate limiter, or an error naming the option that is invalid.
func NewRateLimiter(opts RateLimiterOptions) (*RateLimiter, error) {
	if opts.Name == "" {
		opts.Name = "rate-limiter"
	}
	if err := normaliseRateLimiterOptions(&opts); err != nil {
		return nil, err
	}
	l := &RateLimiter{name: opts.Name, lim: rate.NewLimiter(rate.Limit(opts.Rate), opts.Burst)}
	l.settings.Store(&rateLimiterSettings{wait: opts.Wait, maxWait: opts.MaxWait})
	return l, nil
}

func normaliseRateLimiterOptions(opts *RateLimiterOptions) error {
	if !(opts.Rate > 0) || math.IsInf(opts.Rate, 1) {
		return fmt.Errorf("resilience: RateLimiterOptions.Rate: must be a finite number > 0, got %v", opts.Rate)
	}
	switch {
	case opts.Burst < 0:
		return fmt.Errorf("resilience: RateLimiterOptions.Burst: must be ≥ 0, got %d", opts.Burst)
	case opts.Burst == 0:
		opts.Burst = int(min(math.Ceil(opts.Rate), math.MaxInt32))
		opts.Burst = max(opts.Burst, 1)
	}
	if opts.MaxWait < 0 {
		return fmt.Errorf("resilience: RateLimiterOptions.MaxWait: must be ≥ 0, got %s", opts.MaxWait)
	}
	return nil
}

// Name returns the policy's name.
func (l *RateLimiter) Name() string { return l.name }
func (*RateLimiter) policy()        {}

// Update replaces the rate, burst and waiting options at run time, with the same
// defaults and validation as [NewRateLimiter]; opts.Name is ignored (the name is
// kept). The tokens in the bucket are kept, up to the new burst. On error nothing
// changes.
func (l *RateLimiter) Update(opts RateLimiterOptions) error {
	if err := normaliseRateLimiterOptions(&opts); err != nil {
		return err
	}
	now := time.Now()
	l.lim.SetLimitAt(now, rate.Limit(opts.Rate))
	l.lim.SetBurstAt(now, opts.Burst)
	l.settings.Store(&rateLimiterSettings{wait: opts.Wait, maxWait: opts.MaxWait})
	return nil
}

// Tokens returns the number of permits available now; it is negative when waiting
// calls have reserved permits ahead.
func (l *RateLimiter) Tokens() float64 { return l.lim.TokensAt(time.Now()) }

func runRateLimiter[T any](ctx context.Context, l *RateLimiter, c chain[T], i int) (T, error) {
	now := time.Now()
	// The happy path: AllowN takes a permit without allocating a Reservation.
	if !l.lim.AllowN(now, 1) {
		if err := l.waitSlow(ctx, now); err != nil {
			if _, rejected := err.(*RateLimitedError); rejected && c.observed() {
				c.emit(ctx, l, Event{Kind: EventRejected, Err: err})
			}
			var zero T
			return zero, err
		}
	}
	return c.next(ctx, i)
}

// waitSlow reserves a permit and waits for it if the options allow, or gives the
// reservation back and says when to retry.
func (l *RateLimiter) waitSlow(ctx context.Context, now time.Time) error {
	s := l.settings.Load()
	r := l.lim.ReserveN(now, 1)
	if !r.OK() {
		// Only possible if the burst is zero, which the options do not allow.
		return &RateLimitedError{Limiter: l.name}
	}
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil // a permit arrived since AllowN
	}
	reject := !s.wait || (s.maxWait > 0 && delay > s.maxWait)
	if deadline, ok := ctx.Deadline(); ok && delay >= deadline.Sub(now) {
		reject = true
	}
	if reject {
		r.CancelAt(now)
		return &RateLimitedError{Limiter: l.name, RetryAfter: delay}
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		r.CancelAt(time.Now())
		return ctx.Err()
	}
}
