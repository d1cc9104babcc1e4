package rabbitmq

import (
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
)

// Headers the transport keeps for itself on a redelivered copy: where the message
// was first consumed from, since a copy comes back from its retry queue through
// the default exchange. They are removed from the headers the bus sees.
const (
	headerOriginExchange   = "rampart-amqp-exchange"
	headerOriginRoutingKey = "rampart-amqp-routing-key"
)

// brokerHeader reports whether a header is the broker's own bookkeeping, which
// the transport drops on receipt: x-death (an array of tables) and the
// x-first-death-* and x-last-death-* headers of dead-lettering, and the
// x-delivery-count of quorum queues.
func brokerHeader(name string) bool {
	if !strings.HasPrefix(name, "x-") {
		return false
	}
	return name == "x-death" || name == "x-delivery-count" ||
		strings.HasPrefix(name, "x-first-death-") || strings.HasPrefix(name, "x-last-death-")
}

// headerUnset is the transport's own header that lists (comma-separated) the
// envelope headers a message does not have although its AMQP property is set:
// so that message does not fill them in from the property. Only a message
// without ce-id or ce-type header (not one of the bus's) carries it.
const headerUnset = "rampart-amqp-unset"

// maxShortstr is the longest AMQP short string: the longest value of a basic
// property such as message-id (amqp091-go fails, and closes the connection, on a
// longer one).
const maxShortstr = 255

// shortstr returns s if it fits an AMQP short string, else "".
func shortstr(s string) string {
	if len(s) > maxShortstr {
		return ""
	}
	return s
}

// publishing returns the AMQP message that carries m: persistent, message-id the
// event ID, type the event type, app-id the service's name, and the headers. The
// envelope headers that AMQP has a basic property for travel in the property
// instead of the header table (the table costs the client and the broker much
// more to encode and parse): ce-id as message-id, ce-type as type, content-type
// as content-type and ce-correlationid as correlation-id, each when it has the
// property's value and fits it. The others are a table of strings, with room for
// extra more. [message] puts them back, so that the bus reads the headers it
// published. With Options.EnvelopeInTable, the table has every header too.
func (t *Transport) publishing(m bus.Message, extra int) amqp.Publishing {
	p := amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		MessageId:    shortstr(m.ID),
		Type:         shortstr(m.Type),
		AppId:        t.opts.Name,
		Timestamp:    time.Now(),
		Body:         m.Body,
	}
	inTable := t.opts.EnvelopeInTable
	h := make(amqp.Table, len(m.Headers)+extra)
	for k, v := range m.Headers {
		switch k {
		case bus.HeaderID:
			if v != "" && v == p.MessageId && !inTable {
				continue
			}
		case bus.HeaderType:
			if v != "" && v == p.Type && !inTable {
				continue
			}
		case bus.HeaderContentType:
			if v != "" && len(v) <= maxShortstr {
				p.ContentType = v
				if !inTable {
					continue
				}
			}
		case bus.HeaderCorrelationID:
			if v != "" && len(v) <= maxShortstr {
				p.CorrelationId = v
				if !inTable {
					continue
				}
			}
		}
		h[k] = v
	}
	// A message whose ID or type is not in its headers (not the bus's: a foreign
	// one, dead-lettered and imported, say) says so, or message would add them.
	_, hasID := m.Headers[bus.HeaderID]
	_, hasType := m.Headers[bus.HeaderType]
	switch {
	case p.MessageId != "" && !hasID && p.Type != "" && !hasType:
		h[headerUnset] = bus.HeaderID + "," + bus.HeaderType
	case p.MessageId != "" && !hasID:
		h[headerUnset] = bus.HeaderID
	case p.Type != "" && !hasType:
		h[headerUnset] = bus.HeaderType
	}
	p.Headers = h
	return p
}

// origin is where a message was first consumed from.
type origin struct {
	exchange, routingKey string
}

// message turns a delivery (or a basic.get) into the message the bus reads.
// Header values are turned into text with [bus.HeaderText]; those that have no
// text form (tables, arrays, decimals) are listed in [bus.HeaderInvalid], so that
// the bus dead-letters the message with the reason. The envelope headers that
// [Transport.publishing] carries in basic properties come back from them, unless
// the table has the header (messages published before, with every header in the
// table, or by other publishers) or [headerUnset] names it.
func message(d *amqp.Delivery) (bus.Message, origin) {
	o := origin{exchange: d.Exchange, routingKey: d.RoutingKey}
	h := make(map[string]string, len(d.Headers)+4)
	var bad map[string]any
	unset := ""
	for k, v := range d.Headers {
		switch {
		case k == headerOriginExchange:
			if s, ok := v.(string); ok {
				o.exchange = s
			}
			continue
		case k == headerOriginRoutingKey:
			if s, ok := v.(string); ok {
				o.routingKey = s
			}
			continue
		case k == headerUnset:
			unset, _ = v.(string)
			continue
		case brokerHeader(k):
			continue
		}
		s, ok := bus.HeaderText(v)
		if !ok {
			if bad == nil {
				bad = make(map[string]any)
			}
			bad[k] = v
			continue
		}
		h[k] = s
	}
	if bad != nil {
		h[bus.HeaderInvalid] = bus.InvalidHeaders(bad)
	}
	fromProperty(h, d.Headers, unset, bus.HeaderID, d.MessageId)
	fromProperty(h, d.Headers, unset, bus.HeaderType, d.Type)
	fromProperty(h, d.Headers, unset, bus.HeaderContentType, d.ContentType)
	fromProperty(h, d.Headers, unset, bus.HeaderCorrelationID, d.CorrelationId)
	m := bus.Message{ID: d.MessageId, Type: d.Type, Headers: h, Body: d.Body}
	if m.ID == "" {
		m.ID = h[bus.HeaderID]
	}
	if m.Type == "" {
		m.Type = h[bus.HeaderType]
	}
	if m.Key = h[bus.HeaderPartitionKey]; m.Key == "" {
		m.Key = h[bus.HeaderSubject]
	}
	return m, o
}

// fromProperty sets header k of h to the value v of its basic property, unless v
// is empty, the table has k, or unset lists it.
func fromProperty(h map[string]string, table amqp.Table, unset, k, v string) {
	if v == "" {
		return
	}
	if _, ok := table[k]; ok {
		return
	}
	if unset != "" && listed(unset, k) {
		return
	}
	h[k] = v
}

// listed reports whether the comma-separated list has k.
func listed(list, k string) bool {
	for f := range strings.SplitSeq(list, ",") {
		if f == k {
			return true
		}
	}
	return false
}
