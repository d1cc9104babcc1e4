// Package resilience runs calls to things that fail (remote services, brokers,
// databases) through policies that keep a service working when they do: retry with
// backoff and jitter, circuit breaker, timeout, bulkhead, rate limiter, fallback,
// hedging, a retry budget, and chaos injection for rehearsals.
//
// # Pipelines
//
// Policies compose in a [Pipeline], listed outermost first. The standard order for a
// call to a remote service is rate limiter → total timeout → retry → circuit breaker →
// attempt timeout:
//
//	p, err := resilience.NewPipeline(resilience.PipelineOptions{Name: "payments"},
//		limiter, total, retry, breaker, attempt)
//	charge, err := resilience.Do(ctx, p, func(ctx context.Context) (Charge, error) {
//		return client.Charge(ctx, order)
//	})
//
// [Do] is generic over the call's value and allocates nothing on the happy path but
// what the timeouts' contexts need. Pipelines and policies are safe for concurrent use
// and meant to be built once and shared; a [Registry] finds them by name.
//
// # Errors
//
// Every rejection is typed: [ErrBreakerOpen], [ErrBulkheadFull], [ErrRateLimited],
// [ErrTimeout] (which also matches [context.DeadlineExceeded]) and
// [ErrRetriesExhausted] (which unwraps to the last error) are matched with
// [errors.Is]; their struct types carry the details. [Permanent] marks an error that
// must not be retried.
//
// # Time
//
// Everything that waits takes the context first and honours it: a retry never sleeps
// past the deadline, a bulkhead's queue and a rate limiter's wait give up when the
// context is done. Timeouts are cooperative: the function runs on the caller's
// goroutine and only its context is cancelled.
//
// # Events
//
// Each policy reports what it does (attempts, scheduled retries, breaker state
// changes, rejections, timeouts, hedges, fallbacks, injected faults) to the
// pipeline's [Observer]. Nothing is printed or recorded by default; package telemetry
// turns events into metrics and traces, and a logging observer is a few lines.
package resilience
