package bus

import (
	"strconv"
	"time"
)

// Headers of a dead-lettered message, added to its own headers. They say why it
// was dead-lettered, by which subscription, after how many attempts, when, and
// where it came from.
const (
	HeaderDLQReason       = "rampart-dlq-reason"        // a [DeadLetterReason]
	HeaderDLQError        = "rampart-dlq-error"         // the error text, cut to 1 KiB
	HeaderDLQErrorType    = "rampart-dlq-error-type"    // the Go type of the error, such as "*httpx.StatusError"
	HeaderDLQSubscription = "rampart-dlq-subscription"  // the subscription (handler) that gave up
	HeaderDLQAttempts     = "rampart-dlq-attempts"      // attempts made, in decimal
	HeaderDLQFirstFailure = "rampart-dlq-first-failure" // RFC 3339 time of the first failure
	HeaderDLQLastFailure  = "rampart-dlq-last-failure"  // RFC 3339 time of the last failure
	// HeaderDLQOrigin is set by the transport: where the message was consumed from,
	// such as "exchange=rampart.events routing-key=customers.customer-created.v1
	// queue=welcome-email" or "stream=EVENTS subject=... consumer=...".
	HeaderDLQOrigin = "rampart-dlq-origin"
)

// DeadLetterReason says why a message was dead-lettered.
type DeadLetterReason string

const (
	// ReasonUndecodable: the envelope is malformed, the body is too large, its
	// content type has no codec, or the codec rejected it.
	ReasonUndecodable DeadLetterReason = "undecodable"
	// ReasonUnknownType: the event type has no handler in the subscription.
	ReasonUnknownType DeadLetterReason = "unknown-type"
	// ReasonPermanent: the handler returned an error marked with [Permanent].
	ReasonPermanent DeadLetterReason = "permanent-error"
	// ReasonMaxAttempts: the handler failed on the last allowed attempt.
	ReasonMaxAttempts DeadLetterReason = "max-attempts"
)

// DeadLetter says why a message is dead-lettered. The bus fills it in;
// transports store [DeadLetter.Headers] with the message, plus their
// [HeaderDLQOrigin].
type DeadLetter struct {
	Reason       DeadLetterReason
	Error        string // the error text
	ErrorType    string // the Go type of the error, looking through wrappers
	Subscription string
	Attempts     int // attempts made; 1 for a message that could not be decoded
	FirstFailure time.Time
	LastFailure  time.Time
}

// Headers returns the headers that record dl on the dead-lettered message.
func (dl DeadLetter) Headers() map[string]string {
	h := map[string]string{
		HeaderDLQReason:       string(dl.Reason),
		HeaderDLQError:        truncate(dl.Error, maxErrorText),
		HeaderDLQErrorType:    dl.ErrorType,
		HeaderDLQSubscription: dl.Subscription,
		HeaderDLQAttempts:     strconv.Itoa(dl.Attempts),
		HeaderDLQFirstFailure: dl.FirstFailure.UTC().Format(time.RFC3339Nano),
		HeaderDLQLastFailure:  dl.LastFailure.UTC().Format(time.RFC3339Nano),
	}
	for k, v := range h {
		if v == "" {
			delete(h, k)
		}
	}
	return h
}

// ParseDeadLetter reads the dead-letter headers of a message from a dead-letter
// queue. Missing headers leave their fields zero; a malformed number or time is a
// [*DecodeError] naming the header.
func ParseDeadLetter(h map[string]string) (DeadLetter, error) {
	dl := DeadLetter{
		Reason:       DeadLetterReason(h[HeaderDLQReason]),
		Error:        h[HeaderDLQError],
		ErrorType:    h[HeaderDLQErrorType],
		Subscription: h[HeaderDLQSubscription],
	}
	if v, ok := h[HeaderDLQAttempts]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return dl, &DecodeError{Field: HeaderDLQAttempts, Value: clip(v), Reason: "is not a count"}
		}
		dl.Attempts = n
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{HeaderDLQFirstFailure, &dl.FirstFailure}, {HeaderDLQLastFailure, &dl.LastFailure}} {
		if v, ok := h[f.name]; ok {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return dl, &DecodeError{Field: f.name, Value: clip(v), Reason: "is not an RFC 3339 time"}
			}
			*f.dst = t
		}
	}
	return dl, nil
}
