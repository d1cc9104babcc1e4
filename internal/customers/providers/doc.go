// Package providers holds the three external providers of the customers service,
// as typed clients and as simulators that stand in for them on a first run and in
// tests: payments, inventory and e-mail.
//
// # Clients
//
// Each client is a few lines per method over [httpx] (retries with backoff and
// Retry-After, a breaker per host, timeouts, logs with secrets redacted), with the
// provider's authentication from [auth]:
//
//   - [PaymentClient]: OAuth2 client credentials ([auth.ClientCredentials]);
//     ProcessPayment uses the order ID as the Idempotency-Key, so an order is
//     charged once however often it is retried; GetPaymentStatus; RefundPayment.
//   - [InventoryClient]: HMAC-signed requests ([auth.HMACSigner]); Reserve is
//     idempotent by reservation ID.
//   - [EmailClient]: an API key ([auth.APIKey]); Send is idempotent by message ID.
//
// Constructors take a config struct (base URL, credentials, [httpx.Options] for the
// pipeline, logger, observer) and return the client or an error naming the field.
// Secrets are [auth.SecretSource]s, loaded when used, so that a rotated key needs
// no restart. The pipeline and the credentials can also come from package config,
// as it builds them for any client from the file's clients section (the payment
// client keeps treating a token endpoint's refusal as permanent):
//
//	opts, err := cfg.Clients["payments"].HTTPXOptions() // base_url, timeouts, retries, auth
//	payments, err := providers.NewPaymentClient(providers.PaymentClientConfig{HTTP: opts, Logger: logger})
//
//	payments, err := providers.NewPaymentClient(providers.PaymentClientConfig{
//		BaseURL:      "https://api.payments.example",
//		ClientID:     "customers",
//		ClientSecret: auth.NewSecret(os.Getenv("PAYMENTS_CLIENT_SECRET")),
//		Logger:       logger,
//	})
//	pay, err := payments.ProcessPayment(ctx, providers.PaymentRequest{
//		OrderID: "A-17", AmountMinor: 1999, Currency: "EUR", CustomerID: "c-1"})
//
// # Errors
//
// Every failed call returns an [*Error] naming the provider, the method and the
// business ID, that matches one of the kinds with [errors.Is]: [ErrUnavailable]
// (5xx, 408, 429, transport errors, timeouts, open breaker: try later),
// [ErrUnauthorized], [ErrInvalidRequest] (with [Error.Fields]),
// [ErrInvalidRecipient], [ErrIdempotencyKeyReused], [ErrPaymentNotFound],
// [ErrOutOfStock], [ErrConflict] and [ErrRejected]. Every kind but ErrUnavailable
// is a rejection of the request itself, returned marked with
// [resilience.Permanent]: an outer retry stops at once and the event bus
// dead-letters the message rather than redeliver what cannot succeed. Nobody needs
// to match an error's text, and no error holds a secret.
//
// # Simulators
//
// [PaymentSimulator], [InventorySimulator] and [EmailSimulator] behave like the real
// providers: authentication required, validation errors as RFC 9457 problems with
// field errors, idempotency honoured. Each is an [http.Handler], and Start(addr)
// serves it on a loopback port of its own until Close. ClientConfig returns the
// configuration of a client of the simulator, credentials included (random ones
// unless the options set them).
//
// Each counts what it did (Stats, also at GET /_sim/stats), down to the charges per
// order, the reservations per order item and the requests per message ID, so that
// a chaos run can check "exactly one payment per order" at the provider.
//
// [Faults] inject failures into a simulator's API: an outage, failures before the
// request takes effect, lost answers (the request takes effect, the client sees a
// failure: what idempotency keys are for), Retry-After, latency, from a seeded
// generator. They are set in the options, by SetFaults and SetOutage, or at run
// time through PUT /_sim/faults and POST/DELETE /_sim/outage. Latencies and status
// mixes are those of [sim], written the same way ("uniform:1ms-20ms",
// "503:3,500:1").
//
// # Concurrency
//
// Clients and simulators are safe for concurrent use. A simulator's Start runs one
// goroutine, which Close (idempotent) or Shutdown stops and waits for, along with
// the requests under way; clients start none.
package providers
