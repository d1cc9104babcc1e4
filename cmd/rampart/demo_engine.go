package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-go/rampart/internal/sim"
	"github.com/rampart-go/rampart/resilience"
)

// The demo's pipeline, fixed so that the demo tells one story; see policyLegend.
const (
	demoTotalTimeout   = time.Second
	demoAttemptTimeout = 250 * time.Millisecond
	demoMaxAttempts    = 3
	demoBackoffBase    = 50 * time.Millisecond
	demoBackoffMax     = 400 * time.Millisecond
	demoMaxRetryAfter  = 200 * time.Millisecond
	demoBreakerRatio   = 0.5
	demoBreakerWindow  = 2 * time.Second
	demoBreakDuration  = time.Second
	demoCacheMaxAge    = 6 * time.Second
	demoSlot           = 250 * time.Millisecond // one mark of the breaker's timeline

	attemptTimeoutName = "attempt-timeout"
	totalTimeoutName   = "total-timeout"
)

// errNoFreshCache is the fallback's error when it has nothing to answer with.
var errNoFreshCache = errors.New("no cached answer fresh enough")

// statusError is an upstream's answer that is not a success.
type statusError struct{ status int }

func (e *statusError) Error() string {
	return fmt.Sprintf("upstream answered %d %s", e.status, http.StatusText(e.status))
}

// answer is what a call returns: the upstream's body, or the cache's.
type answer struct {
	body      string
	fromCache bool
}

type cachedAnswer struct {
	body string
	at   time.Time
}

// tally holds the demo's counters. Calls are counted by how they ended; attempts
// (tries that reached the HTTP client) by what the upstream did; events by kind, as
// the pipeline's observer saw them.
type tally struct {
	// calls
	made, firstTry, recovered, fallback, failed, failedNoCache, skipped atomic.Int64
	fallbackOpen                                                        atomic.Int64 // fallbacks served because the breaker was open
	maxCall                                                             atomic.Int64 // the slowest call, in nanoseconds
	// attempts
	attempts, attOK, att5xx, att429, attConn, attSlow, attOther atomic.Int64
	// events
	evRetry, evRetryAfter, evExhausted, evRejected, evAttemptTimeout, evTotalTimeout, evFallback, evStateChange, evTrips atomic.Int64
}

// demo is one run of the demo.
type demo struct {
	opts     demoOptions
	upstream *sim.Server
	url      string
	client   *http.Client
	pipeline *resilience.Pipeline
	breaker  *resilience.Breaker
	cache    atomic.Pointer[cachedAnswer]
	start    time.Time
	t        tally
	tl       timeline
}

// demoReport is what runDemo measured.
type demoReport struct {
	Elapsed     time.Duration // how long calls were made
	Interrupted bool          // stopped early by ctx

	Made, FirstTry, Recovered, Fallback, Failed, Skipped int64
	Attempts                                             int64
	Retries, Rejected, AttemptTimeouts, TotalTimeouts    int64
	Fallbacks, Trips                                     int64

	Upstream sim.Stats
	Timeline []resilience.BreakerState // one per demoSlot
}

// Succeeded is the number of calls the upstream answered, at once or after retries.
func (r *demoReport) Succeeded() int64 { return r.FirstTry + r.Recovered }

// runDemo runs the demo until o.duration has passed or ctx is done, writing the
// display and the summary to o.out. Calls under way when it stops are finished
// (each is bounded by the total timeout), not abandoned.
func runDemo(ctx context.Context, o demoOptions) (*demoReport, error) {
	d := &demo{opts: o}
	if err := d.build(); err != nil {
		return nil, err
	}
	tr := d.client.Transport.(*http.Transport)
	defer tr.CloseIdleConnections()

	up, err := sim.New(o.upstream)
	if err != nil {
		return nil, err
	}
	if err := up.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	d.upstream, d.url = up, up.URL()+"/quote"
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return up.Shutdown(sctx)
	}
	defer func() { _ = shutdown() }() // on early returns; a second Shutdown does nothing

	v := newView(d)
	v.intro()
	defer v.close()

	// Calls run to their end even when ctx is done: the total timeout bounds them.
	callCtx := context.WithoutCancel(ctx)
	slots := make(chan struct{}, o.maxInFlight)
	var wg sync.WaitGroup
	d.start = time.Now()
	calls := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	frames := time.NewTicker(demoSlot)
	end := time.NewTimer(o.duration)
	defer frames.Stop()

	interrupted := false
