package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/jetstream"
	"github.com/rampart-go/rampart/idempotency"
)

type CustomerCreated struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// A bus on an embedded NATS server: no broker to run, the streams in a data
// directory.
func Example() {
	dir, err := os.MkdirTemp("", "rampart-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tr, err := jetstream.Embedded(ctx, jetstream.EmbeddedOptions{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	b, err := bus.New(tr, bus.Options{Source: "/customers", Inbox: idempotency.NewMemory(idempotency.MemoryOptions{})})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	welcomed := make(chan struct{})
	err = bus.Handle(b, "welcome-email", func(ctx context.Context, e CustomerCreated, m bus.Meta) error {
		fmt.Printf("welcome %s (attempt %d)\n", e.Email, m.Attempt)
		close(welcomed)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if err := b.Publish(ctx, CustomerCreated{ID: "c-1", Email: "ada@example.com"}, bus.WithSubject("c-1")); err != nil {
		log.Fatal(err)
	}
	select {
	case <-welcomed:
	case <-ctx.Done():
		log.Fatal("not handled in time")
	}
	// Output: welcome ada@example.com (attempt 1)
}

// A handler that fails for good: the message goes to the dead-letter stream,
// where DeadLetters lists it with the reason.
func ExampleTransport_DeadLetters() {
	dir, err := os.MkdirTemp("", "rampart-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tr, err := jetstream.Embedded(ctx, jetstream.EmbeddedOptions{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	deadLettered := make(chan struct{})
	b, err := bus.New(tr, bus.Options{Source: "/customers", OnSettle: func(s bus.Settlement) {
		if s.Action == bus.ActionDeadLetter {
			close(deadLettered)
		}
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	err = bus.Handle(b, "crm-sync", func(ctx context.Context, e CustomerCreated, m bus.Meta) error {
		return bus.Permanent(errors.New("the CRM rejects " + e.Email))
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if err := b.Publish(ctx, CustomerCreated{ID: "c-2", Email: "bob@example"}); err != nil {
		log.Fatal(err)
	}
	select {
	case <-deadLettered:
	case <-ctx.Done():
		log.Fatal("not dead-lettered in time")
	}

	dead, err := tr.DeadLetters(ctx, "crm-sync", 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range dead {
		dl, err := bus.ParseDeadLetter(m.Headers)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s after %d attempt: %s\n", dl.Subscription, dl.Reason, dl.Attempts, dl.Error)
	}
	// Output: crm-sync: permanent-error after 1 attempt: the CRM rejects bob@example
}

// Connecting to a NATS server or cluster, with streams under a prefix of their
// own.
func ExampleConnect() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := jetstream.Connect(ctx, "nats://127.0.0.1:4222", jetstream.Options{Prefix: "shop", MaxInFlight: 512})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	_ = tr // bus.New(tr, bus.Options{...})
}
