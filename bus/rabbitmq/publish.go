package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
)

// maxPublishAttempts bounds how often one message is published again after its
// confirm was lost with its channel; a lost connection costs one attempt (the
// next waits for the reconnect).
const maxPublishAttempts = 8

// publisher is the pool of confirm-mode channels on the publish connection.
// Publishing picks a channel round robin and waits for its own confirm only
// (publisher confirms pipelined: many messages in flight per channel).
type publisher struct {
	t     *Transport
	l     *link
	slots []pubSlot
	next  atomic.Uint32
}

// pubSlot is one place in the pool: its current channel, reopened on demand
// after a loss.
type pubSlot struct {
	lock chan struct{} // held while reopening; a channel so that waiting honours ctx
	cur  atomic.Pointer[pubChan]
}

// pubChan is one confirm-mode channel.
type pubChan struct {
	s   *session
	ch  *amqp.Channel
	sem chan struct{} // one token per message awaiting its confirm

	// returns receives basic.return of unroutable messages (published with the
	// mandatory flag). The broker sends a message's return before its confirm, on
	// the same channel, and amqp091-go hands the return to this channel before it
	// processes the confirm: so a publisher that sees its confirm and then drains
	// returns (under mu) sees its return, if any. Its capacity is MaxInFlight, so
	// that amqp091-go's reader never waits for it.
	returns  chan amqp.Return
	mu       sync.Mutex
	returned map[returnKey]*returnMark // drained returns not yet claimed
}

type returnKey struct{ exchange, key, id string }

type returnMark struct {
	n    int
	at   time.Time
	text string
}

func newPublisher(t *Transport, l *link) *publisher {
	p := &publisher{t: t, l: l, slots: make([]pubSlot, t.opts.PublisherChannels)}
	for i := range p.slots {
		p.slots[i].lock = make(chan struct{}, 1)
	}
	return p
}

// channel returns an open channel of the pool, round robin, opening one if the
// slot has none.
func (p *publisher) channel(ctx context.Context) (*pubChan, error) {
	slot := &p.slots[int(p.next.Add(1)%uint32(len(p.slots)))]
	if pc := slot.cur.Load(); pc != nil && !pc.ch.IsClosed() {
		return pc, nil
	}
	select {
	case slot.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.t.ctx.Done():
		return nil, bus.ErrClosed
	}
	defer func() { <-slot.lock }()
	var prev time.Duration
	for n := 1; ; n++ {
		if pc := slot.cur.Load(); pc != nil && !pc.ch.IsClosed() {
			return pc, nil
		}
		s, err := p.l.get(ctx)
		if err != nil {
			return nil, err
		}
		pc, err := p.open(s)
		if err == nil {
			slot.cur.Store(pc)
			return pc, nil
		}
		if errors.Is(err, ErrConflict) {
			return nil, err
		}
		p.t.log.Warn("rabbitmq: opening a publisher channel failed", "err", err)
		prev = p.t.opts.Reconnect.Delay(n, prev)
		if !p.t.sleepCtx(ctx, prev) {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("opening a publisher channel: %w: %w", err, ctx.Err())
			}
			return nil, bus.ErrClosed
		}
	}
}

// open opens a confirm-mode channel on s and declares the exchange on it (which
// brings it back if it was deleted).
func (p *publisher) open(s *session) (*pubChan, error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("rabbitmq: confirm mode: %w", err)
	}
	if err := p.t.declareExchange(ch); err != nil {
		_ = ch.Close()
		return nil, err
	}
	n := p.t.opts.MaxInFlight
	return &pubChan{
		s:        s,
		ch:       ch,
		sem:      make(chan struct{}, n),
		returns:  ch.NotifyReturn(make(chan amqp.Return, n+16)),
		returned: make(map[returnKey]*returnMark),
	}, nil
}

