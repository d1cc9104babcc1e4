package resilience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a circuit breaker. The zero value is StateClosed.
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

// TripMode is how a closed breaker decides to open. The zero value is
// TripFailureRatio.
type TripMode uint8

const (
	// TripFailureRatio opens when, over the sampling window, at least MinThroughput
	// calls were made and the share that failed reached FailureRatio (Polly's model).
	TripFailureRatio TripMode = iota
	// TripConsecutiveFailures opens after ConsecutiveFailures failures in a row.
	TripConsecutiveFailures
)

// Defaults of [BreakerOptions], used where a field is zero.
const (
	defaultFailureRatio        = 0.5
	defaultMinThroughput       = 10
	defaultSamplingWindow      = 30 * time.Second
	defaultConsecutiveFailures = 5
	defaultBreakDuration       = 5 * time.Second
	defaultHalfOpenProbes      = 1
	// minSamplingWindow keeps a bucket at least a millisecond wide.
	minSamplingWindow = 10 * time.Millisecond
)

// BreakerOptions configure a [Breaker]. The zero value opens when half of at least 10
// calls in a 30s window failed, stays open 5s, then admits one probe. Every zero
// field means its documented default; [NewBreaker] rejects negative durations and
// counts and out-of-range ratios with an error that names the field.
type BreakerOptions struct {
	// Name identifies the breaker in events, errors and health checks. Empty means
	// "breaker".
	Name string
	// Mode chooses how the breaker trips. The zero value is TripFailureRatio.
	Mode TripMode
	// FailureRatio is the failed share that trips a TripFailureRatio breaker, in
	// (0, 1]: the breaker opens when failures/calls >= FailureRatio. Zero means 0.5.
	FailureRatio float64
	// MinThroughput is the number of calls in the window below which a
	// TripFailureRatio breaker does not trip. Zero means 10.
	MinThroughput int
	// SamplingWindow is how far back a TripFailureRatio breaker counts. The window
	// slides in tenths: an outcome is forgotten between 0.9×SamplingWindow and
	// SamplingWindow after it was recorded. Zero means 30s; otherwise it must be at
	// least 10ms.
	SamplingWindow time.Duration
	// ConsecutiveFailures trips a TripConsecutiveFailures breaker. Zero means 5.
	ConsecutiveFailures int
	// BreakDuration is how long the breaker stays open after tripping. Zero means 5s.
	BreakDuration time.Duration
	// BreakGrowth multiplies the break duration at each trip that follows a failed
	// probe, up to MaxBreakDuration; the duration goes back to BreakDuration when the
	// breaker closes. Zero or 1 keeps it constant; otherwise it must be at least 1.
	BreakGrowth float64
	// MaxBreakDuration caps a growing break duration. Zero means 10×BreakDuration;
	// otherwise it must be at least BreakDuration.
	MaxBreakDuration time.Duration
	// HalfOpenProbes is how many probe calls a half-open breaker admits; all must
	// succeed to close it, and any failure opens it again. A probe whose outcome is
	// not counted (see ShouldHandle) gives its slot back. Zero means 1.
	HalfOpenProbes int
	// ShouldHandle decides whether an outcome is a failure. Outcomes it does not
	// count as failures count as successes, except that cancellation
	// ([context.Canceled], or [context.DeadlineExceeded] while the caller's own
	// context is done) and the rejections of other policies ([ErrBulkheadFull],
	// [ErrRateLimited], [ErrBreakerOpen]) are not counted at all. Nil counts every
	// other error as a failure. A [*TimeoutError] from an inner [Timeout] policy is
	// never taken for cancellation: by default it is a failure.
	ShouldHandle func(Outcome) bool
	// OnStateChange is called after every state change, outside any lock, in the
	// order of the changes. It may call any method of the breaker. A change is
	// reported by the goroutine that made it, or by one already reporting earlier
	// changes, so a call may return before its change has been reported.
	OnStateChange func(BreakerStateChange)
	// Observer receives the breaker's state changes (EventBreakerStateChange, with
	// an empty Pipeline since a breaker may be shared), and the rejections of
	// [Breaker.Allow] (EventRejected). Rejections inside a pipeline go to the
	// pipeline's observer instead, so that each is reported once. Nil reports nothing.
	Observer Observer
}

