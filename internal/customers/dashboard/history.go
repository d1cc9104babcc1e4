package dashboard

import (
	"sync"
	"time"
)

// Point is the rates of one sampling interval: what happened between the
// previous sample and At, per second.
type Point struct {
	At            time.Time                    `json:"at"`
	Dependencies  map[string]DependencyPoint   `json:"dependencies"`
	Subscriptions map[string]SubscriptionPoint `json:"subscriptions"`
	Published     float64                      `json:"published"` // events per second, all types
	OutboxUnsent  int                          `json:"outbox_unsent"`
	OutboxParked  int                          `json:"outbox_parked"`
}

// DependencyPoint is a dependency's rates of one interval, in attempts per
// second, with its latency percentiles (of its last stats.LatencyWindow
// attempts) and its worst breaker state at the end of the interval.
type DependencyPoint struct {
	Calls     float64 `json:"calls"`
	Successes float64 `json:"successes"`
	Retries   float64 `json:"retries"`
	Failures  float64 `json:"failures"`
	P50       float64 `json:"p50"`
	P95       float64 `json:"p95"`
	P99       float64 `json:"p99"`
	State     string  `json:"state"`
}

// SubscriptionPoint is a subscription's rates of one interval, in deliveries
// (or publications of its event type) per second.
type SubscriptionPoint struct {
	Published    float64 `json:"published"`
	Handled      float64 `json:"handled"` // acked, or skipped as duplicates
	Redelivered  float64 `json:"redelivered"`
	DeadLettered float64 `json:"dead_lettered"`
}

// history is a ring of the latest points. It is safe for concurrent use.
type history struct {
	eventTypes map[string]string // subscription → event type

	mu   sync.Mutex
	prev *snapshot // the last sample, nil before the first
	ring []Point
	next int // where the next point goes once ring is full
	size int
}

func newHistory(size int, eventTypes map[string]string) *history {
	return &history{size: size, eventTypes: eventTypes, ring: make([]Point, 0, size)}
}

// add records the sample s: the point between the previous sample and s. The
// first sample only sets the baseline.
func (h *history) add(s snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.prev
	h.prev = &s
	if prev == nil {
		return
	}
	p := rates(*prev, s, h.eventTypes)
	if len(h.ring) < h.size {
		h.ring = append(h.ring, p)
		return
	}
	h.ring[h.next] = p
	h.next = (h.next + 1) % h.size
}

// points returns the points, oldest first.
func (h *history) points() []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Point, 0, len(h.ring))
	out = append(out, h.ring[h.next:]...)
	return append(out, h.ring[:h.next]...)
}

// rates returns the point of the interval from a to b.
func rates(a, b snapshot, eventTypes map[string]string) Point {
	p := Point{At: b.at, Dependencies: map[string]DependencyPoint{}, Subscriptions: map[string]SubscriptionPoint{},
		OutboxUnsent: b.outbox.Unsent, OutboxParked: b.outbox.Parked}
	secs := b.at.Sub(a.at).Seconds()
	per := func(now, before uint64) float64 {
		if secs <= 0 || now < before {
			return 0
		}
		return float64(now-before) / secs
	}
	states := worst(b.breakers)
	for name, d := range b.counters.Dependencies {
		old := a.counters.Dependencies[name]
		p.Dependencies[name] = DependencyPoint{Calls: per(d.Attempts, old.Attempts), Successes: per(d.Successes, old.Successes),
			Retries: per(d.Retries, old.Retries), Failures: per(d.Failures, old.Failures),
			P50: d.Latency.P50, P95: d.Latency.P95, P99: d.Latency.P99, State: states[name]}
	}
	for name, s := range b.counters.Subscriptions {
		old := a.counters.Subscriptions[name]
		typ := eventTypes[name]
		p.Subscriptions[name] = SubscriptionPoint{Published: per(b.counters.Published[typ], a.counters.Published[typ]),
			Handled: per(s.Acked+s.Skipped, old.Acked+old.Skipped), Redelivered: per(s.Redelivered, old.Redelivered),
			DeadLettered: per(s.DeadLettered, old.DeadLettered)}
	}
	p.Published = per(sum(b.counters.Published), sum(a.counters.Published))
	return p
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
