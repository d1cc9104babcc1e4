package resilience_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-go/rampart/resilience"
)

func ExampleNewChaos() {
	errOutage := errors.New("simulated outage")
	chaos := resilience.Must(resilience.NewChaos(resilience.ChaosOptions{
		Name:      "staging-chaos",
		Enabled:   true,
		FaultRate: 1, // every call fails; 0.05 would fail one in twenty
		Fault:     errOutage,
	}))
	p := resilience.Must(resilience.NewPipeline(resilience.PipelineOptions{}, chaos))
	call := func(context.Context) (string, error) { return "ok", nil }

	_, err := resilience.Do(context.Background(), p, call)
	fmt.Println(err)

	chaos.SetEnabled(false) // the rehearsal is over
	fmt.Println(resilience.Do(context.Background(), p, call))
	// Output:
	// simulated outage
	// ok <nil>
}
