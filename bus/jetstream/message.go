package jetstream

import (
	"strings"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// toMessage turns a stored NATS message into a bus message: the headers but
// those of NATS ("Nats-Msg-Id"), with the envelope headers that the compact
// form carries in [ceHeader] or leaves out put back, so that the bus reads the
// headers that were published; the type from the subject. It reads the compact
// form of earlier versions too ([compactHeader]), and a message with neither
// header (the full form) as it is. A header with several values has no single
// text form, and a [ceHeader] it cannot read was not made by this transport:
// either is listed in HeaderInvalid, so that the bus dead-letters the message
// with the reason, and a [ceHeader] it cannot read is kept as it is.
func (t *Transport) toMessage(subject string, h map[string][]string, body []byte) bus.Message {
	typ, events := strings.CutPrefix(subject, t.names.eventsPrefix)
	ce := h[ceHeader]
	isCE := events && len(ce) == 1
	compact := false
	if events && !isCE {
		marker := h[compactHeader]
		compact = len(marker) == 1 && marker[0] == "1"
	}
	id, hasID := h[natsjs.MsgIDHeader]
	oneID := len(id) == 1
	entries := -1
	if isCE {
		entries = ceCount(ce[0])
	}
	headers := make(map[string]string, headerCount(len(h), hasID, oneID, compact, entries))
	var bad map[string]any
	var seen uint // bit i: the header of ceEntries[i] came as a header of its own
	// A message this transport published with no header of its own (no trace
	// context, retry header or extension) has Nats-Msg-Id and ceHeader alone:
	// nothing to copy, and nothing that an implied header could contradict.
	others := !(isCE && hasID && len(h) == 2)
	if others {
		for k, v := range h {
			if strings.HasPrefix(k, "Nats-") || len(v) == 0 || isCE && k == ceHeader || compact && k == compactHeader {
				continue
			}
			if isCE {
				if i := ceIndex(k); i >= 0 {
					seen |= 1 << i
				}
			}
			if len(v) > 1 {
				if bad == nil {
					bad = make(map[string]any)
				}
				bad[k] = v
				continue
			}
			headers[k] = v[0]
		}
	}
	if isCE || compact {
		// An implied header that came as a header of its own with another
		// value stays as it came, listed in HeaderInvalid: this transport
		// does not publish such a message, and neither value may be lost.
		implied := func(k, v string) {
			if !others {
				headers[k] = v
				return
			}
			if own, ok := headers[k]; ok && own != v {
				if bad == nil {
					bad = make(map[string]any)
				}
				bad[k] = own
				return
			}
			headers[k] = v
		}
		implied(bus.HeaderSpecVersion, bus.SpecVersion)
		implied(bus.HeaderType, typ)
		var natsID string
		if oneID {
			natsID = id[0]
		}
		if isCE {
			var err error
			if natsID, err = readCE(headers, ce[0], natsID, oneID, seen); err != nil {
				if bad == nil {
					bad = make(map[string]any)
				}
				bad[ceHeader] = ce[0]
				headers[ceHeader] = ce[0]
			}
			oneID = oneID || natsID != ""
		}
		if oneID {
			implied(bus.HeaderID, natsID)
		}
	}
	if bad != nil {
		headers[bus.HeaderInvalid] = bus.InvalidHeaders(bad)
	}
	m := bus.Message{ID: headers[bus.HeaderID], Type: typ, Headers: headers, Body: body}
	if k := headers[bus.HeaderPartitionKey]; k != "" {
		m.Key = k
	} else {
		m.Key = headers[bus.HeaderSubject]
	}
	return m
}

// headerCount returns how many headers toMessage makes of n NATS headers
// (hasID: one is Nats-Msg-Id, oneID: with one value) of a message in the
// compact form of [ceHeader] with that many entries (entries >= 0), or in
// that of [compactHeader] (compact), or in the full form: exactly as many for
// a message as the transport publishes it, at most a few more for others
// (other NATS headers, empty or multi-valued ones, an "id" entry). A Go map of
// up to eight entries is a single group; one more is a full table twice the
// size, and a message with the five other envelope headers that the bus
// usually sets has exactly eight.
func headerCount(n int, hasID, oneID, compact bool, entries int) int {
	if hasID {
		n-- // Nats-Msg-Id
	}
	switch {
	case entries >= 0:
		n += 2 + entries // less ceHeader, plus ce-specversion, ce-type and ce-id, and the entries
	case compact:
		n++ // less the marker, plus ce-specversion and ce-type
		if oneID {
			n++ // ce-id
		}
	}
	return n
}
