package dashboard

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/internal/customers/stats"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/resilience"
)

// State is what GET /dashboard/api/state answers: the counters now, and the
// rates of the last minutes.
type State struct {
	At            time.Time           `json:"at"`
	Since         time.Time           `json:"since"`
	IntervalMS    int64               `json:"interval_ms"` // between two points of History
	Dependencies  []Dependency        `json:"dependencies"`
	Subscriptions []Subscription      `json:"subscriptions"`
	Published     map[string]uint64   `json:"published"` // by event type, since the start
	PublishErrors uint64              `json:"publish_errors"`
	Outbox        store.OutboxBacklog `json:"outbox"`
	OutboxError   string              `json:"outbox_error,omitempty"`
	// Parked says what the outbox relay parked: the rows parked now by reason,
	// the parks since the start, and whether they can be replayed.
	Parked Parked `json:"parked"`
	// DeadLetters says what the transport can do with its dead-letter queues.
	DeadLetters DeadLetterSupport `json:"dead_letters"`
	History     []Point           `json:"history"` // oldest first
}

// Parked is what the outbox relay parked (stopped trying to publish).
// State.Outbox.Parked is the number of rows parked now.
type Parked struct {
	// ByReason counts the rows parked now by reason ("unroutable",
	// "max-attempts"); empty when none is parked or Config.Parked is nil.
	ByReason map[string]int `json:"by_reason"`
	Error    string         `json:"error,omitempty"` // reading ByReason failed
	// SinceStart counts the parks since the start, by reason (a row parked
	// again after a replay counts again).
	SinceStart map[string]uint64 `json:"since_start"`
	// Replayable: POST /dashboard/api/outbox/parked/replay puts them back.
	Replayable bool `json:"replayable"`
}

// DeadLetterSupport says whether the transport lists and replays dead letters.
type DeadLetterSupport struct {
	Readable   bool `json:"readable"`
	Replayable bool `json:"replayable"`
}

// Dependency is one dependency: its counters and its breakers.
type Dependency struct {
	Name string `json:"name"`
	// State is the worst state of its breakers: open, isolated, half-open or
	// closed ("" when it has none).
	State    string                `json:"state"`
	Breakers []Breaker             `json:"breakers"`
	Totals   stats.DependencyStats `json:"totals"`
}

