package bus

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// PublishOption sets an attribute of one published event. Options are per call;
// the bus itself is configured with [Options].
type PublishOption func(*publishConfig)

type publishConfig struct {
	id, subject, correlationID, partitionKey string
}

// WithSubject sets the CloudEvents subject: what the event is about within its
// source, such as a customer ID. Subscriptions that keep order use it as the
// ordering key when there is no partition key.
func WithSubject(subject string) PublishOption {
	return func(c *publishConfig) { c.subject = subject }
}

// WithID sets the event ID instead of a new UUIDv7: for an event republished from
// an outbox, or any event whose duplicates must be recognised as such. It must be
// a canonical lower-case UUID.
func WithID(id string) PublishOption {
	return func(c *publishConfig) { c.id = id }
}

// WithCorrelationID sets the correlation ID instead of the one taken from ctx.
func WithCorrelationID(id string) PublishOption {
	return func(c *publishConfig) { c.correlationID = id }
}

// WithPartitionKey sets the ordering key of the event (the CloudEvents partitionkey
// extension): subscriptions that keep order handle events with the same key one
// after the other.
func WithPartitionKey(key string) PublishOption {
	return func(c *publishConfig) { c.partitionKey = key }
}

// NewID returns a new event ID: a UUIDv7 in canonical form. IDs made by one
// process increase in the order they were made.
func NewID() (string, error) {
	var b [36]byte
	ids.next(b[:], time.Now())
	return string(b[:]), nil
}

type correlationKey struct{}

// ContextWithCorrelationID returns a context whose published events carry id as
// their correlation ID, unless they are published by a handler (which passes on
// the correlation ID of the message it handles) or with [WithCorrelationID]. Use it
// to tie events to the request ID of an incoming HTTP call.
func ContextWithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// Publish wraps event in an envelope, encodes it and sends it, and returns once the
// transport has confirmed it (or an error: the event may then not have been
// published). The envelope gets a new UUIDv7 ID, the bus's source, the event's
// type name from the registry (registering its default name if it has none), the
// current time, and the codec's content type. When ctx is a handler's context, the
// event's causation ID is the handled event's ID and its correlation ID and trace
// context are passed on; otherwise the correlation ID comes from
// [ContextWithCorrelationID], or is the event's own ID. With [Options.Observer]
// set, the publish is observed from before the encoding to the confirmation, and
// the envelope carries the trace context of the observer's context. Publish is
// safe for concurrent use.
func (b *Bus) Publish(ctx context.Context, event any, opts ...PublishOption) (err error) {
	select {
	case <-b.closed:
		return ErrClosed
	default:
	}
	cfg := newPublishConfig(opts)
	msg, ctx, end, err := b.prepare(ctx, event, &cfg)
	if end != nil {
		defer func() { end(err) }()
	}
	if err != nil {
		return err
	}
	if err := b.tr.Publish(ctx, msg); err != nil {
		return fmt.Errorf("bus: publish %s %s: %w", msg.Type, msg.ID, err)
	}
	return nil
}

// PublishBatch publishes events as [Publish] would, each in its own envelope with
// its own ID, but hands them to the transport together and returns once every one
// is confirmed: the transport pipelines them (many in flight at once) where one
// goroutine calling Publish would wait for each confirmation in turn. opts apply to
// every event; [WithID] is refused when there is more than one event, since IDs
// must differ. The events are encoded before any is sent, so an event that cannot
// be encoded fails the batch with nothing published. On any other error some of
// the events may have been published and others not; publishing them again makes
// new events (new IDs): for a batch that must be retried as a whole without
// duplicates, encode the events once with [Bus.Encode] and keep the messages, or
// write them through an outbox. Order is not guaranteed within a batch. With
// [Options.Observer] set, each event is observed as with Publish.
func (b *Bus) PublishBatch(ctx context.Context, events []any, opts ...PublishOption) (err error) {
	select {
	case <-b.closed:
		return ErrClosed
	default:
	}
	if len(events) == 0 {
		return nil
	}
	cfg := newPublishConfig(opts)
	if cfg.id != "" && len(events) > 1 {
		return fmt.Errorf("bus: publish batch: WithID given for %d events; each event needs its own ID", len(events))
	}
	msgs := make([]Message, len(events))
	var ends []func(error)
	defer func() {
		for _, end := range ends {
			end(err)
		}
	}()
	for i, event := range events {
		msg, _, end, err := b.prepare(ctx, event, &cfg)
		if end != nil {
			ends = append(ends, end)
		}
		if err != nil {
			return fmt.Errorf("bus: publish batch: event %d: %w", i, err)
		}
		msgs[i] = msg
	}
	if err := b.tr.Publish(ctx, msgs...); err != nil {
		return fmt.Errorf("bus: publish batch of %d events: %w", len(msgs), err)
	}
	return nil
}

