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

// publishing returns the AMQP message that carries m: headers as a table of
// strings, message-id the event ID, type the event type, content-type the
// envelope's, persistent.
func (t *Transport) publishing(m bus.Message, extra int) amqp.Publishing {
	h := make(amqp.Table, len(m.Headers)+extra)
	for k, v := range m.Headers {
		h[k] = v
	}
	return amqp.Publishing{
		Headers:      h,
		ContentType:  m.Headers[bus.HeaderContentType],
		DeliveryMode: amqp.Persistent,
		MessageId:    m.ID,
		Type:         m.Type,
		AppId:        t.opts.Name,
		Timestamp:    time.Now(),
		Body:         m.Body,
	}
}

// origin is where a message was first consumed from.
type origin struct {
	exchange, routingKey string
}

// message turns a delivery (or a basic.get) into the message the bus reads.
// Header values are turned into text with [bus.HeaderText]; those that have no
// text form (tables, arrays, decimals) are listed in [bus.HeaderInvalid], so that
// the bus dead-letters the message with the reason.
func message(d *amqp.Delivery) (bus.Message, origin) {
	o := origin{exchange: d.Exchange, routingKey: d.RoutingKey}
	h := make(map[string]string, len(d.Headers))
	var bad map[string]any
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
