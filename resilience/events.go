package resilience

import (
	"context"
	"time"
)

// EventKind says what a policy did.
type EventKind uint8

// The events policies report. Every event carries the pipeline and policy names.
const (
	// EventAttempt: an attempt of a retry or hedging policy finished; Attempt, Duration
	// and Err describe it.
	EventAttempt EventKind = iota + 1
	// EventRetry: a retry was scheduled after Delay.
	EventRetry
	// EventRetriesExhausted: a retry policy gave up; Err is the last error.
	EventRetriesExhausted
	// EventBreakerStateChange: a circuit breaker moved from From to To.
	EventBreakerStateChange
	// EventRejected: a breaker, bulkhead or rate limiter rejected a call; Err says why.
	EventRejected
	// EventTimeout: a timeout policy cancelled a call after Duration.
	EventTimeout
	// EventHedge: a hedging policy started attempt number Attempt.
	EventHedge
	// EventFallback: a fallback policy replaced an outcome; Err is the outcome it replaced.
	EventFallback
	// EventChaos: a chaos policy injected a fault (Err) or latency (Delay).
	EventChaos
)

var eventKindNames = [...]string{
	EventAttempt:            "attempt",
	EventRetry:              "retry",
	EventRetriesExhausted:   "retries_exhausted",
	EventBreakerStateChange: "breaker_state_change",
	EventRejected:           "rejected",
	EventTimeout:            "timeout",
	EventHedge:              "hedge",
	EventFallback:           "fallback",
	EventChaos:              "chaos",
}

// String returns the event's name in snake case, as used in metrics ("retry",
// "breaker_state_change", ...).
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return "unknown"
}

// Event is one thing a policy did. Fields that do not apply to a kind are zero.
type Event struct {
	Kind     EventKind
	Pipeline string        // the pipeline's name ("" outside a pipeline)
	Policy   string        // the policy's name, e.g. "retry" or "payments-breaker"
	Attempt  int           // 1-based attempt number, for attempts, retries and hedges
	Delay    time.Duration // the wait before a retry, or injected latency
	Duration time.Duration // how long an attempt or a timed-out call took
	Err      error         // the error of the outcome or of the rejection
	From, To BreakerState  // for breaker state changes
}

// Observer receives the events of the policies it is attached to. Observe is called
// synchronously on the goroutine that runs the policy, never while a policy holds a
// lock; it must be fast and safe for concurrent use. ctx is the context of the call,
// so that an observer can attach the event to the current trace.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to an [Observer].
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// Observers returns an [Observer] that forwards every event to each of obs in turn,
// skipping nil ones.
func Observers(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

type multiObserver []Observer

func (m multiObserver) Observe(ctx context.Context, e Event) {
	for _, o := range m {
		o.Observe(ctx, e)
	}
}
