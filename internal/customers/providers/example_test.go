package providers_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/resilience"
)

// The payment simulator on a loopback port, and an order charged through the
// PaymentClient while the provider loses an answer: the client retries with the
// order ID as its idempotency key, and the provider charges once.
func ExamplePaymentClient() {
	sim, err := providers.NewPaymentSimulator(providers.PaymentSimOptions{
		// The first answer is lost: the charge is made, the client sees a 503.
		Faults: providers.Faults{LoseNext: 1, RetryAfter: -1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()

	cfg := sim.ClientConfig() // the simulator's URL and client credentials
	cfg.HTTP.Retry.Backoff = resilience.Backoff{Base: 10 * time.Millisecond}
	payments, err := providers.NewPaymentClient(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer payments.Close()
	ctx := context.Background()

	pay, err := payments.ProcessPayment(ctx, providers.PaymentRequest{
		OrderID: "A-17", AmountMinor: 1999, Currency: "EUR", CustomerID: "c-42"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s, %d %s\n", pay.ID, pay.Status, pay.AmountMinor, pay.Currency)
	st := sim.Stats()
	fmt.Printf("charges for A-17: %d (answers lost: %d, replayed: %d)\n", sim.Charges("A-17"), st.Lost, st.Replays)

	_, err = payments.ProcessPayment(ctx, providers.PaymentRequest{OrderID: "A-18", AmountMinor: 0, Currency: "EUR"})
	var e *providers.Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, providers.ErrInvalidRequest), resilience.IsPermanent(err), e.StatusCode, e.Fields)
	}

	_, err = payments.GetPaymentStatus(ctx, "pay_999999")
	fmt.Println(errors.Is(err, providers.ErrPaymentNotFound))
	// Output:
	// pay_000001: succeeded, 1999 EUR
	// charges for A-17: 1 (answers lost: 1, replayed: 1)
	// true true 422 [{amount_minor must be above zero}]
	// true
}
