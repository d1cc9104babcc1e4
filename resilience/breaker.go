package resilience

import (
	"context"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState uint8

const (
	// StateClosed lets calls through and counts their failures.
	StateClosed BreakerState = iota
	// StateOpen rejects calls until the break duration has passed.
	StateOpen
	// StateHalfOpen lets a few probe calls through to decide whether to close again.
	StateHalfOpen
	// StateIsolated rejects every call until [Breaker.Reset] (manual override).
	StateIsolated
)

// String returns "closed", "open", "half-open" or "isolated".
func (s BreakerState) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half-open"
	case StateIsolated:
		return "isolated"
	}
	return "unknown"
}

// TripMode is how a closed breaker decides to open.
type TripMode uint8

const (
	// TripFailureRatio opens when, over the sampling window, at least MinThroughput
	// calls were made and the share that failed reached FailureRatio (Polly's model).
	TripFailureRatio TripMode = iota
	// TripConsecutiveFailures opens after ConsecutiveFailures failures in a row.
	TripConsecutiveFailures
)

// BreakerOptions configure a [Breaker]. The zero value opens when half of at least 10
// calls in a 30s window failed, stays open 5s, then admits one probe.
type BreakerOptions struct {
	// Name identifies the breaker in events, errors and health checks. Empty means
	// "breaker".
	Name string
	// Mode chooses how the breaker trips.
	Mode TripMode
	// FailureRatio is the failed share that trips a TripFailureRatio breaker, in
	// (0, 1]. Zero means 0.5.
	FailureRatio float64
	// MinThroughput is the number of calls in the window below which a
	// TripFailureRatio breaker does not trip. Zero means 10.
	MinThroughput int
	// SamplingWindow is how far back a TripFailureRatio breaker counts. Zero means 30s.
	SamplingWindow time.Duration
	// ConsecutiveFailures trips a TripConsecutiveFailures breaker. Zero means 5.
	ConsecutiveFailures int
	// BreakDuration is how long the breaker stays open. Zero means 5s.
	BreakDuration time.Duration
	// BreakGrowth multiplies the break duration at each trip that follows a failed
	// probe, up to MaxBreakDuration. Zero or 1 keeps it constant.
	BreakGrowth float64
	// MaxBreakDuration caps a growing break duration. Zero means 10×BreakDuration.
	MaxBreakDuration time.Duration
	// HalfOpenProbes is how many probe calls a half-open breaker admits at once; all
	// must succeed to close it. Zero means 1.
	HalfOpenProbes int
	// ShouldHandle decides whether an outcome is a failure. Nil counts every error as a
	// failure except context cancellation and the rejections of other policies
	// (ErrBulkheadFull, ErrRateLimited, ErrBreakerOpen).
	ShouldHandle func(Outcome) bool
	// OnStateChange is called after every state change, outside any lock.
	OnStateChange func(BreakerStateChange)
	// Observer receives the breaker's state changes and rejections as events.
	Observer Observer
}

// BreakerStateChange describes one transition of a breaker.
type BreakerStateChange struct {
	Breaker  string
	From, To BreakerState
	At       time.Time
	Reason   string // e.g. "failure ratio 0.60 over 12 calls", "probe succeeded", "isolated"
}

// BreakerSnapshot is a read-only view of a breaker at one moment.
type BreakerSnapshot struct {
	Name                string
	State               BreakerState
	Successes, Failures int       // in the current sampling window (ratio mode)
	ConsecutiveFailures int       // failures in a row
	Trips               int       // times opened since creation
	OpenedAt            time.Time // when it last opened; zero if never
	HalfOpensAt         time.Time // when an open breaker admits probes; zero otherwise
}

// Breaker is a circuit breaker. It is safe for concurrent use; its happy path takes no
// lock. State-change listeners run after the breaker's lock is released.
type Breaker struct {
	name string
	opts BreakerOptions
}

// NewBreaker returns a circuit breaker, or an error naming the option that is invalid.
func NewBreaker(opts BreakerOptions) (*Breaker, error) {
	// TODO: implement.
	if opts.Name == "" {
		opts.Name = "breaker"
	}
	return &Breaker{name: opts.Name, opts: opts}, nil
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }
func (*Breaker) policy()        {}

// BreakerPermit is the admission of one call; report its outcome with Done.
type BreakerPermit struct {
	b *Breaker
}

// Allow asks the breaker to admit one call. On success the caller must call Done on
// the permit exactly once with whether the call failed. When the breaker rejects the
// call the error is a [*BreakerOpenError].
func (b *Breaker) Allow() (BreakerPermit, error) {
	// TODO: implement.
	return BreakerPermit{b: b}, nil
}

// Done records the outcome of the admitted call.
func (p BreakerPermit) Done(failed bool) {}

// Failed reports whether o counts as a failure for this breaker.
func (b *Breaker) Failed(o Outcome) bool { return o.Err != nil }

// Isolate opens the breaker until [Breaker.Reset], whatever the calls do.
func (b *Breaker) Isolate() {}

// Reset closes the breaker and forgets its counts.
func (b *Breaker) Reset() {}

// State returns the current state.
func (b *Breaker) State() BreakerState { return StateClosed }

// Snapshot returns a consistent view of the breaker's state and counts.
func (b *Breaker) Snapshot() BreakerSnapshot { return BreakerSnapshot{Name: b.name} }

func runBreaker[T any](ctx context.Context, b *Breaker, c chain[T], i int) (T, error) {
	// TODO: implement.
	return c.next(ctx, i)
}
