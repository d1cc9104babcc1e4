package resilience

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"
)

// The property tests run random sequences of calls, held permits, manual overrides
// and passing time against a breaker and against bkModel, a plain reference model of
// the state machine written without concurrency in mind, and compare them after
// every step. TestBreakerModelInternal drives the internal methods with an explicit
// now; TestBreakerModelPublic drives the public API inside a synctest bubble, which
// covers the lock-free fast paths.

// bkModelEvent is one counted outcome of a closed breaker.
type bkModelEvent struct {
	epoch  int64
	failed bool
}

// bkModel is the reference model of a breaker.
type bkModel struct {
	o     BreakerOptions // normalised
	start time.Time
	width time.Duration

	state     BreakerState
	period    int // changes at every state change and reset
	consec    int
	events    []bkModelEvent // outcomes counted since the last close or reset
	breakDur  time.Duration
	openedAt  time.Time
	halfOpens time.Time // when the current open period ends
	trips     int
	taken, ok int // half-open probes taken and succeeded
	changes   []BreakerStateChange
}

func newBKModel(o BreakerOptions, start time.Time) *bkModel {
	if err := o.normalize(); err != nil {
		panic(err)
	}
	return &bkModel{o: o, start: start, width: o.SamplingWindow / windowBuckets, breakDur: o.BreakDuration}
}

func (m *bkModel) epoch(now time.Time) int64 { return int64(now.Sub(m.start) / m.width) }

// window returns the successes and failures in the window at now.
func (m *bkModel) window(now time.Time) (ok, failed int) {
	cur := m.epoch(now)
	for _, e := range m.events {
		if e.epoch > cur-windowBuckets && e.epoch <= cur {
			if e.failed {
				failed++
			} else {
				ok++
			}
		}
	}
	return ok, failed
}

func (m *bkModel) set(now time.Time, to BreakerState) {
	if m.state != to {
		m.changes = append(m.changes, BreakerStateChange{From: m.state, To: to, At: now})
	}
	m.state = to
	m.period++
}

func (m *bkModel) open(now time.Time) {
	m.set(now, StateOpen)
	m.openedAt, m.halfOpens = now, now.Add(m.breakDur)
	m.trips++
}

func (m *bkModel) close(now time.Time) {
	m.set(now, StateClosed)
	m.events, m.consec, m.breakDur = nil, 0, m.o.BreakDuration
}

// bkModelPermit is a call admitted by both the breaker and the model.
type bkModelPermit struct {
	real   BreakerPermit
	period int
	probe  bool
}

// allow returns whether the model admits a call at now, and if not, the state of the
// rejection.
func (m *bkModel) allow(now time.Time) (bkModelPermit, bool, BreakerState) {
	switch m.state {
	case StateClosed:
		return bkModelPermit{period: m.period}, true, 0
	case StateOpen:
		if now.Before(m.halfOpens) {
			return bkModelPermit{}, false, StateOpen
		}
		m.set(now, StateHalfOpen)
		m.taken, m.ok = 1, 0
		return bkModelPermit{period: m.period, probe: true}, true, 0
	case StateHalfOpen:
		if m.taken < m.o.HalfOpenProbes {
			m.taken++
			return bkModelPermit{period: m.period, probe: true}, true, 0
		}
	}
	return bkModelPermit{}, false, m.state
}

