package jetstream

import "sync/atomic"

// ackQueueSize bounds the acknowledgements waiting for the ack pump; a worker
// acking beyond it waits for room.
const ackQueueSize = 4096

// Test hooks, nil outside the tests that set them (before they create a
// transport, and back to nil after closing it): they hold the race between Ack
// and Close open so that a test can check its outcome.
var (
	// testHookAckClaimed runs in Ack once the delivery is claimed, before the
	// ack is handed to the ack pump. Atomic, so that setting it from a test is
	// not a data race with the transports of other tests.
	testHookAckClaimed atomic.Pointer[func()]
	// testHookAckPumpStopped runs in the ack pump after its last look at the
	// queue at Close, before it returns.
	testHookAckPumpStopped atomic.Pointer[func()]
)

// ackPump publishes the acknowledgements (+ACK) of every consumer of the
// transport. Workers hand them over instead of publishing themselves: nats.go
// holds the connection's lock while it writes to the socket, and a dozen
// workers acking at once then spend their time waiting for it. One goroutine
// publishing them one after the other does not. Before it returns at Close, it
// publishes what is left.
func (t *Transport) ackPump() {
	defer t.wg.Done()
	for {
		// Publish what is queued before waiting on the two channels: a receive
		// that cannot block costs less than a select.
		select {
		case reply := <-t.acks:
			t.nc.Publish(reply, ackAck)
			continue
		default:
		}
		select {
		case reply := <-t.acks:
			t.nc.Publish(reply, ackAck)
		case <-t.done:
			for {
				select {
				case reply := <-t.acks:
					t.nc.Publish(reply, ackAck)
				default:
					if hook := testHookAckPumpStopped.Load(); hook != nil {
						(*hook)()
					}
					return
				}
			}
		}
	}
}
