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

// headerProps is the transport's own header that lists (comma-separated, in
// the order of [propHeaders]) the envelope headers that [Transport.publishing]
// moved into their AMQP basic properties: [message] takes those, and only those,
// from the properties. A message without it (the old form, with every header in
// the table, or another publisher's, which sets the properties for reasons of
// its own) is read from the table alone.
const headerProps = "rampart-amqp-props"

// propHeaders are the envelope headers that can travel in a basic property, in
// the order [headerProps] lists them.
var propHeaders = [...]string{bus.HeaderID, bus.HeaderType, bus.HeaderContentType, bus.HeaderCorrelationID}

// propLists holds the [headerProps] value of each set of moved headers: bit i of
// the index stands for propHeaders[i].
var propLists = func() (l [1 << len(propHeaders)]string) {
	for set := range l {
		var names []string
		for i, k := range propHeaders {
			if set&(1<<i) != 0 {
				names = append(names, k)
			}
		}
		l[set] = strings.Join(names, ",")
	}
	return l
}()

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
// property's value and fits it; the table's [headerProps] lists the headers
// moved. The others are a table of strings, with room for extra more. [message]
// puts them back, so that the bus reads the headers it published. With
// Options.EnvelopeInTable, the table has every header and no [headerProps] (the
// properties are set too).
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
	moved := 0 // bit i: propHeaders[i] is in its property
	h := make(amqp.Table, len(m.Headers)+extra+1)
	for k, v := range m.Headers {
		switch k {
		case bus.HeaderID:
			if v != "" && v == p.MessageId && !inTable {
				moved |= 1 << 0
				continue
			}
		case bus.HeaderType:
			if v != "" && v == p.Type && !inTable {
				moved |= 1 << 1
				continue
			}
		case bus.HeaderContentType:
			if v != "" && len(v) <= maxShortstr {
				p.ContentType = v
				if !inTable {
					moved |= 1 << 2
					continue
				}
			}
		case bus.HeaderCorrelationID:
			if v != "" && len(v) <= maxShortstr {
				p.CorrelationId = v
				if !inTable {
					moved |= 1 << 3
					continue
				}
			}
		case headerProps:
			// Not the bus's (an imported message's, say): this table's own
			// follows.
			continue
		}
		h[k] = v
	}
	if moved != 0 {
		h[headerProps] = propLists[moved]
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
// [headerProps] lists come from their basic properties (unless the table has
// them too); without [headerProps], the table is all the headers there are, and
// the properties (another publisher's, say) are not read as headers.
func message(d *amqp.Delivery) (bus.Message, origin) {
	o := origin{exchange: d.Exchange, routingKey: d.RoutingKey}
	h := make(map[string]string, len(d.Headers)+4)
	var bad map[string]any
	props := ""
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
		case k == headerProps:
			props, _ = v.(string)
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
	if props != "" {
		fromProperty(h, d.Headers, props, bus.HeaderID, d.MessageId)
		fromProperty(h, d.Headers, props, bus.HeaderType, d.Type)
		fromProperty(h, d.Headers, props, bus.HeaderContentType, d.ContentType)
		fromProperty(h, d.Headers, props, bus.HeaderCorrelationID, d.CorrelationId)
	}
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

// fromProperty sets header k of h to the value v of its basic property if props
// lists k, v is not empty and the table does not have k.
func fromProperty(h map[string]string, table amqp.Table, props, k, v string) {
	if v == "" || !listed(props, k) {
		return
	}
	if _, ok := table[k]; ok {
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
