package bus

import (
	"context"
	"fmt"
)

// Meta is what a handler knows about the event besides its content: the envelope
// (with the delivery attempt) and the delivery.
type Meta struct {
	Envelope
	// Subscription is the name of the subscription that handles the event.
	Subscription string
	// Redelivered reports that the broker delivered this message before without it
	// being settled: it may have been handled (the inbox, if configured, has
	// already ruled out that it was handled to the end).
	Redelivered bool
	// Headers are all the message's headers as delivered, extensions included.
	// They are read-only.
	Headers map[string]string
}

type metaKey struct{}

// MetaFrom returns the Meta of the event handled in ctx, if ctx is (or derives
// from) a handler's context. Publish uses it to set causation and correlation.
func MetaFrom(ctx context.Context) (Meta, bool) {
	m, ok := ctx.Value(metaKey{}).(*Meta)
	if !ok {
		return Meta{}, false
	}
	return *m, true
}

// handler is one typed handler, with its type erased.
type handler struct {
	eventType string
	// decode decodes body with c into a new job: the job part of a typedJob, the
	// job and the event being one allocation.
	decode func(c Codec, body []byte) (*job, error)
	// call calls the handler with the job's event and meta; j is one that decode
	// returned.
	call func(ctx context.Context, j *job) error
}

// typedJob is a job with the event of type T it carries; the job's typed field
// points back to it. The handler is given a copy of the event, never a pointer
// to it.
type typedJob[T any] struct {
	job
	event T
}

// Handle registers fn as the handler of events of type T on the named
// subscription. A subscription is one durable queue (or consumer): it receives
// every event of the types its handlers handle, and several instances of a service
// running the same subscription share its events. A subscription may have handlers
// for several types, one each. T gets its event type name from the bus's registry
// (registered under [DefaultTypeName] if it has none). Subscription names have 1 to
// 200 letters, digits, '-' and '_'; their options come from
// [Options.Subscriptions]. Handle must be called before [Bus.Start].
//
// fn runs inside the consumer middleware: panic recovery, duplicate detection,
// timeout and in-process retry. Returning nil acks the event; an error redelivers
// it later, or dead-letters it after the last attempt or at once if marked with
// [Permanent]. fn's ctx carries the event's [Meta] (see [MetaFrom]), so that events
// published from it are caused by this one, and is cancelled at the timeout or
// when the bus closes.
func Handle[T any](b *Bus, subscription string, fn func(ctx context.Context, event T, m Meta) error) error {
	if fn == nil {
		return fmt.Errorf("bus: Handle(%q): handler is nil", subscription)
	}
	if err := validateSubscriptionName(subscription); err != nil {
		return err
	}
	name, err := b.reg.nameOrRegister(typeOf[T]())
	if err != nil {
		return fmt.Errorf("bus: Handle(%q): %w", subscription, err)
	}
	h := &handler{
		eventType: name,
		decode: func(c Codec, body []byte) (*job, error) {
			tj := new(typedJob[T])
			if err := c.Unmarshal(body, &tj.event); err != nil {
				return nil, err
			}
			tj.job.typed = tj // a pointer in an interface: no allocation
			return &tj.job, nil
		},
		call: func(ctx context.Context, j *job) error {
			return fn(ctx, j.typed.(*typedJob[T]).event, j.meta)
		},
	}
	return b.addHandler(subscription, h)
}

func (b *Bus) addHandler(name string, h *handler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateRunning:
		return fmt.Errorf("bus: Handle(%q): %w", name, ErrStarted)
	case stateStopped:
		return fmt.Errorf("bus: Handle(%q): %w", name, ErrClosed)
	}
	s, ok := b.subs[name]
	if !ok {
		opts, err := b.opts.Subscriptions[name].normalize(name)
		if err != nil {
			return err
		}
		s = &subscription{b: b, name: name, opts: opts, handlers: make(map[string]*handler)}
		b.subs[name] = s
		b.order = append(b.order, name)
	}
	if _, dup := s.handlers[h.eventType]; dup {
		return fmt.Errorf("bus: Handle(%q): event type %q already has a handler in this subscription", name, h.eventType)
	}
	s.handlers[h.eventType] = h
	s.types = append(s.types, h.eventType)
	return nil
}