// normalize replaces zero fields by their defaults and checks the others. It returns
// every problem, each naming its field.
func (o *BreakerOptions) normalize() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("resilience: BreakerOptions.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if o.Name == "" {
		o.Name = "breaker"
	}
	if o.Mode != TripFailureRatio && o.Mode != TripConsecutiveFailures {
		bad("Mode", "must be TripFailureRatio or TripConsecutiveFailures, got %d", o.Mode)
	}
	switch r := o.FailureRatio; {
	case r == 0:
		o.FailureRatio = defaultFailureRatio
	case !(r > 0 && r <= 1): // also NaN
		bad("FailureRatio", "must be in (0, 1], got %v", r)
	}
	switch n := o.MinThroughput; {
	case n == 0:
		o.MinThroughput = defaultMinThroughput
	case n < 0:
		bad("MinThroughput", "must not be negative, got %d", n)
	}
	switch d := o.SamplingWindow; {
	case d == 0:
		o.SamplingWindow = defaultSamplingWindow
	case d < 0:
		bad("SamplingWindow", "must not be negative, got %s", d)
	case d < minSamplingWindow:
		bad("SamplingWindow", "must be at least %s, got %s", minSamplingWindow, d)
	}
	switch n := o.ConsecutiveFailures; {
	case n == 0:
		o.ConsecutiveFailures = defaultConsecutiveFailures
	case n < 0:
		bad("ConsecutiveFailures", "must not be negative, got %d", n)
	}
	switch d := o.BreakDuration; {
	case d == 0:
		o.BreakDuration = defaultBreakDuration
	case d < 0:
		bad("BreakDuration", "must not be negative, got %s", d)
	}
	switch g := o.BreakGrowth; {
	case g == 0:
		o.BreakGrowth = 1
	case math.IsInf(g, 0):
		bad("BreakGrowth", "must be finite, got %v", g)
	case !(g >= 1): // also NaN
		bad("BreakGrowth", "must be at least 1, got %v", g)
	}
	switch d := o.MaxBreakDuration; {
	case d == 0:
		o.MaxBreakDuration = o.BreakDuration * 10
		if o.BreakDuration > math.MaxInt64/10 {
			o.MaxBreakDuration = math.MaxInt64
		}
	case d < 0:
		bad("MaxBreakDuration", "must not be negative, got %s", d)
	case o.BreakDuration > 0 && d < o.BreakDuration:
		bad("MaxBreakDuration", "must be at least BreakDuration (%s), got %s", o.BreakDuration, d)
	}
	switch n := o.HalfOpenProbes; {
	case n == 0:
		o.HalfOpenProbes = defaultHalfOpenProbes
	case n < 0:
		bad("HalfOpenProbes", "must not be negative, got %d", n)
	case n > math.MaxInt32:
		bad("HalfOpenProbes", "must be at most %d, got %d", math.MaxInt32, n)
	}
	return errors.Join(errs...)
}

// BreakerStateChange describes one transition of a breaker, as passed to
// [BreakerOptions.OnStateChange].
type BreakerStateChange struct {
	Breaker  string       // the breaker's name
	From, To BreakerState // the states before and after
	At       time.Time    // when the change was decided
	Reason   string       // e.g. "failure ratio 0.60 over 12 calls", "probes succeeded", "isolated"
}

// BreakerSnapshot is a read-only view of a breaker at one moment. Its zero value
// describes a closed breaker with no counts.
type BreakerSnapshot struct {
	Name  string       // the breaker's name
	State BreakerState // as in [Breaker.State]
	// Successes and Failures are the outcomes in the current sampling window of a
	// TripFailureRatio breaker (zero in TripConsecutiveFailures mode). They are kept
	// while the breaker is open and forgotten when it closes or is reset.
	Successes, Failures int
	ConsecutiveFailures int       // failures in a row while closed
	Trips               int       // times opened since creation, by a trip or a failed probe
	OpenedAt            time.Time // when it last opened; zero if never
	// HalfOpensAt is when an open breaker admits probes; zero in other states. It
	// may be in the past: the breaker half-opens at the first call after it.
	HalfOpensAt time.Time
}