func (m *bkModel) done(now time.Time, p bkModelPermit, v verdict) {
	if p.period != m.period {
		return
	}
	if p.probe {
		switch v {
		case verdictIgnored:
			m.taken--
		case verdictFailure:
			m.breakDur = min(time.Duration(float64(m.breakDur)*m.o.BreakGrowth), m.o.MaxBreakDuration)
			m.open(now)
		default:
			if m.ok++; m.ok == m.o.HalfOpenProbes {
				m.close(now)
			}
		}
		return
	}
	switch v {
	case verdictSuccess:
		m.consec = 0
		if m.o.Mode == TripFailureRatio {
			m.events = append(m.events, bkModelEvent{epoch: m.epoch(now)})
		}
	case verdictFailure:
		m.consec++
		if m.o.Mode == TripConsecutiveFailures {
			if m.consec >= m.o.ConsecutiveFailures {
				m.open(now)
			}
			return
		}
		m.events = append(m.events, bkModelEvent{epoch: m.epoch(now), failed: true})
		ok, failed := m.window(now)
		if total := ok + failed; total >= m.o.MinThroughput && float64(failed)/float64(total) >= m.o.FailureRatio {
			m.open(now)
		}
	}
}

func (m *bkModel) snapshot(now time.Time) BreakerSnapshot {
	s := BreakerSnapshot{Name: m.o.Name, State: m.state, ConsecutiveFailures: m.consec, Trips: m.trips, OpenedAt: m.openedAt}
	if m.o.Mode == TripFailureRatio {
		s.Successes, s.Failures = m.window(now)
	}
	if m.state == StateOpen {
		s.HalfOpensAt = m.halfOpens
	}
	return s
}

// bkDriver runs operations on a breaker, through its internal or its public methods.
type bkDriver interface {
	now() time.Time
	advance(d time.Duration)
	allow(b *Breaker) (BreakerPermit, error)
	done(b *Breaker, p BreakerPermit, v verdict)
	isolate(b *Breaker)
	reset(b *Breaker)
	snapshot(b *Breaker) BreakerSnapshot
}

// bkInternal drives the methods written against an explicit now.
type bkInternal struct{ t time.Time }

func (d *bkInternal) now() time.Time           { return d.t }
func (d *bkInternal) advance(dt time.Duration) { d.t = d.t.Add(dt) }
func (d *bkInternal) allow(b *Breaker) (BreakerPermit, error) {
	return b.allow(context.Background(), d.t)
}
func (d *bkInternal) isolate(b *Breaker)                  { b.isolate(context.Background(), d.t) }
func (d *bkInternal) reset(b *Breaker)                    { b.reset(context.Background(), d.t) }
func (d *bkInternal) snapshot(b *Breaker) BreakerSnapshot { return b.snapshot(d.t) }
func (d *bkInternal) done(b *Breaker, p BreakerPermit, v verdict) {
	b.done(context.Background(), d.t, p.p, v)
}

// bkPublic drives the public API in a synctest bubble.
type bkPublic struct{}

func (bkPublic) now() time.Time                          { return time.Now() }
func (bkPublic) advance(d time.Duration)                 { time.Sleep(d) }
func (bkPublic) allow(b *Breaker) (BreakerPermit, error) { return b.Allow() }
func (bkPublic) isolate(b *Breaker)                      { b.Isolate() }
func (bkPublic) reset(b *Breaker)                        { b.Reset() }
func (bkPublic) snapshot(b *Breaker) BreakerSnapshot     { return b.Snapshot() }
func (bkPublic) done(_ *Breaker, p BreakerPermit, v verdict) {
	switch v {
	case verdictSuccess:
		p.Done(false)
	case verdictFailure:
		p.Done(true)
	default:
		p.Ignore()
	}
}

// bkGenOptions draws breaker options that make trips, probes and growth likely.
func bkGenOptions(t *rapid.T) BreakerOptions {
	o := BreakerOptions{
		Name:                "prop",
		Mode:                rapid.SampledFrom([]TripMode{TripFailureRatio, TripConsecutiveFailures}).Draw(t, "mode"),
		FailureRatio:        rapid.SampledFrom([]float64{0.1, 0.25, 0.5, 0.75, 1}).Draw(t, "ratio"),
		MinThroughput:       rapid.IntRange(1, 6).Draw(t, "minThroughput"),
		SamplingWindow:      rapid.SampledFrom([]time.Duration{10 * time.Millisecond, 100 * time.Millisecond, time.Second}).Draw(t, "window"),
		ConsecutiveFailures: rapid.IntRange(1, 4).Draw(t, "consecutive"),
		BreakDuration:       rapid.SampledFrom([]time.Duration{10 * time.Millisecond, 35 * time.Millisecond, 300 * time.Millisecond}).Draw(t, "break"),
		BreakGrowth:         rapid.SampledFrom([]float64{0, 1.5, 2, 3}).Draw(t, "growth"),
		HalfOpenProbes:      rapid.IntRange(1, 3).Draw(t, "probes"),
	}
	if rapid.Bool().Draw(t, "capped") {
		o.MaxBreakDuration = 4 * o.BreakDuration
	}
	return o
}

