package bus

import (
	"time"
)

// Action is what a consumer did with a delivery.
type Action uint8

const (
	// ActionAck: the handler succeeded and the message was acked.
	ActionAck Action = iota + 1
	// ActionSkip: the inbox says the message was handled before; it was acked
	// without running the handler.
	ActionSkip
	// ActionRedeliver: the attempt failed (or another worker holds the message in
	// the inbox); the message comes back after a delay.
	ActionRedeliver
	// ActionDeadLetter: the message went to the dead-letter queue.
	ActionDeadLetter
	// ActionRequeue: the consumer was shutting down and handed the message back
	// unhandled.
	ActionRequeue
)

// String returns "ack", "skip", "redeliver", "dead-letter" or "requeue".
func (a Action) String() string {
	switch a {
	case ActionAck:
		return "ack"
	case ActionSkip:
		return "skip"
	case ActionRedeliver:
		return "redeliver"
	case ActionDeadLetter:
		return "dead-letter"
	case ActionRequeue:
		return "requeue"
	}
	return "unknown"
}

// Settlement reports how one delivery was settled, to [Options.OnSettle].
type Settlement struct {
	Subscription string
	EventType    string // empty if the envelope could not be decoded
	EventID      string // empty if the envelope could not be decoded
	Attempt      int    // the attempt this delivery was
	Action       Action
	Delay        time.Duration    // for ActionRedeliver
	Reason       DeadLetterReason // for ActionDeadLetter
	Err          error            // the handler's (or decoder's) error, if any
	SettleErr    error            // the transport's error settling the delivery, if any
	Elapsed      time.Duration    // from receipt to settlement
}

// redeliveryDelay returns the delay before the attempt after attempt n (1-based):
// tiers[min(n, len(tiers))-1].
func redeliveryDelay(tiers []time.Duration, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > len(tiers) {
		n = len(tiers)
	}
	return tiers[n-1]
}

// decision is what the failure policy decides for a failed attempt.
type decision struct {
	action Action
	delay  time.Duration
	reason DeadLetterReason
}

// decide applies the failure policy to attempt n that failed with err: dead-letter
// a permanent error or the last attempt, else redeliver after the attempt's tier.
func decide(o SubscriptionOptions, n int, err error) decision {
	switch {
	case IsPermanent(err):
		return decision{action: ActionDeadLetter, reason: ReasonPermanent}
	case n >= o.MaxAttempts:
		return decision{action: ActionDeadLetter, reason: ReasonMaxAttempts}
	}
	return decision{action: ActionRedeliver, delay: redeliveryDelay(o.RedeliveryDelays, n)}
}