// Breaker is a circuit breaker: it stops calling something that keeps failing, so
// that it can recover, and probes it again after a break. It is a [Policy]; outside a
// pipeline, [Breaker.Allow] and [BreakerPermit] guard any call (one breaker per host
// in an HTTP transport, say).
//
// A closed breaker counts failures either as a ratio over a sliding window
// (TripFailureRatio) or in a row (TripConsecutiveFailures), and opens when they reach
// the threshold. An open breaker rejects calls with a [*BreakerOpenError] until its
// break duration has passed; the first call after that moves it to half-open and is a
// probe. A half-open breaker admits HalfOpenProbes probes: when all of them succeed
// it closes, when one fails it opens again, for a break that grows by BreakGrowth.
// [Breaker.Isolate] and [Breaker.Reset] override the state by hand.
//
// A Breaker is safe for concurrent use and is meant to be shared. Admitting a call
// and recording its success take no lock and allocate nothing, and so does the
// rejection by an open breaker; the lock is taken on failures that may trip it, in
// half-open, and for state changes. State-change listeners run after the lock is
// released. Build a Breaker with [NewBreaker]; the zero value is not usable.
type Breaker struct {
	// Read by every call; written only when the state changes.
	cur    atomic.Pointer[period] // the current state, one immutable value per period
	name   string
	opts   BreakerOptions // normalised
	ratio  bool           // opts.Mode == TripFailureRatio
	probes int32          // opts.HalfOpenProbes
	listen bool           // someone listens to state changes
	start  time.Time      // epoch 0 of the sampling window
	width  time.Duration  // one bucket of the window

	_      [64]byte     // keep the counters below off the line read by every call
	consec atomic.Int64 // failures in a row while closed
	_      [56]byte
	win    window // ratio mode only

	mu         sync.Mutex
	breakDur   time.Duration // length of the next open period
	trips      int
	openedAt   time.Time
	pending    []transition // state changes not yet reported, oldest first
	spare      []transition // a reporting buffer kept for reuse
	delivering bool         // a goroutine is reporting pending changes
}

// period is one stretch of time in one state. It is immutable once published, except
// for the half-open probe counters; the pointer itself tells periods apart, so that
// a permit of an earlier period does not count in a later one.
type period struct {
	state       BreakerState
	openedAt    time.Time     // StateOpen: when it opened
	halfOpensAt time.Time     // StateOpen: when the break ends
	halfOpensIn time.Duration // StateOpen: halfOpensAt as time since Breaker.start
	step        time.Duration // StateOpen: the resolution of RetryIn, a tenth of the break
	// errs are the rejections of this period, built when it began so that rejecting
	// allocates nothing: for StateOpen, errs[k] has RetryIn (k+1)×step (the last one
	// the whole break), and a rejection returns the smallest that is not shorter
	// than the time left; for StateHalfOpen and StateIsolated, one error.
	errs      []BreakerOpenError
	probes    atomic.Int32 // StateHalfOpen: probe slots taken (in flight or succeeded)
	succeeded int          // StateHalfOpen: probes that succeeded; guarded by Breaker.mu
}

// rejection returns the error for a call rejected with remaining time left before
// the breaker half-opens (ignored outside StateOpen).
func (p *period) rejection(remaining time.Duration) *BreakerOpenError {
	k := len(p.errs) - 1
	if p.step > 0 {
		if q := (remaining - 1) / p.step; q < time.Duration(k) {
			k = int(max(q, 0))
		}
	}
	return &p.errs[k]
}

// transition is a state change waiting to be reported.
type transition struct {
	// ctx is the context of the call that caused the change, handed to the Observer
	// so that the event joins that call's trace; it is dropped once reported.
	ctx      context.Context
	from, to BreakerState
	at       time.Time
	reason   string
}

// NewBreaker returns a closed circuit breaker, or an error naming each option that
// is invalid.
func NewBreaker(opts BreakerOptions) (*Breaker, error) {
	return newBreaker(opts, time.Now())
}

