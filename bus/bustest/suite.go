package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// Features say how the suite should treat a transport: what it can do beyond what
// every transport must, and how to pace the suite. The zero value suits the memory
// transport.
type Features struct {
	// Unordered says that the transport does not deliver a queue's messages to a
	// single consumer in the order they were published; it skips the ordering test.
	Unordered bool
	// CutConnection, if set, cuts tr's connection to its broker (closing it from
	// the broker's side, or resetting it through a proxy) and returns; the transport
	// must reconnect by itself. Nil skips the reconnection test (the memory
	// transport has no connection).
	CutConnection func(t *testing.T, tr bus.Transport)
	// Republish, if set, publishes m, a message published before, so that the
	// broker delivers it again: for a broker that drops a message published again
	// with the same ID within a window (JetStream's Nats-Msg-Id), so that the
	// duplicate-detection tests still get the duplicate delivery they check. Nil
	// publishes m again with Transport.Publish.
	Republish func(ctx context.Context, tr bus.Transport, m bus.Message) error
	// RedeliveryDelays are the redelivery tiers the suite configures. Nil means
	// 20ms, 40ms.
	RedeliveryDelays []time.Duration
	// Timeout bounds every wait of the suite; a wait that times out fails the test
	// saying what it waited for. Zero means 10s.
	Timeout time.Duration
	// Messages is the number of messages of the load test. Zero means 2000.
	Messages int
}

// Run runs the conformance suite on the transports that newTransport returns:
// one new transport per test, connected to the same broker as the others (names
// are unique per test, so a shared broker is fine). The suite closes the transport
// when the test ends. Every transport must implement [bus.DeadLetterReader].
//
// Run checks: a round trip with every envelope attribute; thousands of messages
// over many concurrent consumers; competing consumers; fan-out; delayed
// redelivery with attempt counting; order per key; dead-lettering of undecodable,
// unknown-type, permanently failing and exhausted messages with their reason
// headers; duplicate detection through the inbox; shutdown with messages in
// flight, which loses none; reconnection after a cut connection (with
// Features.CutConnection); and closing.
func Run(t *testing.T, f Features, newTransport func(t *testing.T) bus.Transport) {
	if f.Timeout == 0 {
		f.Timeout = 10 * time.Second
	}
	if f.RedeliveryDelays == nil {
		f.RedeliveryDelays = []time.Duration{20 * time.Millisecond, 40 * time.Millisecond}
	}
	if f.Messages == 0 {
		f.Messages = 2000
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"RoundTrip", testRoundTrip},
		{"ManyMessages", testManyMessages},
		{"CompetingConsumers", testCompetingConsumers},
		{"FanOut", testFanOut},
		{"Redelivery", testRedelivery},
		{"OrderPerKey", testOrderPerKey},
		{"DeadLetterUndecodable", testDeadLetterUndecodable},
		{"DeadLetterUnknownType", testDeadLetterUnknownType},
		{"DeadLetterPermanent", testDeadLetterPermanent},
		{"DeadLetterMaxAttempts", testDeadLetterMaxAttempts},
		{"DuplicateSequential", testDuplicateSequential},
		{"DuplicateConcurrent", testDuplicateConcurrent},
		{"FailedAttemptLeavesNoMark", testFailedAttemptLeavesNoMark},
		{"ShutdownGraceful", testShutdownGraceful},
		{"ShutdownDeadline", testShutdownDeadline},
		{"Reconnect", testReconnect},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, setup(t, f, newTransport)) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// check compares named values and reports each mismatch as "name = got, want want".
func check(t *testing.T, what string, pairs ...any) {
	t.Helper()
	for i := 0; i+3 <= len(pairs); i += 3 {
		name, got, want := pairs[i], pairs[i+1], pairs[i+2]
		if got != want {
			t.Errorf("%s: %s = %#v, want %#v", what, name, got, want)
		}
	}
}
