// Package wiring builds the customers service from its settings and runs it:
// the one place that knows every part. cmd/customers calls [Run]; tests call
// [New] and [Server.Shutdown].
//
// # What New builds, in order
//
//  1. the listener first (a second instance started by mistake stops there,
//     before it touches the data directory), the logger (JSON, with the
//     correlation IDs of [ContextHandler]), the Rampart configuration, the
//     Prometheus exposition and the telemetry every part reports to;
//  2. the database ([store.Open]: SQLite in the data directory, or PostgreSQL),
//     with its migrations, the outbox's and the SQL inbox's;
//  3. the providers' clients: for each provider with a client in the
//     configuration (clients.payments, clients.inventory, clients.email), a
//     client of it; for the others, a simulator on a loopback port, announced in
//     the log with the settings that replace it;
//  4. the bus: its transport (embedded JetStream by default; RabbitMQ, NATS or
//     memory by configuration), the event handlers on their subscriptions, with
//     the SQL inbox, and the outbox relay that publishes through the transport;
//  5. the use cases (package app), and a goroutine that charges the orders whose
//     payment is still pending;
//  6. the JWT verifier of the write endpoints (a development key and token when
//     no JWKS is configured), the health checker, and the HTTP server: the API,
//     /health/live, /health/ready, /metrics, /internal/stats and
//     /internal/deadletters/{subscription}.
//
// [Server.Shutdown] stops them in reverse, after making readiness fail.
//
// # Settings and configuration
//
// One config file (package config) holds both the service's own settings, in
// its section "customers" ([Section]: listen address, data directory, database,
// token verification, ...), and what configures the library's parts: the
// clients, the bus and its subscriptions, health, telemetry. It is layered over
// the built-in defaults ([DefaultConfig], [ConfigOptions]); without a file the
// service runs on the defaults alone. RAMPART_ variables override the file and
// the defaults (RAMPART_CUSTOMERS__ADDR, RAMPART_BUS__URL); flags and
// CUSTOMERS_ variables ([ParseSettings]) override the customers section.
//
// # Seams
//
// [Server.Stats] (GET /internal/stats) returns the counters of package stats,
// the breakers and the outbox backlog, for a dashboard; [Server.DeadLetters]
// (GET /internal/deadletters/{subscription}, writers only) lists a
// subscription's dead letters; [Server.Simulators] gives the simulators, whose
// faults a rehearsal sets ([providers.Faults]).
package wiring