func newBreaker(opts BreakerOptions, now time.Time) (*Breaker, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	b := &Breaker{
		name:     opts.Name,
		opts:     opts,
		ratio:    opts.Mode == TripFailureRatio,
		probes:   int32(opts.HalfOpenProbes),
		listen:   opts.OnStateChange != nil || opts.Observer != nil,
		start:    now,
		width:    opts.SamplingWindow / windowBuckets,
		breakDur: opts.BreakDuration,
	}
	b.cur.Store(&period{state: StateClosed})
	return b, nil
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }
func (*Breaker) policy()        {}

// BreakerPermit is the admission of one call by [Breaker.Allow]. Report the call's
// outcome exactly once, with [BreakerPermit.Done], [BreakerPermit.Record] or
// [BreakerPermit.Ignore]: a half-open breaker keeps a probe slot for each permit
// until then, and rejects everything while all its slots are taken. A permit is a
// small value; copy it freely, but report it once, from any goroutine. The zero
// value records nothing.
type BreakerPermit struct {
	b *Breaker
	p *period // the period that admitted the call
}

// Allow asks the breaker to admit one call. On success the caller must report the
// call's outcome on the permit exactly once. When the breaker rejects the call the
// error is a [*BreakerOpenError] matching [ErrBreakerOpen]. So that rejecting
// allocates nothing, the error is shared by the calls rejected in the same period and
// must not be modified, and its RetryIn is rounded up to a tenth of the break
// duration (it is 0 when the breaker is half-open with every probe slot taken, or
// isolated). An open breaker whose break has passed moves to half-open here, and
// admits the call as a probe.
//
// Allow takes no lock and allocates nothing, except when it moves an open breaker
// to half-open.
func (b *Breaker) Allow() (BreakerPermit, error) {
	permit, ok, err := b.fastAllow()
	if !ok {
		permit, err = b.allow(context.Background(), time.Now())
	}
	if err != nil && b.opts.Observer != nil {
		b.opts.Observer.Observe(context.Background(), Event{Kind: EventRejected, Policy: b.name, Err: err})
	}
	return permit, err
}

// admit is Allow for a pipeline: it reports state changes with ctx and leaves the
// rejection event to the pipeline.
func (b *Breaker) admit(ctx context.Context) (BreakerPermit, error) {
	if permit, ok, err := b.fastAllow(); ok {
		return permit, err
	}
	return b.allow(ctx, time.Now())
}

// fastAllow decides every case but one without a lock and without reading the
// wall clock: only an open breaker whose break is over leaves the decision to the
// slow path, [Breaker.allow], with ok false. An open breaker reads the monotonic
// clock ([time.Since] costs about half of [time.Now]); the other states need none.
func (b *Breaker) fastAllow() (permit BreakerPermit, ok bool, err error) {
	p := b.cur.Load()
	switch p.state {
	case StateClosed:
		return BreakerPermit{b: b, p: p}, true, nil
	case StateOpen:
		remaining := p.halfOpensIn - time.Since(b.start)
		if remaining <= 0 {
			return BreakerPermit{}, false, nil
		}
		return BreakerPermit{}, true, p.rejection(remaining)
	}
	permit, err = b.admitIn(p)
	return permit, true, err
}

// allow admits or rejects a call at now, moving an open breaker whose break has
// passed to half-open.
func (b *Breaker) allow(ctx context.Context, now time.Time) (BreakerPermit, error) {
	for {
		p := b.cur.Load()
		if p.state != StateOpen {
			return b.admitIn(p)
		}
		if remaining := p.halfOpensAt.Sub(now); remaining > 0 {
			return BreakerPermit{}, p.rejection(remaining)
		}
		b.mu.Lock()
		if b.cur.Load() != p { // someone else moved it on: look again
			b.mu.Unlock()
			continue
		}
		h := b.halfOpenPeriod()
		h.probes.Store(1) // this call is the first probe
		b.setLocked(ctx, h, now, "break elapsed")
		b.mu.Unlock()
		b.notify()
		return BreakerPermit{b: b, p: h}, nil
	}
}

