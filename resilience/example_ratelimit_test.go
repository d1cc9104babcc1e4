package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

func ExampleNewRateLimiter() {
	limiter := resilience.Must(resilience.NewRateLimiter(resilience.RateLimiterOptions{
		Name:  "partner-api",
		Rate:  1, // one call a second
		Burst: 2, // after two at once
	}))
	p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, limiter))

	for n := 1; n <= 3; n++ {
		_, err := resilience.Do(context.Background(), p, func(context.Context) (int, error) { return n, nil })
		var limited *resilience.RateLimitedError
		if errors.As(err, &limited) {
			fmt.Printf("call %d: rate limited, retry in about %s\n", n, limited.RetryAfter.Round(time.Second))
			continue
		}
		fmt.Printf("call %d: %v\n", n, err)
	}
	// Output:
	// call 1: <nil>
	// call 2: <nil>
	// call 3: rate limited, retry in about 1s
}
