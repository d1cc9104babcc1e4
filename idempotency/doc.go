// Package idempotency is the inbox of a message consumer: it remembers which messages
// a consumer has handled, so that a message the broker delivers twice runs its
// handler once.
//
// Brokers deliver at least once. RabbitMQ redelivers every message that was not acked
// when a consumer or its connection dies, and a publisher that lost a confirm in a
// reconnect publishes the message again. The inbox turns "at least once" into
// "effectively once" for the handler's side effects.
//
// # How a consumer uses it
//
// For each delivery, the consumer calls [Store.Claim] with a [Key] (its own name and the
// message's ID) and a lease a little longer than the handler may run:
//
//   - [Claimed]: run the handler. If it succeeds, call [Store.Done] with the token and
//     ack; if it fails, call [Store.Release], so that the redelivery runs it again.
//   - [AlreadyDone]: the message was handled before; ack it without running the handler.
//   - [InProgress]: another worker (of this process or another) is handling it right
//     now; do not run the handler, wait or let the broker redeliver it later.
//
// When Claim itself fails (Redis unreachable, [ErrFull]) the inbox cannot tell
// whether the message was handled: the safe course is not to run the handler and to
// hand the message back for a later redelivery.
//
// A claim lasts for its lease and no longer. If the handler outlives it, another
// delivery may claim the message and run it, and the late worker's Done or Release
// returns [ErrNotClaimed]: it cannot vouch that the message ran once, and should say
// so in its logs. Choose leases that comfortably cover the handler's timeout.
//
// The example of [NewMemory] shows the whole loop.
//
// # Keyed on message IDs, marked after success
//
// Two choices keep the inbox from losing messages; duplicate filters commonly get
// one or the other wrong:
//
//   - The key is the message ID the producer set (a UUIDv7 in Rampart's envelopes),
//     not a hash of the payload. Two different events with equal bodies (two orders of
//     the same item, two identical top-ups) are two messages; a payload hash would
//     handle the second as a duplicate and drop it.
//   - The mark is made only after the handler succeeded. A filter that records the
//     message when it arrives sees the redelivery of a failed first attempt as a
//     duplicate, acks it, and the message is lost. Here a failed handler releases its
//     claim and leaves no mark, and a crashed one leaves a claim that expires with its
//     lease.
//
// The key includes the consumer, so that one event handled by two subscriptions
// (a welcome e-mail and an inventory reservation) is two keys, each done on its own.
//
// # Choosing a store
//
// [Memory] keeps the inbox in the process: no network round trip (a microsecond or
// less and one allocation per message), bounded by a number of entries, lost on
// restart, and seen by this process only. It fits a single instance, tests and demos;
// with several instances of a service sharing a queue, a duplicate that reaches
// another instance is not recognised.
//
// [Redis] keeps it in Redis, shared by every instance, surviving restarts (as far as
// Redis persists), at the cost of one round trip per Claim, Done and Release. It fits
// services with several instances, or any service where duplicates are expensive.
//
// Neither store makes the handler's own writes and the mark one atomic step: if the
// process dies after the handler committed and before Done, the redelivery runs the
// handler again (the lease has expired by then). Handlers should therefore still be
// idempotent where they can. The SQL store in package
// [github.com/rampart-go/rampart/idempotency/sqlinbox] (PostgreSQL and SQLite) closes
// that gap: its DoneTx writes the mark in the same database transaction as the
// handler's own writes, so that the two commit or roll back together.
//
// # Testing a store
//
// Package [github.com/rampart-go/rampart/idempotency/idempotencytest] holds the
// conformance suite that every Store passes.
package idempotency
