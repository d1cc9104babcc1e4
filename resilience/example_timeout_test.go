package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

func ExampleNewTimeout() {
	timeout := resilience.Must(resilience.NewTimeout(resilience.TimeoutOptions{
		Name:    "lookup",
		Timeout: 10 * time.Millisecond,
	}))
	p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, timeout))

	// A call that takes too long has its context cancelled; it returns when it
	// notices, on the caller's goroutine.
	_, err := resilience.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		select {
		case <-time.After(time.Hour):
			return "too late", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, resilience.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// resilience: lookup timed out after 10ms
	// true true
}