// publish publishes msg with the mandatory flag and waits for its confirm. A
// message whose confirm was lost with its channel (or connection) is published
// again; one the broker returned as unroutable is [bus.ErrUnroutable].
func (p *publisher) publish(ctx context.Context, exchange, key string, msg *amqp.Publishing) error {
	var lastErr error
	var prev time.Duration
	for attempt := 1; attempt <= maxPublishAttempts; attempt++ {
		if attempt > 2 {
			// The channel keeps closing under this message: back off.
			prev = p.t.opts.Reconnect.Delay(attempt-2, prev)
			if !p.t.sleepCtx(ctx, prev) {
				return p.stopped(ctx, lastErr)
			}
		}
		pc, err := p.channel(ctx)
		if err != nil {
			return err
		}
		if err := pc.s.waitUnblocked(ctx, p.t.ctx.Done()); err != nil {
			return err
		}
		select {
		case pc.sem <- struct{}{}:
		case <-ctx.Done():
			return pc.s.blockedErr(ctx.Err())
		case <-p.t.ctx.Done():
			return bus.ErrClosed
		}
		dc, err := pc.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, *msg)
		if err != nil {
			<-pc.sem
			if ctx.Err() != nil {
				return ctx.Err()
			}
			lastErr = err
			continue
		}
		select {
		case <-dc.Done():
		case <-ctx.Done():
			<-pc.sem
			return fmt.Errorf("waiting for the broker's confirm: %w", pc.s.blockedErr(ctx.Err()))
		case <-p.t.ctx.Done():
			<-pc.sem
			return bus.ErrClosed
		}
		<-pc.sem
		text, returned := pc.takeReturn(returnKey{exchange, key, msg.MessageId})
		if dc.Acked() {
			if returned {
				return fmt.Errorf("exchange %q, routing key %q: %w (%s)", exchange, key, bus.ErrUnroutable, text)
			}
			return nil
		}
		if pc.ch.IsClosed() {
			// The channel closed before the broker confirmed: the message may or may
			// not be stored. Publish it again; the consumer's inbox absorbs a
			// duplicate.
			lastErr = errors.New("the channel closed before the broker confirmed the message")
			continue
		}
		return fmt.Errorf("%w (exchange %q, routing key %q)", ErrNacked, exchange, key)
	}
	return fmt.Errorf("gave up after %d attempts: %w", maxPublishAttempts, lastErr)
}

// stopped is the error of a publish whose wait ended early.
func (p *publisher) stopped(ctx context.Context, lastErr error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
	}
	return bus.ErrClosed
}

// takeReturn drains the returns received so far and claims the one of k, if any.
func (pc *pubChan) takeReturn(k returnKey) (string, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for drained := false; !drained; {
		select {
		case r, ok := <-pc.returns:
			if !ok {
				drained = true
				break
			}
			rk := returnKey{r.Exchange, r.RoutingKey, r.MessageId}
			m := pc.returned[rk]
			if m == nil {
				m = &returnMark{}
				pc.returned[rk] = m
			}
			m.n++
			m.at = time.Now()
			m.text = fmt.Sprintf("%d %s", r.ReplyCode, r.ReplyText)
		default:
			drained = true
		}
	}
	if len(pc.returned) == 0 {
		return "", false
	}
	m := pc.returned[k]
	if m == nil {
		pc.forgetStaleLocked()
		return "", false
	}
	if m.n--; m.n == 0 {
		delete(pc.returned, k)
	}
	return m.text, true
}

// forgetStaleLocked drops returns nobody claimed for a minute: their publishers
// gave up waiting for the confirm.
func (pc *pubChan) forgetStaleLocked() {
	if len(pc.returned) < cap(pc.returns) {
		return
	}
	cutoff := time.Now().Add(-time.Minute)
	for k, m := range pc.returned {
		if m.at.Before(cutoff) {
			delete(pc.returned, k)
		}
	}
}

// Publish publishes each message to the events exchange with its type as routing
// key (persistent, mandatory, message-id the event ID) and returns once the
// broker has confirmed every one. A message no queue is bound to is
// [bus.ErrUnroutable]. While the transport reconnects, Publish waits for the
// connection until ctx ends; a message whose confirm was lost with the
// connection is published again (the consumer's inbox absorbs the duplicate).
// While the broker blocks publishing (memory or disk alarm), Publish waits until
// ctx ends and then returns a [*BlockedError]. Several messages are published at
// once, not atomically.
func (t *Transport) Publish(ctx context.Context, msgs ...bus.Message) error {
	if t.ctx.Err() != nil {
		return bus.ErrClosed
	}
	for _, m := range msgs {
		if m.Type == "" || len(m.Type) > maxQueueNameLen {
			return fmt.Errorf("rabbitmq: publish %s: the type %q is not a routing key (1 to 255 bytes)", m.ID, m.Type)
		}
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return t.publishOne(ctx, msgs[0], "rabbitmq: publish: ")
	}
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() { errs[i] = t.publishOne(ctx, m, "rabbitmq: publish "+m.ID+": ") })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// publishOne publishes m; errors start with prefix.
func (t *Transport) publishOne(ctx context.Context, m bus.Message, prefix string) error {
	p := t.publishing(m, 0)
	if err := t.pub.publish(ctx, t.opts.Exchange, m.Type, &p); err != nil {
		if errors.Is(err, bus.ErrClosed) {
			return err
		}
		return fmt.Errorf("%s%w", prefix, err)
	}
	return nil
}
