package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [Config].
const (
	// DefaultTimeout bounds one run of a check when neither Check.Timeout nor
	// Config.Timeout is set.
	DefaultTimeout = 2 * time.Second
	// DefaultCacheFor is how long a result is reused when Config.CacheFor is zero.
	DefaultCacheFor = time.Second
)

// Config configures a [Checker]. The zero value is a Checker whose probes have no
// checks and pass (readiness until it drains), with a 2s timeout per check, results
// reused for 1s, checks listed in every response, and no logging. [New] fills in the
// defaults once and rejects negative durations, unknown Details and malformed checks
// with an error that names the field.
type Config struct {
	// Liveness lists the checks of the liveness probe. Empty (the usual choice)
	// means liveness passes whenever the process can answer HTTP. Put nothing that
	// depends on another service here: a failing liveness probe restarts the
	// process, which does not fix a database.
	Liveness []Source
	// Readiness lists the checks of the readiness probe: the dependencies without
	// which the service should not receive traffic.
	Readiness []Source
	// Startup lists the checks of the startup probe, which passes for good once each
	// of them has passed once (a migration applied, a cache warmed, a first
	// connection made). Empty means startup passes at once.
	Startup []Source

	// Timeout bounds one run of a check whose own Timeout is zero. Zero means 2s; it
	// must not be negative.
	Timeout time.Duration
	// CacheFor is how long a check's result is reused from the moment it was taken,
	// so that many probes in a short time run each check once. Zero means 1s;
	// negative means results are not reused, though requests that arrive while a
	// check runs still share that run.
	CacheFor time.Duration
	// Details chooses whether responses list the checks. The zero value,
	// DetailsAlways, lists them.
	Details Details
	// DrainDelay is how long [Checker.Shutdown] waits after readiness starts failing,
	// so that load balancers stop sending traffic before the server stops accepting
	// it. Zero means no wait; it must not be negative.
	DrainDelay time.Duration

	// ServiceID, Version, ReleaseID and Description fill the fields of the same
	// names in every [Response]. Optional.
	ServiceID, Version, ReleaseID, Description string

	// Logger receives check panics (with their stack), checks still running after
	// their timeout, and changes of a check's status. Nil logs nothing.
	Logger *slog.Logger
}

// normalize fills in defaults and returns every problem, each naming its field.
func (cfg *Config) normalize() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("health: Config.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch d := cfg.Timeout; {
	case d == 0:
		cfg.Timeout = DefaultTimeout
	case d < 0:
		bad("Timeout", "must not be negative, got %s", d)
	}
	if cfg.CacheFor == 0 {
		cfg.CacheFor = DefaultCacheFor
	}
	if cfg.DrainDelay < 0 {
		bad("DrainDelay", "must not be negative, got %s", cfg.DrainDelay)
	}
	if cfg.Details > DetailsNever {
		bad("Details", "must be DetailsAlways, DetailsOnRequest or DetailsNever, got %d", cfg.Details)
	}
	for _, list := range []struct {
		name    string
		sources []Source
	}{{"Liveness", cfg.Liveness}, {"Readiness", cfg.Readiness}, {"Startup", cfg.Startup}} {
		seen := make(map[entryKey]int)
		for i, src := range list.sources {
			field := fmt.Sprintf("%s[%d]", list.name, i)
			var chk Check
			switch s := src.(type) {
			case nil:
				bad(field, "is nil")
				continue
			case Check:
				chk = s
			case *Check:
				if s == nil {
					bad(field, "is nil")
					continue
				}
				chk = *s
			case interface{ validate() error }:
				if err := s.validate(); err != nil {
					bad(field, "%v", err)
				}
				continue
			default:
				continue // its checks are validated when they run
			}
			if err := chk.validate(); err != nil {
				bad(field, "%s: %v", chk.Key(), err)
				continue
			}
			k := entryKey{chk.Key(), chk.ComponentID}
			if j, dup := seen[k]; dup {
				bad(field, "%s: the same key and ComponentID as %s[%d]", chk.Key(), list.name, j)
			}
			seen[k] = i
		}
	}
	return errors.Join(errs...)
}

// Checker runs health checks and answers the liveness, readiness and startup
// probes, through [Checker.Handler] or [Checker.Evaluate].
//
// The checks of a probe run concurrently, each in a goroutine of the Checker with
// its own timeout and detached from the request, so that a request that goes away
// does not cancel a run other requests wait for. Results are kept per key (and
// ComponentID) for Config.CacheFor, and a check that is running is joined, not
// started again: however many probes arrive, each check runs at most once per
// CacheFor. A check that panics is a fail; a check that outlives its timeout is a
// fail at once, and is not started again until its goroutine returns.
//
// Build a Checker with [New]; the zero value is not usable. It is safe for
// concurrent use. [Checker.Close] stops it and waits for its goroutines.
type Checker struct {
	cfg      Config
	base     context.Context // parent of every run; cancelled by Close
	cancel   context.CancelFunc
	draining atomic.Bool

	mu      sync.Mutex
	entries map[entryKey]*entry
	running int           // goroutines running a check
	closed  bool          // Close was called
	drained chan struct{} // closed once closed and running == 0
	started bool          // every startup check has passed once
	passed  map[entryKey]CheckResult
}