var bkVerdicts = []verdict{verdictSuccess, verdictFailure, verdictIgnored}

// bkCheckModel runs one random sequence through driver d.
func bkCheckModel(t *rapid.T, d bkDriver) {
	opts := bkGenOptions(t)
	var changes []BreakerStateChange
	opts.OnStateChange = func(c BreakerStateChange) { changes = append(changes, c) }
	var b *Breaker
	var err error
	if _, internal := d.(*bkInternal); internal {
		b, err = newBreaker(opts, d.now())
	} else {
		b, err = NewBreaker(opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	m := newBKModel(opts, d.now())
	var held []bkModelPermit

	allow := func() (bkModelPermit, bool) {
		now := d.now()
		permit, err := d.allow(b)
		mp, ok, state := m.allow(now)
		if (err == nil) != ok {
			t.Fatalf("at %s: Allow() = %v, model admits: %v (state %s)", now.Sub(m.start), err, ok, m.state)
		}
		if !ok {
			var boe *BreakerOpenError
			if !errors.As(err, &boe) || boe.State != state || boe.Breaker != "prop" {
				t.Fatalf("rejection = %#v, want a *BreakerOpenError in state %s", err, state)
			}
			if state == StateOpen {
				// Open rejects until the break is over; RetryIn is rounded up to a tenth.
				remaining, length := m.halfOpens.Sub(now), m.halfOpens.Sub(m.openedAt)
				if boe.RetryIn < remaining || boe.RetryIn > length || boe.RetryIn-remaining > length/retryInSteps+retryInSteps {
					t.Fatalf("RetryIn = %s with %s of a %s break left", boe.RetryIn, remaining, length)
				}
			} else if boe.RetryIn != 0 {
				t.Fatalf("RetryIn = %s in state %s, want 0", boe.RetryIn, state)
			}
		}
		mp.real = permit
		return mp, ok
	}
	finish := func(p bkModelPermit, v verdict) {
		d.done(b, p.real, v)
		m.done(d.now(), p, v)
	}

	t.Repeat(map[string]func(*rapid.T){
		"advance": func(t *rapid.T) {
			d.advance(time.Duration(rapid.Int64Range(0, int64(time.Second)).Draw(t, "dt")))
		},
		"call": func(t *rapid.T) {
			for range rapid.IntRange(1, 4).Draw(t, "calls") {
				if p, ok := allow(); ok {
					finish(p, rapid.SampledFrom(bkVerdicts).Draw(t, "verdict"))
				}
			}
		},
		"hold": func(t *rapid.T) {
			if len(held) >= 4 {
				t.Skip("enough permits held")
			}
			if p, ok := allow(); ok {
				held = append(held, p)
			}
		},
		"release": func(t *rapid.T) {
			if len(held) == 0 {
				t.Skip("no permit held")
			}
			i := rapid.IntRange(0, len(held)-1).Draw(t, "permit")
			p := held[i]
			held = append(held[:i], held[i+1:]...)
			finish(p, rapid.SampledFrom(bkVerdicts).Draw(t, "verdict"))
		},
		"manual": func(t *rapid.T) {
			now := d.now()
			if rapid.Bool().Draw(t, "isolate") {
				d.isolate(b)
				if m.state != StateIsolated {
					m.set(now, StateIsolated)
				}
			} else {
				d.reset(b)
				m.close(now)
			}
		},
		"": func(t *rapid.T) {
			now := d.now()
			got, want := d.snapshot(b), m.snapshot(now)
			if !bkSameSnapshot(got, want) {
				t.Fatalf("at %s: Snapshot = %+v, model %+v", now.Sub(m.start), got, want)
			}
			if b.State() != m.state {
				t.Fatalf("State() = %s, model %s", b.State(), m.state)
			}
			bkCheckChanges(t, opts, changes, m.changes)
		},
	})
}

// bkCheckChanges checks the invariants of the state changes the listener saw, and
// that they are those of the model.
func bkCheckChanges(t *rapid.T, o BreakerOptions, got, want []BreakerStateChange) {
	if len(got) != len(want) {
		t.Fatalf("listener saw %d changes %v, model %d %v", len(got), bkChangesString(got), len(want), bkChangesString(want))
	}
	prev := StateClosed
	for i, c := range got {
		if c.From != prev {
			t.Fatalf("change %d is %s>%s after a change to %s", i, c.From, c.To, prev)
		}
		prev = c.To
		if c.From == c.To || (c.To == StateHalfOpen && c.From != StateOpen) {
			t.Fatalf("change %d: %s>%s is not a transition of the state machine", i, c.From, c.To)
		}
		if c.Breaker != o.Name || c.Reason == "" {
			t.Fatalf("change %d: %+v, want breaker %q and a reason", i, c, o.Name)
		}
		if c.From != want[i].From || c.To != want[i].To || !c.At.Equal(want[i].At) {
			t.Fatalf("change %d: %s>%s at %v, model %s>%s at %v", i, c.From, c.To, c.At, want[i].From, want[i].To, want[i].At)
		}
	}
}

func bkChangesString(cs []BreakerStateChange) string {
	s := ""
	for _, c := range cs {
		s += fmt.Sprintf(" %s>%s", c.From, c.To)
	}
	return s
}

func TestBreakerModelInternal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bkCheckModel(t, &bkInternal{t: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)})
	})
}

