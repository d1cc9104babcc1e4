package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/idempotency"
)

// A message is delivered three times: the first attempt fails, the redelivery
// succeeds, and a duplicate that arrives afterwards is acknowledged without running
// the handler again.
func ExampleNewMemory() {
	store := idempotency.NewMemory(idempotency.MemoryOptions{}) // 100,000 entries, 24h
	ctx := context.Background()
	k := idempotency.Key{Consumer: "welcome-email", MessageID: "0190a4b2-7c1e-7d4f-9a3b-2f6c8e1d5a70"}

	attempts := 0
	sendWelcomeEmail := func() error {
		attempts++
		if attempts == 1 {
			return errors.New("mail server unavailable")
		}
		return nil
	}

	for delivery := 1; delivery <= 3; delivery++ {
		status, token, err := store.Claim(ctx, k, 30*time.Second)
		if err != nil {
			fmt.Println("claim:", err)
			return
		}
		fmt.Printf("delivery %d: %s", delivery, status)
		if status != idempotency.Claimed {
			fmt.Println(": ack without running the handler")
			continue
		}
		if err := sendWelcomeEmail(); err != nil {
			fmt.Printf(": handler failed (%v), release for a redelivery\n", err)
			_ = store.Release(ctx, k, token)
			continue
		}
		fmt.Println(": handler succeeded, mark done")
		_ = store.Done(ctx, k, token)
	}
	// Output:
	// delivery 1: claimed: handler failed (mail server unavailable), release for a redelivery
	// delivery 2: claimed: handler succeeded, mark done
	// delivery 3: already-done: ack without running the handler
}

// A store shared by every instance of a service, in the Redis at REDIS_URL.
func ExampleNewRedis() {
	opts, err := redis.ParseURL(os.Getenv("REDIS_URL")) // e.g. redis://127.0.0.1:6379/0
	if err != nil {
		log.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()

	store := idempotency.NewRedis(client, idempotency.RedisOptions{Retention: 7 * 24 * time.Hour})
	status, token, err := store.Claim(context.Background(),
		idempotency.Key{Consumer: "welcome-email", MessageID: "0190a4b2-7c1e-7d4f-9a3b-2f6c8e1d5a70"},
		30*time.Second)
	if err != nil {
		log.Fatal(err) // a consumer would hand the message back for a later redelivery
	}
	fmt.Println(status, token != "")
}