// admitIn admits or rejects a call in period p, which is not open.
func (b *Breaker) admitIn(p *period) (BreakerPermit, error) {
	switch p.state {
	case StateClosed:
		return BreakerPermit{b: b, p: p}, nil
	case StateHalfOpen:
		for {
			n := p.probes.Load()
			if n >= b.probes {
				break
			}
			if p.probes.CompareAndSwap(n, n+1) {
				return BreakerPermit{b: b, p: p}, nil
			}
		}
	}
	return BreakerPermit{}, &p.errs[0] // half-open with every slot taken, or isolated
}

// Done records the outcome of the admitted call: failed or succeeded. A call whose
// outcome should not count (the caller gave up) is reported with
// [BreakerPermit.Ignore] instead, or classified by [BreakerPermit.Record]. Done on
// the zero permit does nothing. A success of a closed breaker takes no lock and
// allocates nothing.
func (p BreakerPermit) Done(failed bool) {
	v := verdictSuccess
	if failed {
		v = verdictFailure
	}
	p.finish(context.Background(), v)
}

// Ignore reports that the admitted call's outcome does not count, neither as a
// success nor as a failure; a half-open breaker gets the probe slot back.
func (p BreakerPermit) Ignore() { p.finish(context.Background(), verdictIgnored) }

// Record reports the outcome o of the admitted call, classified as in a pipeline (see
// [BreakerOptions.ShouldHandle]): a failure, a success, or not counted at all. ctx is
// the call's context, which tells a caller's own deadline from a slow callee; it is
// also handed to the Observer with any state change.
func (p BreakerPermit) Record(ctx context.Context, o Outcome) {
	if p.b == nil {
		return
	}
	p.finish(ctx, p.b.judgeOutcome(ctx, o))
}

// finish records v. A success or an ignored outcome of a closed breaker, the hot
// path, takes no lock and reads at most the monotonic clock, for the window (the same
// as [Breaker.done] does with now); everything else goes to done.
func (p BreakerPermit) finish(ctx context.Context, v verdict) {
	b := p.b
	if b == nil {
		return
	}
	if p.p.state == StateClosed && v != verdictFailure {
		if v == verdictSuccess && b.cur.Load() == p.p {
			if b.consec.Load() != 0 { // write the shared line only when needed
				b.consec.Store(0)
			}
			if b.ratio {
				b.win.add(b.epochAt(time.Since(b.start)), false)
			}
		}
		return
	}
	b.done(ctx, time.Now(), p.p, v)
}

// done records verdict v, at now, of a call admitted in period p. Keep its closed
// success in step with the hot path in [BreakerPermit.finish].
func (b *Breaker) done(ctx context.Context, now time.Time, p *period, v verdict) {
	switch p.state {
	case StateClosed:
		if v == verdictIgnored || b.cur.Load() != p {
			return // not counted, or admitted before the latest state change
		}
		if v == verdictSuccess {
			if b.consec.Load() != 0 { // write the shared line only when needed
				b.consec.Store(0)
			}
			if b.ratio {
				b.win.add(b.epoch(now), false)
			}
			return
		}
		n := b.consec.Add(1)
		if b.ratio {
			e := b.epoch(now)
			b.win.add(e, true)
			if ok, failed := b.win.sum(e); !b.ratioTrips(ok, failed) {
				return
			}
		} else if n < int64(b.opts.ConsecutiveFailures) {
			return
		}
		b.mu.Lock()
		if b.cur.Load() != p { // tripped or reset meanwhile
			b.mu.Unlock()
			return
		}
		var reason string
		if b.ratio {
			ok, failed := b.win.sum(b.epoch(now))
			if !b.ratioTrips(ok, failed) {
				b.mu.Unlock()
				return
			}
			reason = fmt.Sprintf("failure ratio %.2f over %d calls", float64(failed)/float64(ok+failed), ok+failed)
		} else {
			reason = fmt.Sprintf("%d consecutive failures", b.consec.Load())
		}
		b.openLocked(ctx, now, reason)
		b.mu.Unlock()
		b.notify()
	case StateHalfOpen:
		if v == verdictIgnored {
			p.probes.Add(-1) // give the slot back
			return
		}
		b.mu.Lock()
		if b.cur.Load() != p {
			b.mu.Unlock()
			return
		}
		if v == verdictFailure {
			b.breakDur = b.grownBreak()
			b.openLocked(ctx, now, "probe failed")
		} else if p.succeeded++; p.succeeded >= int(b.probes) {
			b.closeLocked(ctx, now, "probes succeeded")
		}
		b.mu.Unlock()
		b.notify()
	}
	// Permits of other states are never handed out.
}