func TestBreakerModelPublic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Hide the *testing.T from rapid, which would call t.Deadline, a method that
		// panics inside a bubble.
		rapid.Check(bkBubbleTB{t}, func(t *rapid.T) { bkCheckModel(t, bkPublic{}) })
	})
}

// bkBubbleTB is a *testing.T that rapid does not recognise as one.
type bkBubbleTB struct{ *testing.T }

// TestBreakerRatioNeedsMinThroughput checks directly that a ratio breaker never trips
// with fewer than MinThroughput calls in its window, whatever their outcomes and
// timing.
func TestBreakerRatioNeedsMinThroughput(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		minThroughput := rapid.IntRange(1, 20).Draw(t, "minThroughput")
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		b, err := newBreaker(BreakerOptions{MinThroughput: minThroughput, FailureRatio: 0.01, SamplingWindow: time.Second}, now)
		if err != nil {
			t.Fatal(err)
		}
		var times []time.Time // of counted calls
		for range rapid.IntRange(1, 60).Draw(t, "calls") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(300*time.Millisecond)).Draw(t, "dt")))
			p, err := b.allow(context.Background(), now)
			if err != nil {
				return // tripped: checked below when it happened
			}
			v := rapid.SampledFrom([]verdict{verdictSuccess, verdictFailure}).Draw(t, "verdict")
			times = append(times, now)
			b.done(context.Background(), now, p.p, v)
			if b.State() == StateOpen {
				// Calls in the window: those at most 0.9s before now, bucket-wise.
				var n int
				for _, at := range times {
					if b.epoch(now)-b.epoch(at) < windowBuckets {
						n++
					}
				}
				if n < minThroughput {
					t.Fatalf("tripped with %d calls in the window, MinThroughput %d", n, minThroughput)
				}
				return
			}
		}
	})
}
