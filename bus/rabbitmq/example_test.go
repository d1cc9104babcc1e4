package rabbitmq_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/idempotency"
)

// CustomerSignedUp is a domain event: a plain Go struct.
type CustomerSignedUp struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
}

// Connecting to RabbitMQ and wiring a bus: publish an event, and handle it in
// the "welcome-email" subscription (queue rampart.welcome-email, with its retry
// and dead-letter queues). It needs a broker, so it has no output to check.
func ExampleNew() {
	ctx := context.Background()
	startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tr, err := rabbitmq.New(startCtx, "amqp://guest:guest@localhost:5672/", rabbitmq.Options{
		Name:   "customers", // the connections are "customers (publish)" and "customers (consume)"
		Logger: slog.Default(),
	})
	switch {
	case errors.Is(err, rabbitmq.ErrAccessRefused), errors.Is(err, rabbitmq.ErrVhost):
		log.Fatalf("check the user, password and vhost in the broker URL: %v", err)
	case err != nil:
		log.Fatal(err)
	}
	defer tr.Close()

	reg := bus.NewRegistry()
	if err := bus.Register[CustomerSignedUp](reg, "customers.customer-signed-up.v1"); err != nil {
		log.Fatal(err)
	}
	b, err := bus.New(tr, bus.Options{
		Source:   "/customers",
		Registry: reg,
		Inbox:    idempotency.NewMemory(idempotency.MemoryOptions{}), // one instance; Redis for several
		Subscriptions: map[string]bus.SubscriptionOptions{
			"welcome-email": {Workers: 8, Prefetch: 32},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	err = bus.Handle(b, "welcome-email", func(ctx context.Context, e CustomerSignedUp, m bus.Meta) error {
		log.Printf("send a welcome e-mail to %s (attempt %d)", e.Email, m.Attempt)
		return nil // ack; an error redelivers it later, bus.Permanent(err) dead-letters it
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Start(startCtx); err != nil {
		log.Fatal(err) // a *rabbitmq.ConflictError if a queue exists with other arguments
	}
	// Publish returns once RabbitMQ has confirmed the event.
	if err := b.Publish(ctx, CustomerSignedUp{CustomerID: "c-42", Email: "ada@example.com"}, bus.WithSubject("c-42")); err != nil {
		log.Fatal(err)
	}

	shutdownCtx, cancelShutdown := context.WithTimeout(ctx, 30*time.Second)
	defer cancelShutdown()
	if err := b.Shutdown(shutdownCtx); err != nil {
		log.Print(err)
	}
}