// prepare types and encodes event for publishing, and starts its observation
// (with Options.Observer): it returns the message, the observer's context (ctx
// without an observer) whose trace context the envelope carries, and the
// function that ends the observation with the publish's outcome (nil without an
// observer; to be called whether or not prepare failed).
func (b *Bus) prepare(ctx context.Context, event any, cfg *publishConfig) (Message, context.Context, func(error), error) {
	typ, err := b.typeName(event)
	if err != nil {
		return Message{}, ctx, nil, err
	}
	st := newStamp(cfg.id)
	var end func(error)
	if obs := b.opts.Observer; obs != nil {
		ctx, end = obs.ObservePublish(ctx, PublishInfo{System: b.system, EventType: typ, EventID: st.id})
	}
	msg, err := b.encode(ctx, event, typ, cfg, &st)
	return msg, ctx, end, err
}

// Encode returns the message Publish would send for event, without sending it:
// for an outbox, or a test.
func (b *Bus) Encode(ctx context.Context, event any, opts ...PublishOption) (Message, error) {
	cfg := newPublishConfig(opts)
	typ, err := b.typeName(event)
	if err != nil {
		return Message{}, err
	}
	st := newStamp(cfg.id)
	return b.encode(ctx, event, typ, &cfg, &st)
}

// newPublishConfig applies opts.
func newPublishConfig(opts []PublishOption) publishConfig {
	if len(opts) == 0 {
		return publishConfig{} // without the heap copy that calling the options needs
	}
	return applyPublishOptions(opts)
}

func applyPublishOptions(opts []PublishOption) publishConfig {
	var cfg publishConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return cfg
}

// typeName returns the event type name of event, registering its default name if
// it has none.
func (b *Bus) typeName(event any) (string, error) {
	if event == nil {
		return "", fmt.Errorf("bus: publish: event is nil")
	}
	t := reflect.TypeOf(event)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return b.reg.nameOrRegister(t)
}

// stamp is the ID and time of an event being published, made together: one
// reading of the clock, and one string for the ID and the time's text.
type stamp struct {
	now    time.Time
	id, ts string
	made   bool // the bus made the ID
}

// newStamp returns the stamp of an event published now, with a new ID unless id
// is set.
func newStamp(id string) stamp {
	now := time.Now()
	var buf [96]byte
	n := 0
	if id == "" {
		ids.next(buf[:36], now)
		n = 36
	}
	text := string(appendTime(buf[:n], now))
	if n > 0 {
		id = text[:n]
	}
	return stamp{now: now, id: id, ts: text[n:], made: n > 0}
}

// encode builds the message of event, whose type name is typ, with the ID and
// time of st.
func (b *Bus) encode(ctx context.Context, event any, typ string, cfg *publishConfig, st *stamp) (Message, error) {
	body, err := b.codecs.publish.Marshal(event)
	if err != nil {
		return Message{}, fmt.Errorf("bus: publish %s: %w", typ, err)
	}
	if b.maxBody > 0 && len(body) > b.maxBody {
		return Message{}, fmt.Errorf("bus: publish %s: %w", typ, &DecodeError{Field: "data",
			Reason: "body of " + strconv.Itoa(len(body)) + " bytes is over the limit of " + strconv.Itoa(b.maxBody)})
	}
	trust := trustSourceType | trustTrace
	if st.made {
		trust |= trustID
	}
	e := Envelope{
		SpecVersion:     SpecVersion,
		ID:              st.id,
		Source:          b.source,
		Type:            typ,
		Time:            st.now.UTC(),
		Subject:         cfg.subject,
		DataContentType: b.codecs.publishType,
		CorrelationID:   cfg.correlationID,
		PartitionKey:    cfg.partitionKey,
		Attempt:         1,
	}
	if b.codecs.publishTypeValid {
		trust |= trustContentType
	}
	parent, inHandler := MetaFrom(ctx)
	if inHandler {
		e.CausationID = parent.ID
	}
	if e.CorrelationID == "" {
		switch {
		case inHandler && parent.CorrelationID != "":
			e.CorrelationID = parent.CorrelationID
		case inHandler:
			e.CorrelationID = parent.ID
		default:
			if id, ok := ctx.Value(correlationKey{}).(string); ok && id != "" {
				e.CorrelationID = id
			} else {
				e.CorrelationID = e.ID
				if trust&trustID != 0 {
					trust |= trustCorrelationID
				}
			}
		}
	}
	e.TraceParent, e.TraceState = b.traceContext(ctx, parent.TraceParent, parent.TraceState)
	msg, err := encodeEnvelope(&e, body, st.ts, trust)
	if err != nil {
		return Message{}, fmt.Errorf("bus: publish %s: %w", typ, err)
	}
	return msg, nil
}
