package jetstream

import (
	"strings"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// toMessage turns a stored NATS message into a bus message: the headers but
// those of NATS ("Nats-Msg-Id") and the compact form's marker, with the
// envelope headers the compact form leaves out put back (see compactHeader);
// the type from the subject. A header with several values has no single text
// form and is listed in HeaderInvalid.
func (t *Transport) toMessage(subject string, h map[string][]string, body []byte) bus.Message {
	typ, events := strings.CutPrefix(subject, t.names.eventsPrefix)
	marker := h[compactHeader]
	compact := events && len(marker) == 1 && marker[0] == "1"
	id, hasID := h[natsjs.MsgIDHeader]
	headers := make(map[string]string, headerCount(len(h), hasID, compact, len(id) == 1))
	var bad map[string]any
	for k, v := range h {
		if strings.HasPrefix(k, "Nats-") || len(v) == 0 || compact && k == compactHeader {
			continue
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
	if compact {
		headers[bus.HeaderSpecVersion] = bus.SpecVersion
		headers[bus.HeaderType] = typ
		if len(id) == 1 {
			headers[bus.HeaderID] = id[0]
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

// headerCount returns how many headers toMessage makes of n NATS headers:
// exactly as many for a message as the transport publishes it, at most a few
// more for others (other NATS headers, empty or multi-valued ones). A Go map
// of up to eight entries is a single group; one more is a full table twice
// the size, and the compact form of a message with the five other envelope
// headers has exactly eight.
func headerCount(n int, hasID, compact, oneID bool) int {
	if hasID {
		n-- // Nats-Msg-Id
	}
	if compact {
		n++ // less the marker, plus ce-specversion and ce-type
		if oneID {
			n++ // ce-id
		}
	}
	return n
}
