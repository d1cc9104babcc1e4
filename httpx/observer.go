package httpx

import (
	"context"
	"net/http"
	"time"
)

// Observer is told of every attempt a [Transport] sends to its base transport, for
// metrics and traces; package telemetry implements it. ObserveAttempt is called on
// the goroutine that made the attempt, once its response headers have arrived or it
// failed; it must be fast, safe for concurrent use, and must not read or close the
// response's body.
//
// An Observer that also implements [AttemptStarter] is called before each attempt
// as well, to start a span.
type Observer interface {
	ObserveAttempt(ctx context.Context, a AttemptInfo)
}

// AttemptStarter is implemented by an [Observer] that needs to act before each
// attempt, such as a tracer that starts a client span and injects its traceparent.
// StartAttempt returns the context of the attempt (carrying the span); the
// [AttemptInfo] of the attempt is then observed with that context. req belongs to the
// attempt: StartAttempt may set its headers.
type AttemptStarter interface {
	StartAttempt(ctx context.Context, req *http.Request) context.Context
}

// AttemptInfo describes one attempt. Request holds the request as sent, credentials
// included: an Observer must not record its headers unredacted.
type AttemptInfo struct {
	Request  *http.Request  // the request as sent
	Response *http.Response // nil when Err is set; its body must not be touched
	Err      error          // the attempt's error, nil with a response
	// Attempt is the attempt's number, 1 for the first; semantic conventions report
	// Attempt-1 as http.request.resend_count.
	Attempt  int
	Start    time.Time     // when the attempt was handed to the base transport
	Duration time.Duration // until the response headers arrived or the attempt failed
}
