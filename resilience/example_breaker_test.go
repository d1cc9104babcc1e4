package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// A breaker that opens after three failures in a row stops calling a payment
// provider that is down, and rejects calls at once until its break is over.
func ExampleBreaker() {
	breaker := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{
		Name:                "payments",
		Mode:                resilience.TripConsecutiveFailures,
		ConsecutiveFailures: 3,
		BreakDuration:       time.Minute,
		OnStateChange: func(c resilience.BreakerStateChange) {
			fmt.Printf("breaker %s: %s -> %s (%s)\n", c.Breaker, c.From, c.To, c.Reason)
		},
	}))
	pipeline := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{Name: "payments"}, breaker))

	down := errors.New("payment provider unavailable")
	calls := 0
	for i := 1; i <= 4; i++ {
		err := pipeline.Run(context.Background(), func(context.Context) error {
			calls++
			return down
		})
		fmt.Printf("call %d: %v; breaker %s\n", i, err, breaker.State())
		if errors.Is(err, resilience.ErrBreakerOpen) {
			var open *resilience.BreakerOpenError
			errors.As(err, &open)
			fmt.Printf("rejected by %q, retry in %s; the provider was called %d times\n", open.Breaker, open.RetryIn, calls)
		}
	}
	// Output:
	// call 1: payment provider unavailable; breaker closed
	// call 2: payment provider unavailable; breaker closed
	// breaker payments: closed -> open (3 consecutive failures)
	// call 3: payment provider unavailable; breaker open
	// call 4: resilience: circuit breaker "payments" is open (half-opens in 1m0s); breaker open
	// rejected by "payments", retry in 1m0s; the provider was called 3 times
}

// Outside a pipeline, Allow and a permit guard any call, such as one to a host that
// has its own breaker. Every admitted call must be reported on its permit.
func ExampleBreaker_Allow() {
	breaker := resilience.Must(resilience.NewBreaker(resilience.BreakerOptions{
		Name:                "inventory.internal:443",
		Mode:                resilience.TripConsecutiveFailures,
		ConsecutiveFailures: 2,
	}))
	// send stands for a call to the host that returns callErr.
	send := func(ctx context.Context, callErr error) error {
		permit, err := breaker.Allow()
		if err != nil {
			return err // a *BreakerOpenError
		}
		// Record classifies the outcome as a pipeline would: a cancelled call does
		// not count. Done(failed) reports a verdict of one's own instead.
		permit.Record(ctx, resilience.Outcome{Err: callErr})
		return callErr
	}

	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	reset := errors.New("connection reset")
	fmt.Println(send(ctx, reset))
	fmt.Println(send(cancelled, cancelled.Err()), "(not counted)")
	fmt.Println(send(ctx, reset))
	fmt.Println(send(ctx, nil))

	s := breaker.Snapshot()
	fmt.Printf("%s: %s, %d trip(s), half-opens %s after opening\n", s.Name, s.State, s.Trips, s.HalfOpensAt.Sub(s.OpenedAt))
	// Output:
	// connection reset
	// context canceled (not counted)
	// connection reset
	// resilience: circuit breaker "inventory.internal:443" is open (half-opens in 5s)
	// inventory.internal:443: open, 1 trip(s), half-opens 5s after opening
}
