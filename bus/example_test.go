package bus_test

import (
	"context"
	"fmt"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
)

// CustomerSignedUp is a domain event: a plain Go struct.
type CustomerSignedUp struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
}

func ExampleHandle() {
	tr := memory.New() // in-process; bus/rabbitmq and bus/jetstream for real brokers
	defer tr.Close()

	reg := bus.NewRegistry()
	if err := bus.Register[CustomerSignedUp](reg, "customers.customer-signed-up.v1"); err != nil {
		panic(err)
	}
	b, err := bus.New(tr, bus.Options{Source: "/customers", Registry: reg})
	if err != nil {
		panic(err)
	}

	handled := make(chan struct{})
	err = bus.Handle(b, "welcome-email", func(ctx context.Context, e CustomerSignedUp, m bus.Meta) error {
		fmt.Printf("%s from %s (attempt %d): send a welcome e-mail to %s\n", m.Type, m.Source, m.Attempt, e.Email)
		close(handled)
		return nil // acked; an error would redeliver it later, bus.Permanent(err) dead-letter it
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		panic(err)
	}
	// Publish returns once the transport has confirmed the event.
	if err := b.Publish(ctx, CustomerSignedUp{CustomerID: "c-42", Email: "ada@example.com"}, bus.WithSubject("c-42")); err != nil {
		panic(err)
	}
	<-handled
	if err := b.Shutdown(ctx); err != nil {
		panic(err)
	}
	// Output:
	// customers.customer-signed-up.v1 from /customers (attempt 1): send a welcome e-mail to ada@example.com
}