// entryKey identifies one check across probes: checks with the same key and
// ComponentID share their results.
type entryKey struct{ key, id string }

// entry is the state of one check.
type entry struct {
	last   *run      // the latest run; nil before the first
	busy   bool      // a goroutine is running the check
	since  time.Time // when the busy run started
	status Status    // the latest published status, to log changes
}

// run is one reading of a check, shared by every request that waits for it.
type run struct {
	done      chan struct{} // closed when res is set
	res       CheckResult   // Status, ObservedValue, ObservedUnit, Output, Time
	published bool          // guarded by Checker.mu
}

// New returns a Checker for cfg, or an error naming each invalid field.
func New(cfg Config) (*Checker, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Checker{
		cfg:     cfg,
		base:    ctx,
		cancel:  cancel,
		entries: make(map[entryKey]*entry),
		drained: make(chan struct{}),
		passed:  make(map[entryKey]CheckResult),
	}, nil
}

// SetDraining sets whether the service is draining. While it is, the readiness probe
// fails at once with the output "draining", without running its checks; liveness
// and startup are not affected. SetDraining(false) makes readiness evaluate its
// checks again.
func (c *Checker) SetDraining(on bool) { c.draining.Store(on) }

// Draining reports whether the service is draining.
func (c *Checker) Draining() bool { return c.draining.Load() }

// Shutdown starts draining (see [Checker.SetDraining]) and then waits
// Config.DrainDelay, so that load balancers see readiness fail and stop sending
// traffic before the caller shuts its server down. It returns early with the
// context's error if ctx is done first. Liveness keeps passing: the process is
// healthy, only leaving.
func (c *Checker) Shutdown(ctx context.Context) error {
	c.SetDraining(true)
	if c.cfg.DrainDelay <= 0 {
		return nil
	}
	t := time.NewTimer(c.cfg.DrainDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("health: shutdown: drain delay cut short: %w", ctx.Err())
	}
}

// Close stops the Checker: it cancels the context of every running check, starts no
// more, and waits for the running checks' goroutines to return, or for ctx to be
// done. Afterwards every probe fails with the output "closed". Close may be called
// more than once; each call waits. It returns an error wrapping ctx's error when
// checks were still running (a check that ignores its context cannot be stopped).
func (c *Checker) Close(ctx context.Context) error {
	c.mu.Lock()
	first := !c.closed
	if first {
		c.closed = true
		if c.running == 0 {
			close(c.drained)
		}
	}
	c.mu.Unlock()
	if first {
		c.cancel()
	}
	select {
	case <-c.drained:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		n := c.running
		c.mu.Unlock()
		return fmt.Errorf("health: close: %d checks still running: %w", n, ctx.Err())
	}
}

// item is one check of one evaluation.
type item struct {
	ek   entryKey
	chk  Check
	run  *run        // the run to wait for; nil when res is already known
	res  CheckResult // the result, once known
	kept bool        // res came from the startup record
	hung bool        // the check is still running after its timeout
}

// Evaluate runs the checks of probe p (or reuses their recent results) and returns
// the response, with every check listed. It waits for the checks, each bounded by
// its timeout, or until ctx is done, in which case the checks without a result yet
// are reported as failed (they keep running, and their results are cached for the
// next evaluation).
func (c *Checker) Evaluate(ctx context.Context, p Probe) Response {
	resp := Response{
		Status:      StatusPass,
		Version:     c.cfg.Version,
		ReleaseID:   c.cfg.ReleaseID,
		ServiceID:   c.cfg.ServiceID,
		Description: c.cfg.Description,
	}
	switch {
	case p > Startup:
		resp.Status, resp.Output = StatusFail, fmt.Sprintf("health: unknown probe %s", p)
		return resp
	case p == Readiness && c.draining.Load():
		resp.Status, resp.Output = StatusFail, "draining"
		return resp
	}
	items, latched, ok := c.begin(p)
	if !ok {
		resp.Status, resp.Output = StatusFail, "closed"
		return resp
	}
	for i := range items {
		if r := items[i].run; r != nil {
			items[i].res = wait(ctx, r)
		}
	}
	if p == Startup && !latched {
		c.recordStartup(items)
	}

	worst := 0
	if len(items) > 0 {
		resp.Checks = make(map[string][]CheckResult, len(items))
	}
	for _, it := range items {
		r := it.res
		r.ComponentID = it.chk.ComponentID
		r.ComponentType = it.chk.ComponentType
		if r.ComponentType == "" {
			r.ComponentType = "component"
		}
		sev := r.Status.severity()
		if it.chk.NonCritical && sev > 1 {
			sev = 1
		}
		worst = max(worst, sev)
		resp.Checks[it.ek.key] = append(resp.Checks[it.ek.key], r)
	}
	resp.Status = [...]Status{StatusPass, StatusWarn, StatusFail}[worst]
	return resp
}

