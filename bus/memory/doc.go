// Package memory is an in-process [bus.Transport] with the semantics of a real
// broker: a durable (for the life of the process) queue per subscription, bound to
// event types; fan-out of every message to each bound queue; competing consumers
// on one queue, each with its prefetch; delayed redelivery on timers; and a
// dead-letter queue per subscription that [Transport.DeadLetters] lists. Publish
// is confirmed once the message is in every bound queue, and a message no queue is
// bound to is [bus.ErrUnroutable].
//
// It serves unit tests, single-binary demos and benchmarks of the bus itself. It
// starts no goroutine: timers of pending redeliveries are stopped by
// [Transport.Close], so tests can check for leaks and run under testing/synctest.
// It passes the conformance suite in bus/bustest.
package memory
