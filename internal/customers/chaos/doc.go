// Package chaos is the load and failure rehearsal of the customers service: it
// runs the service in-process on its embedded defaults, drives a steady mix of
// requests at it, injects provider outages, latency spikes, error rates, a
// broker connection cut and a service restart on a schedule, and then checks
// that every effect happened exactly once.
//
//	go run ./cmd/customers chaos -duration 60s
//	go run ./cmd/customers chaos -transport rabbitmq -bus-url amqp://guest:guest@127.0.0.1:5672/
//
// On RabbitMQ the rehearsal runs in a virtual host of its own, made with
// rabbitmqctl and deleted at the end, so that its queues and its broker cut
// (rabbitmqctl close_connection, for the service's connections only) leave the
// other programs on the broker alone.
//
// # What is checked
//
// After the load stops and the faults are cleared, [Run] waits (at most
// Config.SettleTimeout) for the outbox, the relay and the event handlers to
// drain and for the orders still pending payment to be charged, then counts,
// at the simulators, the effects of what the service's database holds:
//
//   - one payment per order (payments simulator, by order ID);
//   - one reservation per item of every order (inventory simulator, by order
//     and product);
//   - one "welcome" e-mail per customer and one "vip-welcome" e-mail per
//     promoted customer (e-mail simulator, distinct message IDs: a repeated
//     request for the same message is not a second e-mail);
//   - no effect for an order or a customer the database does not have.
//
// Any disagreement fails the run ([ErrDisagreement]); [Check] is that
// comparison, separate from the run so that it can be tested on its own.
// Dead-lettered events are listed with their reasons, and the disagreements
// they explain are marked so.
//
// # The simulators outlive the service
//
// The rehearsal starts the three simulators itself and gives the service
// clients of them through its configuration, so that a restart of the service
// (graceful Shutdown, then a new server on the same data directory) keeps the
// simulators and what they counted. The clients' credentials are files in the
// data directory, read by the service when it uses them.
package chaos
