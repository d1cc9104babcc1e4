package stats

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/outbox"
)

// LatencyWindow is how many of the latest attempts of a dependency its
// percentiles are computed over.
const LatencyWindow = 1024

// Recorder counts calls, publications and settlements. The zero value is not
// usable; build one with [New].
type Recorder struct {
	start time.Time

	mu        sync.Mutex
	deps      map[string]*dependency
	subs      map[string]*SubscriptionStats
	published map[string]uint64
	pubErrors uint64
	parked    map[string]uint64
}

// New returns an empty Recorder.
func New() *Recorder {
	return &Recorder{start: time.Now(), deps: map[string]*dependency{}, subs: map[string]*SubscriptionStats{},
		published: map[string]uint64{}, parked: map[string]uint64{}}
}

// dependency is the state of one dependency's counters.
type dependency struct {
	DependencyStats
	ring []time.Duration // the latest attempts' durations, LatencyWindow at most
	next int
}

// DependencyStats counts the attempts sent to one dependency.
type DependencyStats struct {
	Attempts  uint64         `json:"attempts"`
	Successes uint64         `json:"successes"` // a response below 400
	Failures  uint64         `json:"failures"`  // a transport error or a response of 400 or more
	Retries   uint64         `json:"retries"`   // attempts after the first of their call
	ByStatus  map[int]uint64 `json:"by_status"`
	Errors    uint64         `json:"errors"` // attempts that got no response
	Latency   Latency        `json:"latency_ms"`
}

// Latency are percentiles of the latest attempts, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// SubscriptionStats counts how a subscription's deliveries were settled.
type SubscriptionStats struct {
	Acked         uint64            `json:"acked"`
	Skipped       uint64            `json:"skipped"` // duplicates the inbox recognised
	Redelivered   uint64            `json:"redelivered"`
	DeadLettered  uint64            `json:"dead_lettered"`
	Requeued      uint64            `json:"requeued"`
	DeadByReason  map[string]uint64 `json:"dead_lettered_by_reason"`
	LastError     string            `json:"last_error,omitempty"`
	LastErrorTime time.Time         `json:"last_error_time,omitzero"`
}

// Snapshot is the state of the counters at one moment.
type Snapshot struct {
	Since         time.Time                    `json:"since"`
	At            time.Time                    `json:"at"`
	Dependencies  map[string]DependencyStats   `json:"dependencies"`
	Subscriptions map[string]SubscriptionStats `json:"subscriptions"`
	// Published counts the events the relay published, by event type.
	Published map[string]uint64 `json:"published"`
	// PublishErrors counts the relay's failed publish calls.
	PublishErrors uint64 `json:"publish_errors"`
	// Parked counts the rows the relay parked (stopped trying to publish), by
	// reason (outbox.ParkReason: "unroutable", "max-attempts"). A row parked
	// again after a replay counts again.
	Parked map[string]uint64 `json:"parked"`
}

// Snapshot returns a copy of the counters.
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Since: r.start, At: time.Now(), Dependencies: map[string]DependencyStats{},
		Subscriptions: map[string]SubscriptionStats{}, Published: map[string]uint64{}, PublishErrors: r.pubErrors,
		Parked: maps.Clone(r.parked)}
	for name, d := range r.deps {
		ds := d.DependencyStats
		ds.ByStatus = make(map[int]uint64, len(d.ByStatus))
		for k, v := range d.ByStatus {
			ds.ByStatus[k] = v
		}
		ds.Latency = percentiles(d.ring)
		s.Dependencies[name] = ds
	}
	for name, st := range r.subs {
		c := *st
		c.DeadByReason = make(map[string]uint64, len(st.DeadByReason))
		for k, v := range st.DeadByReason {
			c.DeadByReason[k] = v
		}
		s.Subscriptions[name] = c
	}
	for k, v := range r.published {
		s.Published[k] = v
	}
	return s
}

func percentiles(ring []time.Duration) Latency {
	if len(ring) == 0 {
		return Latency{}
	}
	d := slices.Clone(ring)
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	return Latency{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: at(1)}
}