// ratioTrips reports whether ok successes and failed failures in the window trip a
// ratio breaker.
func (b *Breaker) ratioTrips(ok, failed int) bool {
	total := ok + failed
	return failed > 0 && total >= b.opts.MinThroughput &&
		float64(failed)/float64(total) >= b.opts.FailureRatio
}

// grownBreak returns the break duration after a failed probe. b.mu is held.
func (b *Breaker) grownBreak() time.Duration {
	g := float64(b.breakDur) * b.opts.BreakGrowth
	if g >= float64(b.opts.MaxBreakDuration) {
		return b.opts.MaxBreakDuration
	}
	return time.Duration(g)
}

// openLocked opens the breaker at now for b.breakDur. b.mu is held.
func (b *Breaker) openLocked(ctx context.Context, now time.Time, reason string) {
	d := b.breakDur
	p := &period{
		state:       StateOpen,
		openedAt:    now,
		halfOpensAt: now.Add(d),
		halfOpensIn: now.Add(d).Sub(b.start),
		step:        d / retryInSteps,
		errs:        make([]BreakerOpenError, retryInSteps),
	}
	for k := range p.errs {
		p.errs[k] = BreakerOpenError{Breaker: b.name, State: StateOpen, RetryIn: time.Duration(k+1) * p.step}
	}
	p.errs[retryInSteps-1].RetryIn = d
	b.trips++
	b.openedAt = now
	b.setLocked(ctx, p, now, reason)
}

// closeLocked closes the breaker at now with fresh counts. b.mu is held.
func (b *Breaker) closeLocked(ctx context.Context, now time.Time, reason string) {
	// Forget the counts before publishing the closed period, so that its calls
	// start from a clean window.
	b.win.reset(b.epoch(now))
	b.consec.Store(0)
	b.breakDur = b.opts.BreakDuration
	b.setLocked(ctx, &period{state: StateClosed}, now, reason)
}

// halfOpenPeriod returns a new half-open period with no probe taken.
func (b *Breaker) halfOpenPeriod() *period {
	return &period{state: StateHalfOpen, errs: []BreakerOpenError{{Breaker: b.name, State: StateHalfOpen}}}
}

// setLocked makes next the current period and queues the change for the listeners.
// b.mu is held; call b.notify after releasing it.
func (b *Breaker) setLocked(ctx context.Context, next *period, now time.Time, reason string) {
	from := b.cur.Load().state
	b.cur.Store(next)
	if b.listen && from != next.state {
		b.pending = append(b.pending, transition{ctx: ctx, from: from, to: next.state, at: now, reason: reason})
	}
}