// begin lists the checks of probe p and, for each, the run to wait for (started
// if needed) or the result already known. latched says that the startup probe had
// already passed; ok is false once the Checker is closed.
func (c *Checker) begin(p Probe) (items []item, latched, ok bool) {
	items = c.expand(p)
	now := time.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, false
	}
	latched = p == Startup && c.started
	n := 0
	for _, it := range items {
		switch {
		case it.run == nil && it.res.Status != "": // a broken source or check
			if latched {
				continue
			}
		case p == Startup && c.passed[it.ek].Status != "":
			it.res, it.kept = c.passed[it.ek], true
		case latched:
			continue // a check that appeared after startup completed
		default:
			it.run, it.hung = c.acquireLocked(it.ek, it.chk, now)
		}
		items[n] = it
		n++
	}
	c.mu.Unlock()
	items = items[:n]
	if l := c.cfg.Logger; l != nil {
		for _, it := range items {
			if it.hung {
				l.Warn("health: check still running after its timeout; it must honour its context",
					"check", it.ek.key, "componentId", it.ek.id, "timeout", c.timeoutOf(it.chk))
			}
		}
	}
	return items, latched, true
}

// wait returns the result of r, or a failure if ctx is done first.
func wait(ctx context.Context, r *run) CheckResult {
	select {
	case <-r.done:
		return r.res
	default:
	}
	select {
	case <-r.done:
		return r.res
	case <-ctx.Done():
		return CheckResult{
			Status: StatusFail,
			Output: fmt.Sprintf("health: no result before the request ended: %v", context.Cause(ctx)),
			Time:   time.Now().UTC(),
		}
	}
}

// recordStartup remembers the startup checks that passed (or warned), and latches
// the startup probe once all of them have.
func (c *Checker) recordStartup(items []item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := true
	for _, it := range items {
		switch {
		case it.kept:
		case it.run != nil && it.res.Status.severity() < 2:
			c.passed[it.ek] = it.res
		default:
			all = false
		}
	}
	if all {
		c.started = true
	}
}

// expand lists the checks of probe p: every Source's checks, validated and without
// duplicates. A broken source or check becomes an item with a failed result.
func (c *Checker) expand(p Probe) []item {
	var sources []Source
	switch p {
	case Liveness:
		sources = c.cfg.Liveness
	case Readiness:
		sources = c.cfg.Readiness
	case Startup:
		sources = c.cfg.Startup
	}
	items := make([]item, 0, len(sources))
	seen := make(map[entryKey]bool, len(sources))
	for i, src := range sources {
		checks, err := c.checksOf(src)
		if err != nil {
			items = append(items, broken(entryKey{sourceKey, fmt.Sprintf("%s[%d]", p, i)}, err.Error()))
			continue
		}
		for _, chk := range checks {
			if err := chk.validate(); err != nil {
				k := entryKey{chk.Key(), chk.ComponentID}
				if chk.Component == "" || strings.Contains(chk.Component, ":") || strings.Contains(chk.Measurement, ":") {
					k = entryKey{sourceKey, fmt.Sprintf("%s[%d]", p, i)} // no usable key of its own
				}
				items = append(items, broken(k, fmt.Sprintf("health: invalid check: %v", err)))
				continue
			}
			k := entryKey{chk.Key(), chk.ComponentID}
			if seen[k] {
				continue
			}
			seen[k] = true
			items = append(items, item{ek: k, chk: chk})
		}
	}
	return items
}

// broken returns an item that reports a failure without running anything.
func broken(k entryKey, output string) item {
	return item{
		ek:  k,
		chk: Check{ComponentID: k.id},
		res: CheckResult{Status: StatusFail, Output: output, Time: time.Now().UTC()},
	}
}

// checksOf calls src.Checks, turning a panic into an error.
func (c *Checker) checksOf(src Source) (checks []Check, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("health: source panicked: %v", v)
			if c.cfg.Logger != nil {
				c.cfg.Logger.Error("health: source panicked", "panic", v, "stack", string(debug.Stack()))
			}
		}
	}()
	return src.Checks(), nil
}