// Dependency registers a dependency by name, so that it is listed before its
// first call.
func (r *Recorder) Dependency(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dep(name)
}

func (r *Recorder) dep(name string) *dependency {
	d := r.deps[name]
	if d == nil {
		d = &dependency{DependencyStats: DependencyStats{ByStatus: map[int]uint64{}}}
		r.deps[name] = d
	}
	return d
}

// HTTPObserver returns the httpx.Observer of the dependency name: it counts each
// attempt, then passes it on to next (nil for none). When next starts spans
// (an httpx.AttemptStarter, as telemetry's is), so does the observer returned.
func (r *Recorder) HTTPObserver(name string, next httpx.Observer) httpx.Observer {
	r.Dependency(name)
	o := observer{r: r, name: name, next: next}
	if s, ok := next.(httpx.AttemptStarter); ok {
		return startingObserver{o, s}
	}
	return o
}

type observer struct {
	r    *Recorder
	name string
	next httpx.Observer
}

func (o observer) ObserveAttempt(ctx context.Context, a httpx.AttemptInfo) {
	o.r.mu.Lock()
	d := o.r.dep(o.name)
	d.Attempts++
	if a.Attempt > 1 {
		d.Retries++
	}
	switch {
	case a.Err != nil || a.Response == nil:
		d.Failures++
		d.Errors++
	case a.Response.StatusCode >= http.StatusBadRequest:
		d.Failures++
		d.ByStatus[a.Response.StatusCode]++
	default:
		d.Successes++
		d.ByStatus[a.Response.StatusCode]++
	}
	if len(d.ring) < LatencyWindow {
		d.ring = append(d.ring, a.Duration)
	} else {
		d.ring[d.next] = a.Duration
		d.next = (d.next + 1) % LatencyWindow
	}
	o.r.mu.Unlock()
	if o.next != nil {
		o.next.ObserveAttempt(ctx, a)
	}
}

type startingObserver struct {
	observer
	s httpx.AttemptStarter
}

func (o startingObserver) StartAttempt(ctx context.Context, req *http.Request) context.Context {
	return o.s.StartAttempt(ctx, req)
}

// Subscription registers a subscription by name, so that it is listed before
// its first delivery.
func (r *Recorder) Subscription(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sub(name)
}

func (r *Recorder) sub(name string) *SubscriptionStats {
	s := r.subs[name]
	if s == nil {
		s = &SubscriptionStats{DeadByReason: map[string]uint64{}}
		r.subs[name] = s
	}
	return s
}

// OnSettle counts a settlement: set it as the bus's Options.OnSettle (chain it
// with others if needed).
func (r *Recorder) OnSettle(st bus.Settlement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sub(st.Subscription)
	switch st.Action {
	case bus.ActionAck:
		s.Acked++
	case bus.ActionSkip:
		s.Skipped++
	case bus.ActionRedeliver:
		s.Redelivered++
	case bus.ActionDeadLetter:
		s.DeadLettered++
		s.DeadByReason[string(st.Reason)]++
	case bus.ActionRequeue:
		s.Requeued++
	}
	if st.Err != nil {
		s.LastError, s.LastErrorTime = st.Err.Error(), time.Now()
	}
}

// Publisher is what the outbox relay publishes through: a bus.Transport.
type Publisher interface {
	Publish(ctx context.Context, msgs ...bus.Message) error
}

// Publisher returns next, counting what it publishes: give it to the outbox
// relay in place of the transport.
func (r *Recorder) Publisher(next Publisher) Publisher { return publisher{r, next} }

type publisher struct {
	r    *Recorder
	next Publisher
}

func (p publisher) Publish(ctx context.Context, msgs ...bus.Message) error {
	err := p.next.Publish(ctx, msgs...)
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	if err != nil {
		p.r.pubErrors++
		return err
	}
	for _, m := range msgs {
		p.r.published[m.Type]++
	}
	return nil
}

// OnPark counts a row the outbox relay parked: set it as (or call it from) the
// relay's RelayOptions.OnPark.
func (r *Recorder) OnPark(p outbox.Parked) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parked[string(p.Reason)]++
}
