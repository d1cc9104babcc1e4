// Package app runs the customers service's use cases: each one validates its
// input with package domain, changes the store in one transaction, and writes
// the events the change produces into the transactional outbox in that same
// transaction, so that the events are published if and only if the change
// commits.
//
//	svc, err := app.New(app.Config{Store: st, Events: b, Payments: payments})
//	c, err := svc.CreateCustomer(ctx, domain.NewCustomerInput{Name: "Ann", Email: "ann@example.com"})
//
// # Events
//
// [Service] writes each event with outbox.Write in the transaction of its
// change, in one step: the bus encodes it (the envelope the bus would publish: a
// new event ID, the correlation ID of ctx, the subject, which is also the
// ordering key) and the outbox adds it. Nothing is called after the commit: the
// outbox wakes the relay, which publishes the event at once. An event that no
// subscription is bound to (on RabbitMQ) is parked by the relay rather than
// retried. [Events] is the registry of the event type names; the bus must use
// it.
//
// # Orders and payments
//
// [Service.CreateOrder] commits the order (payment pending) with its
// OrderCreated event first, and only then charges the payment provider, with the
// order ID as idempotency key: a crash or an unavailable provider between the two
// leaves a pending order, never a charge without an order. [Service.ChargePending]
// charges the orders left pending; the service runs it in the background, and a
// charge asked twice is made once. A declined payment is an answer, recorded as
// such; a request the provider refuses (an unknown currency) fails the payment
// for good.
//
// # Errors
//
// Use cases return errors that match [domain.ErrInvalid] (with the fields),
// [domain.ErrNotFound], [domain.ErrConflict] or [ErrUnavailable] (a provider
// could not be reached: try later); anything else is a fault of the service.
//
// A Service is safe for concurrent use.
package app
