package jetstream

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/rampart-go/rampart/bus"
)

// TestToMessageCEImpliedHeader reads a Rampart-Ce message that also has, as
// headers of their own, envelope headers the compact form implies (ce-id,
// ce-type, ce-specversion) with other values than the message gives: the
// transport never publishes such a message, and toMessage must not silently
// replace the header that came with the value it implies, but list the
// message in HeaderInvalid so that the bus dead-letters it with a reason.
func TestToMessageCEImpliedHeader(t *testing.T) {
	tr := &Transport{names: newNames("rampart")}
	subject := tr.names.eventSubject("tests.x.v1")
	for _, own := range []nats.Header{
		{bus.HeaderID: {"other-id"}},
		{bus.HeaderType: {"tests.other.v1"}},
		{bus.HeaderSpecVersion: {"0.3"}},
	} {
		h := nats.Header{"Nats-Msg-Id": {"id-1"}, ceHeader: {"source=/a"}}
		for k, v := range own {
			h[k] = v
		}
		m := tr.toMessage(subject, h, nil)
		for k, v := range own {
			if got := m.Headers[k]; got != v[0] && m.Headers[bus.HeaderInvalid] == "" {
				t.Errorf("toMessage(%v) has %s = %q and no %s: the header %q came with was lost", h, k, got, bus.HeaderInvalid, v[0])
			}
		}
	}
}