loop:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case <-end.C:
			break loop
		case <-calls.C:
			select {
			case slots <- struct{}{}:
				d.t.made.Add(1)
				wg.Go(func() {
					defer func() { <-slots }()
					d.call(callCtx)
				})
			default:
				d.t.skipped.Add(1)
			}
		case now := <-frames.C:
			d.tl.endSlot(d.breaker.State())
			v.frame(now, false)
		}
	}
	calls.Stop()
	end.Stop()
	elapsed := time.Since(d.start)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case now := <-frames.C:
			d.tl.endSlot(d.breaker.State())
			v.frame(now, true)
		}
	}

	// Shut the upstream down first, so that its counters are final.
	tr.CloseIdleConnections()
	if err := shutdown(); err != nil {
		return nil, fmt.Errorf("demo: stopping the upstream: %w", err)
	}
	r := d.report(elapsed, interrupted)
	v.final(r)
	return r, nil
}

// build makes the HTTP client and the pipeline.
func (d *demo) build() error {
	d.client = &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConns:        d.opts.maxInFlight,
		MaxIdleConnsPerHost: d.opts.maxInFlight,
		IdleConnTimeout:     30 * time.Second,
	}}
	var errs []error
	fallback, err := resilience.NewFallback(resilience.FallbackOptions{Name: "fallback", Fallback: d.fromCache})
	errs = append(errs, err)
	total, err := resilience.NewTimeout(resilience.TimeoutOptions{Name: totalTimeoutName, Timeout: demoTotalTimeout})
	errs = append(errs, err)
	retry, err := resilience.NewRetry(resilience.RetryOptions{
		Name:        "retry",
		MaxAttempts: demoMaxAttempts,
		Backoff: resilience.Backoff{
			Kind:   resilience.BackoffExponential,
			Base:   demoBackoffBase,
			Max:    demoBackoffMax,
			Jitter: resilience.JitterFull,
		},
		ShouldRetry:  retryable,
		MaxDelayHint: demoMaxRetryAfter,
	})
	errs = append(errs, err)
	d.breaker, err = resilience.NewBreaker(resilience.BreakerOptions{
		Name:           "upstream",
		Mode:           resilience.TripFailureRatio,
		FailureRatio:   demoBreakerRatio,
		MinThroughput:  breakerMinThroughput(d.opts.rate),
		SamplingWindow: demoBreakerWindow,
		BreakDuration:  demoBreakDuration,
		HalfOpenProbes: 1,
		Observer:       resilience.ObserverFunc(d.observe), // its state changes
	})
	errs = append(errs, err)
	attempt, err := resilience.NewTimeout(resilience.TimeoutOptions{Name: attemptTimeoutName, Timeout: demoAttemptTimeout})
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	d.pipeline, err = resilience.NewPipeline(
		resilience.PipelineOptions{Name: "demo", Observer: resilience.ObserverFunc(d.observe)},
		fallback, total, retry, d.breaker, attempt)
	return err
}

// breakerMinThroughput is the number of tries in the breaker's window below which it
// does not open: about a third of the tries the window holds at the demo's rate,
// between 5 and 30. Fewer would let a few unlucky tries at the start open it; more
// would keep it shut at low rates even in an outage.
func breakerMinThroughput(rate float64) int {
	return min(30, max(5, int(rate*demoBreakerWindow.Seconds()*0.3)))
}

// retryable retries failures, but not the open breaker's refusals (trying again at
// once would only be refused again) nor cancellation.
func retryable(o resilience.Outcome) bool {
	switch err := o.Err; {
	case err == nil, resilience.IsPermanent(err), errors.Is(err, resilience.ErrBreakerOpen):
		return false
	case errors.Is(err, context.Canceled) && !errors.Is(err, resilience.ErrTimeout):
		return false
	}
	return true
}

// observe counts the policies' events by kind.
func (d *demo) observe(_ context.Context, e resilience.Event) {
	t := &d.t
	switch e.Kind {
	case resilience.EventRetry:
		t.evRetry.Add(1)
		if _, ok := errors.AsType[*resilience.RetryAfterError](e.Err); ok {
			t.evRetryAfter.Add(1)
		}
	case resilience.EventRetriesExhausted:
		t.evExhausted.Add(1)
	case resilience.EventRejected:
		t.evRejected.Add(1)
	case resilience.EventTimeout:
		if e.Policy == attemptTimeoutName {
			t.evAttemptTimeout.Add(1)
		} else {
			t.evTotalTimeout.Add(1)
		}
	case resilience.EventFallback:
		t.evFallback.Add(1)
	case resilience.EventBreakerStateChange:
		t.evStateChange.Add(1)
		if e.To == resilience.StateOpen {
			t.evTrips.Add(1)
		}
		d.tl.saw(time.Since(d.start), e.From, e.To)
	}
}