// Breaker is one breaker of a dependency (one per host).
type Breaker struct {
	Name                string    `json:"name"`
	State               string    `json:"state"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Trips               int       `json:"trips"`
	HalfOpensAt         time.Time `json:"half_opens_at,omitzero"`
}

// Subscription is one subscription: its settlements, the publications of the
// event type it consumes, and its dead-letter queue.
type Subscription struct {
	Name      string                  `json:"name"`
	EventType string                  `json:"event_type,omitempty"`
	Published uint64                  `json:"published"` // of EventType, since the start
	Totals    stats.SubscriptionStats `json:"totals"`
	DLQ       DLQ                     `json:"dlq"`
}

// DLQ is what a subscription's dead-letter queue holds now.
type DLQ struct {
	Messages  int            `json:"messages"`
	ByReason  map[string]int `json:"by_reason"`
	Truncated bool           `json:"truncated,omitempty"` // more than MaxDeadLetters: the counts are of the first ones
	Error     string         `json:"error,omitempty"`
}

// MaxDeadLetters is how many dead letters of a subscription the state reads to
// count them by reason.
const MaxDeadLetters = 1000

// snapshot is the raw material of a State and of a Point.
type snapshot struct {
	at       time.Time
	counters stats.Snapshot
	breakers []resilience.BreakerSnapshot
	outbox   store.OutboxBacklog
	outErr   error
}

func (d *Dashboard) snapshot(ctx context.Context, now time.Time) snapshot {
	s := snapshot{at: now, counters: d.cfg.Recorder.Snapshot()}
	if d.cfg.Breakers != nil {
		for _, b := range d.cfg.Breakers.Breakers() {
			s.breakers = append(s.breakers, b.Snapshot())
		}
	}
	if d.cfg.Backlog != nil {
		s.outbox, s.outErr = d.cfg.Backlog.OutboxBacklog(ctx, d.cfg.OutboxTable)
	}
	return s
}

// dependencyOf returns the dependency a breaker belongs to: its name up to the
// first "/" ("payments/127.0.0.1:4000" is payments's).
func dependencyOf(breaker string) string {
	name, _, _ := strings.Cut(breaker, "/")
	return name
}

// severity orders breaker states from healthy to broken.
func severity(state string) int {
	switch state {
	case "closed":
		return 1
	case "half-open":
		return 2
	case "open":
		return 3
	case "isolated":
		return 4
	}
	return 0
}

// worst returns each dependency's worst breaker state.
func worst(breakers []resilience.BreakerSnapshot) map[string]string {
	out := map[string]string{}
	for _, b := range breakers {
		dep, st := dependencyOf(b.Name), b.State.String()
		if severity(st) > severity(out[dep]) {
			out[dep] = st
		}
	}
	return out
}

// state builds the State of s, reading the dead-letter queues.
func (d *Dashboard) state(ctx context.Context, s snapshot) State {
	st := State{At: s.at, Since: s.counters.Since, IntervalMS: d.cfg.Interval.Milliseconds(), Published: s.counters.Published,
		PublishErrors: s.counters.PublishErrors, Outbox: s.outbox, Dependencies: []Dependency{}, Subscriptions: []Subscription{},
		DeadLetters: DeadLetterSupport{Readable: d.reader != nil, Replayable: d.manager != nil}}
	if s.outErr != nil {
		st.OutboxError = s.outErr.Error()
	}
	st.Parked = d.parked(ctx, s)
	states := worst(s.breakers)
	for _, name := range sortedKeys(s.counters.Dependencies) {
		dep := Dependency{Name: name, State: states[name], Breakers: []Breaker{}, Totals: s.counters.Dependencies[name]}
		for _, b := range s.breakers {
			if dependencyOf(b.Name) == name {
				dep.Breakers = append(dep.Breakers, Breaker{Name: b.Name, State: b.State.String(),
					ConsecutiveFailures: b.ConsecutiveFailures, Trips: b.Trips, HalfOpensAt: b.HalfOpensAt})
			}
		}
		st.Dependencies = append(st.Dependencies, dep)
	}
	for _, name := range sortedKeys(s.counters.Subscriptions) {
		sub := Subscription{Name: name, EventType: d.cfg.EventTypes[name], Totals: s.counters.Subscriptions[name]}
		sub.Published = s.counters.Published[sub.EventType]
		sub.DLQ = d.deadLetters(ctx, name)
		st.Subscriptions = append(st.Subscriptions, sub)
	}
	st.History = d.history.points()
	return st
}

// parked describes the parked rows of s, counting them by reason when some are
// parked.
func (d *Dashboard) parked(ctx context.Context, s snapshot) Parked {
	p := Parked{ByReason: map[string]int{}, SinceStart: s.counters.Parked, Replayable: d.cfg.Parked != nil}
	if p.SinceStart == nil {
		p.SinceStart = map[string]uint64{}
	}
	if d.cfg.Parked == nil || s.outbox.Parked == 0 {
		return p
	}
	byReason, err := d.cfg.Parked.ParkedByReason(ctx, d.cfg.OutboxTable)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	p.ByReason = byReason
	return p
}

// deadLetters counts a subscription's dead letters by reason.
func (d *Dashboard) deadLetters(ctx context.Context, subscription string) DLQ {
	q := DLQ{ByReason: map[string]int{}}
	if d.reader == nil {
		return q
	}
	msgs, err := d.reader.DeadLetters(ctx, subscription, MaxDeadLetters+1)
	if err != nil {
		q.Error = err.Error()
		return q
	}
	if len(msgs) > MaxDeadLetters {
		msgs, q.Truncated = msgs[:MaxDeadLetters], true
	}
	q.Messages = len(msgs)
	for _, m := range msgs {
		dl, _ := bus.ParseDeadLetter(m.Headers)
		reason := string(dl.Reason)
		if reason == "" {
			reason = "unknown"
		}
		q.ByReason[reason]++
	}
	return q
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
