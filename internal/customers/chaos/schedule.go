package chaos

import (
	"fmt"
	"time"

	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/sim"
)

// Kind is what an [Injection] does.
type Kind string

// The kinds of injection.
const (
	// PaymentFaults, InventoryFaults and EmailFaults set the faults of a
	// simulator (an outage, error rates, latency) for a while, then clear them.
	PaymentFaults   Kind = "payments"
	InventoryFaults Kind = "inventory"
	EmailFaults     Kind = "email"
	// BrokerCut cuts the service's connections to the broker: on RabbitMQ with
	// rabbitmqctl close_connection, for the connections to the run's own virtual
	// host (other programs on the broker are left alone); on the embedded
	// JetStream server by
	// stopping the server and starting it again on its data directory after
	// Injection.For (zero means 1s), through [wiring.Server.CutBrokerConnection].
	// The load goes on meanwhile.
	BrokerCut Kind = "broker-cut"
	// Restart shuts the service down gracefully and starts a new one on the same
	// data directory, address and simulators.
	Restart Kind = "restart"
)

// Injection is one fault of the schedule.
type Injection struct {
	At     time.Duration    // from the start of the load
	For    time.Duration    // how long faults last; the embedded broker's downtime for BrokerCut; ignored by Restart
	Kind   Kind             //
	Faults providers.Faults // for PaymentFaults, InventoryFaults, EmailFaults
}

func (in Injection) String() string {
	switch in.Kind {
	case BrokerCut, Restart:
		return string(in.Kind)
	}
	f := in.Faults
	var what string
	switch {
	case f.Outage:
		what = "outage"
	case f.ErrorRate > 0 || f.LostRate > 0:
		what = fmt.Sprintf("error rate %.0f%%, lost answers %.0f%%", 100*f.ErrorRate, 100*f.LostRate)
	default:
		what = "faults"
	}
	if l := f.Latency.String(); l != "0" {
		what += ", latency " + l
	}
	return fmt.Sprintf("%s %s for %s", in.Kind, what, in.For)
}

// DefaultSchedule is the rehearsal's schedule for a load of duration d: a
// payments outage, an e-mail latency spike with errors, a service restart, an
// inventory outage, a broker connection cut, and payments answers lost (the
// charge is made, the answer never arrives).
func DefaultSchedule(d time.Duration) []Injection {
	at := func(pct int) time.Duration { return d * time.Duration(pct) / 100 }
	spike, err := sim.ParseLatency("uniform:200ms-1500ms")
	if err != nil {
		panic(err) // a constant
	}
	mix, err := sim.ParseMix("503:3,500:1")
	if err != nil {
		panic(err)
	}
	return []Injection{
		{At: at(10), For: at(15), Kind: PaymentFaults, Faults: providers.Faults{Outage: true}},
		{At: at(30), For: at(15), Kind: EmailFaults, Faults: providers.Faults{Latency: spike, ErrorRate: 0.3, Statuses: mix}},
		{At: at(50), Kind: Restart},
		{At: at(60), For: at(12), Kind: InventoryFaults, Faults: providers.Faults{Outage: true}},
		{At: at(75), Kind: BrokerCut},
		{At: at(80), For: at(10), Kind: PaymentFaults, Faults: providers.Faults{ErrorRate: 0.1, LostRate: 0.2, Statuses: mix}},
	}
}
