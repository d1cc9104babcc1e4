package rabbitmq_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/bustest"
	"github.com/rampart-go/rampart/bus/rabbitmq"
)

func TestConformance(t *testing.T) {
	features := bustest.Features{
		RedeliveryDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
		Timeout:          20 * time.Second, // a liveness bound, generous for a loaded CI machine
		CutConnection: func(t *testing.T, tr bus.Transport) {
			if _, err := exec.LookPath("rabbitmqctl"); err != nil {
				// Without rabbitmqctl, cut the sockets from the client side.
				t.Logf("cutting the connection from the client side: %v", err)
				rabbitmq.CutSockets(tr.(*rabbitmq.Transport))
				return
			}
			closeConnections(t, tr.(*rabbitmq.Transport))
		},
	}
	bustest.Run(t, features, func(t *testing.T) bus.Transport {
		return newTransport(t, "", testOptions(t))
	})
}