// notify reports the pending state changes, in order and outside the lock. If
// another goroutine is already reporting, it reports these too, so that listeners
// see the changes one at a time and in the order they happened, and a listener that
// changes the state does not deadlock.
func (b *Breaker) notify() {
	if !b.listen {
		return
	}
	b.mu.Lock()
	if b.delivering || len(b.pending) == 0 {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	locked := true
	defer func() { // also when a listener panics, so that later changes are reported
		if !locked {
			b.mu.Lock()
		}
		b.delivering = false
		b.mu.Unlock()
	}()
	for len(b.pending) > 0 {
		batch := b.pending
		b.pending, b.spare = b.spare[:0], nil
		b.mu.Unlock()
		locked = false
		for i := range batch {
			b.report(batch[i])
			batch[i] = transition{} // drop the context
		}
		b.mu.Lock()
		locked = true
		b.spare = batch[:0]
	}
}

// report calls the listeners with one state change.
func (b *Breaker) report(t transition) {
	if f := b.opts.OnStateChange; f != nil {
		f(BreakerStateChange{Breaker: b.name, From: t.from, To: t.to, At: t.at, Reason: t.reason})
	}
	if o := b.opts.Observer; o != nil {
		o.Observe(t.ctx, Event{Kind: EventBreakerStateChange, Policy: b.name, From: t.from, To: t.to})
	}
}

// verdict is how a breaker counts an outcome.
type verdict uint8

const (
	verdictSuccess verdict = iota
	verdictFailure
	verdictIgnored // not counted
)

// Failed reports whether o counts as a failure for this breaker: the verdict of
// ShouldHandle if set, otherwise whether o.Err is an error other than cancellation
// and the rejections of other policies (see [BreakerOptions.ShouldHandle]). Without
// the call's context Failed cannot tell the caller's own deadline from a slow
// callee, so it counts [context.DeadlineExceeded] as a failure; use
// [BreakerPermit.Record] to classify with the context.
func (b *Breaker) Failed(o Outcome) bool {
	return b.judgeOutcome(context.Background(), o) == verdictFailure
}

// judgeOutcome classifies o of a call made with ctx.
func (b *Breaker) judgeOutcome(ctx context.Context, o Outcome) verdict {
	h := b.opts.ShouldHandle
	return judge(ctx, o.Err, h != nil, h != nil && h(o))
}

// judge classifies an outcome with error err of a call made with ctx; custom says
// whether ShouldHandle is set, and handled what it returned.
func judge(ctx context.Context, err error, custom, handled bool) verdict {
	switch {
	case custom && handled:
		return verdictFailure
	case err == nil:
		return verdictSuccess
	case notCounted(ctx, err):
		return verdictIgnored
	case custom:
		return verdictSuccess
	}
	return verdictFailure
}

// notCounted reports whether err, of a call made with ctx, is cancellation or another
// policy's rejection, which says nothing about the health of what was called. A
// *TimeoutError of an inner Timeout policy does say something: it counts.
func notCounted(ctx context.Context, err error) bool {
	switch {
	case isTimeoutError(err):
		return false
	case errors.Is(err, context.Canceled):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return ctx.Err() != nil // the caller's own deadline, not a slow callee
	}
	return errors.Is(err, ErrBreakerOpen) || errors.Is(err, ErrBulkheadFull) || errors.Is(err, ErrRateLimited)
}

// isTimeoutError reports whether err's chain holds a *TimeoutError. It walks the chain
// itself because errors.As would allocate its target.
func isTimeoutError(err error) bool {
	for err != nil {
		switch e := err.(type) {
		case *TimeoutError:
			return true
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				if isTimeoutError(err) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// Isolate opens the breaker until [Breaker.Reset], whatever the calls do: every call
// is rejected with a [*BreakerOpenError] in StateIsolated, and the outcomes of calls
// admitted before are not counted. Isolating an isolated breaker does nothing.
func (b *Breaker) Isolate() { b.isolate(context.Background(), time.Now()) }

func (b *Breaker) isolate(ctx context.Context, now time.Time) {
	b.mu.Lock()
	if b.cur.Load().state == StateIsolated {
		b.mu.Unlock()
		return
	}
	p := &period{state: StateIsolated, errs: []BreakerOpenError{{Breaker: b.name, State: StateIsolated}}}
	b.setLocked(ctx, p, now, "isolated")
	b.mu.Unlock()
	b.notify()
}

// Reset closes the breaker, whatever its state, and forgets its counts (but not
// Trips); the break duration goes back to BreakDuration. The outcomes of calls
// admitted before are not counted.
func (b *Breaker) Reset() { b.reset(context.Background(), time.Now()) }

func (b *Breaker) reset(ctx context.Context, now time.Time) {
	b.mu.Lock()
	b.closeLocked(ctx, now, "reset")
	b.mu.Unlock()
	b.notify()
}

// State returns the current state, without taking a lock. An open breaker whose
// break has passed reports StateOpen until the next call moves it to half-open.
func (b *Breaker) State() BreakerState { return b.cur.Load().state }

// Snapshot returns a view of the breaker's state and counts. State, Trips and the
// times are consistent with one another; the counts are read at the same moment,
// without stopping calls that record theirs meanwhile.
func (b *Breaker) Snapshot() BreakerSnapshot { return b.snapshot(time.Now()) }

func (b *Breaker) snapshot(now time.Time) BreakerSnapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.cur.Load()
	s := BreakerSnapshot{
		Name:                b.name,
		State:               p.state,
		ConsecutiveFailures: int(b.consec.Load()),
		Trips:               b.trips,
		OpenedAt:            b.openedAt,
	}
	if b.ratio {
		s.Successes, s.Failures = b.win.sum(b.epoch(now))
	}
	if p.state == StateOpen {
		s.HalfOpensAt = p.halfOpensAt
	}
	return s
}

// epoch returns the number of the window bucket that holds now (modulo 2³²).
func (b *Breaker) epoch(now time.Time) uint32 { return b.epochAt(now.Sub(b.start)) }

// epochAt returns the number of the window bucket that holds the moment d after the
// breaker was created (modulo 2³²).
func (b *Breaker) epochAt(d time.Duration) uint32 {
	if d < 0 {
		d = 0
	}
	return uint32(d / b.width)
}

const (
	// windowBuckets is the number of buckets of the sliding window.
	windowBuckets = 10
	// retryInSteps is the resolution of BreakerOpenError.RetryIn: a tenth of the break.
	retryInSteps = 10
	// staleEpochs bounds how far a late writer may lag behind a bucket before its
	// outcome is taken for a fresh one after the epoch counter wrapped.
	staleEpochs = 1 << 20
)

// window counts the successes and failures of a ratio breaker over the last
// windowBuckets buckets without a lock. Each counter is one word, epoch<<32 | count,
// so that moving a bucket to a new epoch and counting in it are one atomic step: a
// writer that finds an older epoch starts the bucket afresh with a compare-and-swap,
// one that finds its own epoch adds one. Epochs are bucket numbers since the breaker
// was created, modulo 2³²; the window holds the current epoch and the nine before it.
type window struct {
	buckets [windowBuckets]struct{ ok, failed atomic.Uint64 }
}

// add counts one outcome in epoch e.
func (w *window) add(e uint32, failed bool) {
	c := &w.buckets[e%windowBuckets].ok
	if failed {
		c = &w.buckets[e%windowBuckets].failed
	}
	for {
		old := c.Load()
		have := uint32(old >> 32)
		if have == e {
			if uint32(old) != math.MaxUint32 { // saturate rather than spill into the epoch
				c.Add(1)
			}
			return
		}
		if have-e < staleEpochs {
			return // the bucket moved on while this outcome was on its way: too old to count
		}
		if c.CompareAndSwap(old, uint64(e)<<32|1) {
			return
		}
	}
}

// sum returns the counts of the window that ends with epoch e.
func (w *window) sum(e uint32) (ok, failed int) {
	for i := range w.buckets {
		bk := &w.buckets[i]
		if v := bk.ok.Load(); e-uint32(v>>32) < windowBuckets {
			ok += int(uint32(v))
		}
		if v := bk.failed.Load(); e-uint32(v>>32) < windowBuckets {
			failed += int(uint32(v))
		}
	}
	return ok, failed
}

// reset empties the window at epoch e: every bucket is marked as older than the
// window, so that it counts nothing and the next writer starts it afresh.
func (w *window) reset(e uint32) {
	old := uint64(e-windowBuckets) << 32
	for i := range w.buckets {
		w.buckets[i].ok.Store(old)
		w.buckets[i].failed.Store(old)
	}
}

// runBreaker runs the rest of the pipeline through breaker b.
func runBreaker[T any](ctx context.Context, b *Breaker, c chain[T], i int) (T, error) {
	permit, err := b.admit(ctx)
	if err != nil {
		if c.observed() {
			c.emit(ctx, b, Event{Kind: EventRejected, Err: err})
		}
		var zero T
		return zero, err
	}
	reported := false
	defer func() {
		if !reported { // the call panicked: give a probe slot back, count nothing
			permit.Ignore()
		}
	}()
	v, err := c.next(ctx, i)
	var vd verdict
	if h := b.opts.ShouldHandle; h != nil {
		vd = judge(ctx, err, true, h(outcomeOf(v, err, 0)))
	} else {
		vd = judge(ctx, err, false, false)
	}
	reported = true
	permit.finish(ctx, vd)
	return v, err
}
