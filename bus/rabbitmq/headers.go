package rabbitmq

import (
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/internal/cecompact"
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

// headerCompact marks a message published in the compact form and carries the
// envelope headers that have no AMQP basic property. In that form the event ID,
// type, content type and correlation ID travel as message-id, type,
// content-type and correlation-id only, and the other CloudEvents attributes and
// the attempt ([compactAttrs]) as this header's value: comma-separated
// name=value entries named by the CloudEvents attribute ("source", "time",
// "datacontenttype", …; "attempt" for rampart-attempt), with "%", ",", the
// space and control bytes in a value escaped as %XX ("%25", "%2C", …; see
// package cecompact)
// ("source=/customers,time=2026-11-27T14:55:00.123456789Z"). Without an entry,
// id, type, datacontenttype and correlationid are their property's value (if
// not empty) and specversion is "1.0"; a bare name ("specversion") says the
// header is absent. (The bus writes no attempt for the first delivery.)
// Everything else (traceparent, the headers of a retry or of dead-lettering,
// extensions) stays in the table, and a header that is in the table wins over
// the compact form.
//
// Why: RabbitMQ's cost per message grows with the content header, the header
// table most of all, much faster than with the body. On RabbitMQ 3.10 with a
// classic queue, raw amqp091-go publishing 120-byte messages lost ~8% of its
// rate to a single header of 10 bytes, ~23% to one of 45 bytes and ~32% to one
// of 120 bytes, ~25% to the envelope as one header per attribute and ~18% to
// the compact form (BenchmarkRabbitHeaderCost in the bench module;
// docs/benchmarks.md).
const headerCompact = "rampart-ce"

// headerProps marks the form before the compact one: it lists the envelope
// headers moved to basic properties, the others being in the table. Consumers
// still read it (messages published by an earlier version).
const headerProps = "rampart-amqp-props"

// compactAttr is an envelope header of the compact form: its header, the name
// of its entry, and where its value comes from when it has no entry: the basic
// property prop (one of the prop constants), or the implied value, or nowhere.
type compactAttr struct {
	header, name, implied string
	prop                  int
}

// The basic properties of compactAttr.prop.
const (
	propNone = iota
	propMessageID
	propType
	propContentType
	propCorrelationID
)

// compactAttrs are the headers the compact form carries, in its order.
var compactAttrs = [...]compactAttr{
	{header: bus.HeaderID, name: "id", prop: propMessageID},
	{header: bus.HeaderType, name: "type", prop: propType},
	{header: bus.HeaderContentType, name: "datacontenttype", prop: propContentType},
	{header: bus.HeaderCorrelationID, name: "correlationid", prop: propCorrelationID},
	{header: bus.HeaderSpecVersion, name: "specversion", implied: bus.SpecVersion},
	{header: bus.HeaderSource, name: "source"},
	{header: bus.HeaderTime, name: "time"},
	{header: bus.HeaderAttempt, name: "attempt"},
	{header: bus.HeaderSubject, name: "subject"},
	{header: bus.HeaderCausationID, name: "causationid"},
	{header: bus.HeaderPartitionKey, name: "partitionkey"},
}

// property returns the basic property of p that prop names, or "".
func property(p *amqp.Publishing, prop int) string {
	switch prop {
	case propMessageID:
		return p.MessageId
	case propType:
		return p.Type
	case propContentType:
		return p.ContentType
	case propCorrelationID:
		return p.CorrelationId
	}
	return ""
}

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
// event ID, type the event type, app-id the service's name (no timestamp: the
// envelope's time is more precise, and each property costs the client and the
// broker), and the envelope in the compact form ([headerCompact]): ce-id,
// ce-type, content-type and ce-correlationid in their basic properties (each
// when it has the property's value and fits it), the CloudEvents attributes
// without a property and the attempt in the [headerCompact] header, and the
// other headers as a table of strings, with room for extra more. [message] puts them back, so that the bus
// reads the headers it published. With Options.EnvelopeInTable, the table has
// every header (the properties are set too) and there is no [headerCompact].
func (t *Transport) publishing(m bus.Message, extra int) amqp.Publishing {
	p := amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		MessageId:    shortstr(m.ID),
		Type:         shortstr(m.Type),
		AppId:        t.opts.Name,
		Body:         m.Body,
	}
	if v := m.Headers[bus.HeaderContentType]; len(v) <= maxShortstr {
		p.ContentType = v
	}
	if v := m.Headers[bus.HeaderCorrelationID]; len(v) <= maxShortstr {
		p.CorrelationId = v
	}
	if t.opts.EnvelopeInTable {
		h := make(amqp.Table, len(m.Headers)+extra)
		for k, v := range m.Headers {
			if k != headerProps && k != headerCompact { // not the bus's (an imported message's, say)
				h[k] = v
			}
		}
		p.Headers = h
		return p
	}
	// inTable: bit i says compactAttrs[i] stays in the table (a header whose
	// property has another value); the table wins over the compact form.
	var list strings.Builder
	inTable := 0
	for i, a := range compactAttrs {
		v, ok := m.Headers[a.header]
		implied := a.implied
		if a.prop != propNone {
			implied = property(&p, a.prop)
			if ok && v != implied {
				inTable |= 1 << i
				continue
			}
		}
		switch {
		case ok && v == implied && v != "":
		case ok:
			cecompact.AppendEntry(&list, a.name, v)
		case implied != "":
			cecompact.AppendName(&list, a.name) // absent, not implied
		}
	}
	h := make(amqp.Table, extra+1)
	for k, v := range m.Headers {
		switch k {
		case bus.HeaderID:
			if inTable&(1<<0) == 0 {
				continue
			}
		case bus.HeaderType:
			if inTable&(1<<1) == 0 {
				continue
			}
		case bus.HeaderContentType:
			if inTable&(1<<2) == 0 {
				continue
			}
		case bus.HeaderCorrelationID:
			if inTable&(1<<3) == 0 {
				continue
			}
		case bus.HeaderSpecVersion, bus.HeaderSource, bus.HeaderTime, bus.HeaderAttempt,
			bus.HeaderSubject, bus.HeaderCausationID, bus.HeaderPartitionKey:
			continue // in the compact header
		case headerProps, headerCompact:
			// Not the bus's (an imported message's, say): this table's own
			// follows.
			continue
		}
		h[k] = v
	}
	h[headerCompact] = list.String()
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
// the bus dead-letters the message with the reason. A message in the compact
// form ([headerCompact]) gets its envelope headers back from the basic
// properties and that header; one of the form before it, those that
// [headerProps] lists from their properties; any other has the headers of its
// table alone (the properties of another publisher are not read as headers).
func message(d *amqp.Delivery) (bus.Message, origin) {
	o := origin{exchange: d.Exchange, routingKey: d.RoutingKey}
	h := make(map[string]string, len(d.Headers)+8) // room for the headers put back
	var bad map[string]any
	props, compact, isCompact := "", "", false
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
		case k == headerCompact:
			if compact, isCompact = v.(string); isCompact {
				continue
			}
			// The marker of the compact form, but not text: dead-lettered
			// with the reason, like any header of the wrong type.
			if bad == nil {
				bad = make(map[string]any)
			}
			bad[k] = v
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
	switch {
	case isCompact:
		unpack(h, d, compact)
	case props != "":
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

// unpack puts back into h the envelope headers of a message in the compact
// form, whose [headerCompact] is list: the value of each attribute's entry, or
// with no entry its basic property (when not empty) or implied value; a bare
// name is an absent header. A header that the table has too keeps the table's
// value; entries it does not know are skipped.
func unpack(h map[string]string, d *amqp.Delivery, list string) {
	var vals [len(compactAttrs)]string
	listed, valued := 0, 0 // bit i: compactAttrs[i] has an entry, with a value
	for f := range strings.SplitSeq(list, ",") {
		name, v, hasValue := strings.Cut(f, "=")
		for i, a := range compactAttrs {
			if a.name == name {
				listed |= 1 << i
				if hasValue {
					valued |= 1 << i
					// A malformed escape leaves the value as sent: such a
					// value was not made by this transport, and the bus's
					// decoder then checks it and names the header if it is
					// wrong.
					vals[i], _ = cecompact.Unescape(v)
				}
				break
			}
		}
	}
	props := amqp.Publishing{MessageId: d.MessageId, Type: d.Type, ContentType: d.ContentType, CorrelationId: d.CorrelationId}
	for i, a := range compactAttrs {
		v, ok := vals[i], valued&(1<<i) != 0
		if listed&(1<<i) == 0 {
			v = a.implied
			if a.prop != propNone {
				v = property(&props, a.prop)
			}
			ok = v != ""
		}
		if !ok {
			continue
		}
		if _, inTable := d.Headers[a.header]; !inTable {
			h[a.header] = v
		}
	}
}

// fromProperty sets header k of h to the value v of its basic property if props
// (the [headerProps] of the form before the compact one) lists k, v is not
// empty and the table does not have k.
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