// call makes one call through the pipeline and counts how it ended.
func (d *demo) call(ctx context.Context) {
	begin := time.Now()
	attempts := 0 // the function runs on this goroutine, one attempt after another
	ans, err := resilience.Do(ctx, d.pipeline, func(ctx context.Context) (answer, error) {
		attempts++
		return d.fetch(ctx)
	})
	took := int64(time.Since(begin))
	for cur := d.t.maxCall.Load(); took > cur && !d.t.maxCall.CompareAndSwap(cur, took); cur = d.t.maxCall.Load() {
	}
	switch {
	case err != nil:
		d.t.failed.Add(1)
		if errors.Is(err, errNoFreshCache) {
			d.t.failedNoCache.Add(1)
		}
	case ans.fromCache:
		d.t.fallback.Add(1)
	case attempts > 1:
		d.t.recovered.Add(1)
	default:
		d.t.firstTry.Add(1)
	}
}

// fetch is one try: GET the upstream with plain net/http. A 5xx or 429 answer is an
// error, carrying the Retry-After hint when there is one, so that the retry honours
// it; other non-2xx answers are permanent errors.
func (d *demo) fetch(ctx context.Context) (answer, error) {
	d.t.attempts.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return answer{}, resilience.Permanent(err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.countTransportError(ctx)
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		d.countTransportError(ctx)
		return answer{}, err
	}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		d.t.attOK.Add(1)
		d.cache.Store(&cachedAnswer{body: string(body), at: time.Now()})
		return answer{body: string(body)}, nil
	case code == http.StatusTooManyRequests:
		d.t.att429.Add(1)
	case code >= 500:
		d.t.att5xx.Add(1)
	default:
		d.t.attOther.Add(1)
		return answer{}, resilience.Permanent(&statusError{code})
	}
	var serr error = &statusError{code}
	if after, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		serr = &resilience.RetryAfterError{Err: serr, After: after}
	}
	return answer{}, serr
}

// countTransportError counts a try that got no answer: cut off by a timeout, or a
// connection error (a reset).
func (d *demo) countTransportError(ctx context.Context) {
	if ctx.Err() != nil {
		d.t.attSlow.Add(1)
	} else {
		d.t.attConn.Add(1)
	}
}

// fromCache is the fallback: the last good answer, if it is fresh enough.
func (d *demo) fromCache(_ context.Context, o resilience.Outcome) (any, error) {
	c := d.cache.Load()
	if c == nil || time.Since(c.at) > demoCacheMaxAge {
		return nil, fmt.Errorf("%w: %w", errNoFreshCache, o.Err)
	}
	if errors.Is(o.Err, resilience.ErrBreakerOpen) {
		d.t.fallbackOpen.Add(1)
	}
	return answer{body: c.body, fromCache: true}, nil
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > 24*3600 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func (d *demo) report(elapsed time.Duration, interrupted bool) *demoReport {
	t := &d.t
	return &demoReport{
		Elapsed:         elapsed,
		Interrupted:     interrupted,
		Made:            t.made.Load(),
		FirstTry:        t.firstTry.Load(),
		Recovered:       t.recovered.Load(),
		Fallback:        t.fallback.Load(),
		Failed:          t.failed.Load(),
		Skipped:         t.skipped.Load(),
		Attempts:        t.attempts.Load(),
		Retries:         t.evRetry.Load(),
		Rejected:        t.evRejected.Load(),
		AttemptTimeouts: t.evAttemptTimeout.Load(),
		TotalTimeouts:   t.evTotalTimeout.Load(),
		Fallbacks:       t.evFallback.Load(),
		Trips:           t.evTrips.Load(),
		Upstream:        d.upstream.Stats(),
		Timeline:        d.tl.all(),
	}
}

// timeline records the breaker's state, one mark per demoSlot: half-open if it
// tested the upstream during the slot, else open if it was open at any time in the
// slot, else closed.
type timeline struct {
	mu      sync.Mutex
	seen    uint32 // states entered during the current slot, as bits
	slots   []resilience.BreakerState
	changes []stateChange
}

type stateChange struct {
	at       time.Duration // since the start
	from, to resilience.BreakerState
}

func (t *timeline) saw(at time.Duration, from, to resilience.BreakerState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen |= 1 << to
	t.changes = append(t.changes, stateChange{at, from, to})
}

// endSlot closes the current slot, in which the breaker ends in state now.
func (t *timeline) endSlot(now resilience.BreakerState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := t.seen | 1<<now
	t.seen = 0
	mark := resilience.StateClosed
	switch {
	case seen&(1<<resilience.StateHalfOpen) != 0:
		mark = resilience.StateHalfOpen
	case seen&(1<<resilience.StateOpen|1<<resilience.StateIsolated) != 0:
		mark = resilience.StateOpen
	}
	t.slots = append(t.slots, mark)
}

func (t *timeline) all() []resilience.BreakerState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]resilience.BreakerState(nil), t.slots...)
}

func (t *timeline) history() []stateChange {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]stateChange(nil), t.changes...)
}