// acquireLocked returns the run that answers check k at now: the one in flight, a
// recent one, or a new one it starts. hung reports a new failure for a check that
// is still running after its timeout. c.mu is held.
func (c *Checker) acquireLocked(k entryKey, chk Check, now time.Time) (r *run, hung bool) {
	e := c.entries[k]
	if e == nil {
		e = new(entry)
		c.entries[k] = e
	}
	if r := e.last; r != nil {
		if !r.published {
			return r, false // join the run in flight
		}
		if c.cfg.CacheFor > 0 && now.Sub(r.res.Time) < c.cfg.CacheFor {
			return r, false
		}
	}
	if e.busy {
		// The last run timed out and its goroutine has not returned: do not pile
		// up another one.
		timeout := c.timeoutOf(chk)
		r = &run{done: make(chan struct{}), published: true}
		r.res = CheckResult{
			Status: StatusFail,
			Output: fmt.Sprintf("health: timed out after %s, still running since %s: a check must return when its context is done",
				timeout, e.since.UTC().Format(time.RFC3339)),
			Time: now.UTC(),
		}
		close(r.done)
		e.last = r
		e.status = StatusFail
		return r, true
	}
	r = &run{done: make(chan struct{})}
	e.last, e.busy, e.since = r, true, now
	c.running++
	go c.execute(k, e, chk, r)
	return r, false
}

// timeoutOf returns the timeout of one run of chk.
func (c *Checker) timeoutOf(chk Check) time.Duration {
	if chk.Timeout > 0 {
		return chk.Timeout
	}
	return c.cfg.Timeout
}

// execute runs chk once and publishes its result into r: at its timeout if it has
// not returned by then, otherwise when it returns.
func (c *Checker) execute(k entryKey, e *entry, chk Check, r *run) {
	timeout := c.timeoutOf(chk)
	ctx, cancel := context.WithTimeout(c.base, timeout)
	// Report the run as soon as its context is done, whether or not Run returns.
	stop := context.AfterFunc(ctx, func() { c.publish(k, e, r, interrupted(ctx, timeout), false) })
	res := CheckResult{Status: StatusFail, Output: "health: check exited its goroutine without returning"}
	defer func() {
		stop()
		if ctx.Err() != nil { // returned late, or cut short by Close
			res = interrupted(ctx, timeout)
		}
		cancel()
		c.publish(k, e, r, res, true)
	}()
	res = c.call(ctx, k, chk)
}

// interrupted returns the result of a run whose context is done.
func interrupted(ctx context.Context, timeout time.Duration) CheckResult {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return CheckResult{Status: StatusFail, Output: fmt.Sprintf("health: timed out after %s", timeout)}
	}
	return CheckResult{Status: StatusFail, Output: "health: checker closed"}
}

// call runs chk, turning a panic into a failure.
func (c *Checker) call(ctx context.Context, k entryKey, chk Check) (res CheckResult) {
	defer func() {
		if v := recover(); v != nil {
			res = CheckResult{Status: StatusFail, Output: fmt.Sprintf("health: check panicked: %v", v)}
			if l := c.cfg.Logger; l != nil {
				l.Error("health: check panicked", "check", k.key, "componentId", k.id, "panic", v, "stack", string(debug.Stack()))
			}
		}
	}()
	return settle(chk.Run(ctx))
}

// publish sets the result of r unless it is already set, and wakes its waiters.
// last says that the goroutine running the check is returning: the entry becomes
// idle in the same step, so that a request woken by this result and asking again
// at once finds the check idle, not still running.
func (c *Checker) publish(k entryKey, e *entry, r *run, res CheckResult, last bool) {
	if last {
		defer c.exited()
	}
	res.Time = time.Now().UTC()
	c.mu.Lock()
	if last {
		e.busy = false
	}
	if r.published {
		c.mu.Unlock()
		return
	}
	r.res, r.published = res, true
	prev := e.status
	e.status = res.Status
	c.mu.Unlock()
	// Log before waking the waiters, outside the lock: whoever reads the result can
	// read the log record too.
	if l := c.cfg.Logger; l != nil && prev != res.Status && (prev != "" || res.Status != StatusPass) {
		level := slog.LevelInfo
		if res.Status == StatusFail {
			level = slog.LevelWarn
		}
		l.Log(context.Background(), level, "health: check status changed",
			"check", k.key, "componentId", k.id, "from", string(prev), "to", string(res.Status), "output", res.Output)
	}
	close(r.done)
}

// exited counts out a goroutine that ran a check, and lets Close return after the
// last one.
func (c *Checker) exited() {
	c.mu.Lock()
	c.running--
	if c.closed && c.running == 0 {
		close(c.drained)
	}
	c.mu.Unlock()
}
