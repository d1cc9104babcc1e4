// Package bustest is the conformance suite of [bus.Transport] implementations:
// every transport passes [Run], so that the bus behaves the same on each broker.
//
//	func TestConformance(t *testing.T) {
//		bustest.Run(t, bustest.Features{}, func(t *testing.T) bus.Transport { return memory.New() })
//	}
//
// The suite publishes and consumes through real buses, checks what handlers see
// and how each delivery is settled ([bus.Options.OnSettle]), and reads dead
// letters through [bus.DeadLetterReader]. Every wait is bounded by
// [Features.Timeout] and fails with what it waited for; broker-backed transports
// set [Features.CutConnection] to run the reconnection test.
package bustest
