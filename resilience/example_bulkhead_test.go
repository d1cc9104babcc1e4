package resilience_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-go/rampart/resilience"
)

func ExampleNewBulkhead() {
	bulkhead := resilience.Must(resilience.NewBulkhead(resilience.BulkheadOptions{
		Name:          "reports",
		MaxConcurrent: 1, // one report at a time
		MaxQueue:      0, // and nobody waits
	}))
	p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, bulkhead))

	started, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		_, err := resilience.Do(context.Background(), p, func(context.Context) (int, error) {
			close(started)
			<-release
			return 1, nil
		})
		done <- err
	}()
	<-started
	fmt.Println("in flight:", bulkhead.InFlight())

	_, err := resilience.Do(context.Background(), p, func(context.Context) (int, error) { return 2, nil })
	fmt.Println(err)
	fmt.Println(errors.Is(err, resilience.ErrBulkheadFull))

	close(release)
	fmt.Println("first call:", <-done)
	fmt.Println("in flight:", bulkhead.InFlight())
	// Output:
	// in flight: 1
	// resilience: bulkhead "reports" is full (1 running, 0 queued)
	// true
	// first call: <nil>
	// in flight: 0
}
