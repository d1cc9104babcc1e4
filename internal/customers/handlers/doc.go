// Package handlers holds the customers service's event handlers, each a
// subscription of the bus:
//
//   - welcome-email: on CustomerCreated, sends the "welcome" e-mail through the
//     e-mail provider;
//   - vip-email: on CustomerPromotedToVip, sends the "vip-welcome" e-mail;
//   - reserve-inventory: on OrderCreated, reserves stock for each item of the
//     order at the inventory provider.
//
// # Exactly once, as far as it can be
//
// Each handler is idempotent twice over. Toward the provider, its request
// carries an ID derived from the event's ID (the e-mail's message ID
// "welcome-<event ID>", the reservation ID "<event ID>-<item index>"), so that
// a provider asked again, after a redelivery, does the thing once. Toward the
// service's database, the handler records what it did (emails_sent,
// reservations) and marks the event done in the SQL inbox (sqlinbox DoneTx) in
// one transaction: the record and the mark commit together. With the inbox also
// set as the bus's, a duplicate delivery is acked without running the handler
// at all.
//
// A provider's refusal of the request itself (an invalid address, no stock) is
// returned marked permanent by the typed clients, and the bus dead-letters the
// event at once; an unavailable provider fails the attempt, and the bus
// redelivers it later.
//
// The handlers' calls carry the event's correlation ID as their X-Request-ID,
// which is the ID of the HTTP request that caused the event: one ID ties the
// request, its events and the providers' logs together.
package handlers
