package memory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// Transport is an in-process broker and its connection: durable-within-the-process
// queues, one per subscription name, bound to event types; fan-out of each
// published message to every queue bound to its type; competing consumers on one
// queue, each with its prefetch; delayed redelivery on timers; and a dead-letter
// queue per subscription that [Transport.DeadLetters] reads. Publishing is
// confirmed once the message is in every bound queue. A Transport is safe for
// concurrent use and may be shared by several buses, which then behave like
// separate processes on one broker. Nothing survives [Transport.Close].
type Transport struct {
	closed atomic.Bool

	mu     sync.RWMutex      // guards queues and bindings
	queues map[string]*queue // by subscription name
	bind   map[string][]*queue

	tmu    sync.Mutex // guards timers
	timers map[*delayed]struct{}
}

// New returns an empty in-process transport.
func New() *Transport {
	return &Transport{
		queues: make(map[string]*queue),
		bind:   make(map[string][]*queue),
		timers: make(map[*delayed]struct{}),
	}
}

var (
	_ bus.Transport         = (*Transport)(nil)
	_ bus.DeadLetterReader  = (*Transport)(nil)
	_ bus.DeadLetterManager = (*Transport)(nil)
	_ bus.SystemNamer       = (*Transport)(nil)
)

// System returns "memory", the messaging.system of the bus's observer.
func (t *Transport) System() string { return "memory" }

// queue is one subscription's queue.
type queue struct {
	t     *Transport
	name  string
	types map[string]bool // bound event types; guarded by Transport.mu

	mu        sync.Mutex
	ready     deque
	consumers []*consumer
	next      int // round-robin position among consumers
	unacked   int
	delayed   int
	dead      []deadLetter
	deadSeq   uint64 // the sequence number of the last dead letter
}

// entry is a message in a queue.
type entry struct {
	msg         bus.Message
	redelivered bool
}

// Publish puts each message in every queue bound to its type. A message whose
// type no queue is bound to is [bus.ErrUnroutable], and then nothing is published.
func (t *Transport) Publish(ctx context.Context, msgs ...bus.Message) error {
	if t.closed.Load() {
		return bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range msgs {
		if m.Type == "" {
			return errors.New("memory: publish: message has no type")
		}
		if len(t.bind[m.Type]) == 0 {
			return fmt.Errorf("memory: publish %s: %w", m.Type, bus.ErrUnroutable)
		}
	}
	for _, m := range msgs {
		for _, q := range t.bind[m.Type] {
			q.mu.Lock()
			q.ready.pushBack(entry{msg: m})
			q.dispatchLocked()
			q.mu.Unlock()
		}
	}
	return nil
}

// Subscribe declares the subscription's queue if it does not exist, adds bindings
// for its event types (bindings are kept, as on a broker), and attaches a consumer
// with the subscription's prefetch (at least 1).
func (t *Transport) Subscribe(ctx context.Context, sub bus.Subscription) (bus.Consumer, error) {
	if t.closed.Load() {
		return nil, bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sub.Name == "" {
		return nil, errors.New("memory: subscribe: subscription has no name")
	}
	prefetch := max(1, sub.Prefetch)
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queues[sub.Name]
	if q == nil {
		q = &queue{t: t, name: sub.Name, types: make(map[string]bool)}
		t.queues[sub.Name] = q
	}
	for _, typ := range sub.EventTypes {
		if !q.types[typ] {
			q.types[typ] = true
			t.bind[typ] = append(t.bind[typ], q)
		}
	}
	c := &consumer{q: q, ch: make(chan *delivery, prefetch), credit: prefetch, done: make(chan struct{})}
	q.mu.Lock()
	q.consumers = append(q.consumers, c)
	q.dispatchLocked()
	q.mu.Unlock()
	return c, nil
}

// Close stops every consumer and pending redelivery and drops every message.
// It is idempotent.
func (t *Transport) Close() error {
	if !t.closed.CompareAndSwap(false, true) {
		return nil
	}
	t.tmu.Lock()
	for d := range t.timers {
		d.timer.Stop()
	}
	t.timers = nil
	t.tmu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, q := range t.queues {
		q.mu.Lock()
		for _, c := range q.consumers {
			c.closeLocked()
		}
		q.consumers = nil
		q.mu.Unlock()
	}
	return nil
}

// DeadLetters returns up to max messages (all if max <= 0) of the subscription's
// dead-letter queue, oldest first, without removing them. An unknown subscription
// has none.
func (t *Transport) DeadLetters(ctx context.Context, subscription string, max int) ([]bus.Message, error) {
	if t.closed.Load() {
		return nil, bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.RLock()
	q := t.queues[subscription]
	t.mu.RUnlock()
	if q == nil {
		return nil, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.dead)
	if max > 0 && max < n {
		n = max
	}
	out := make([]bus.Message, n)
	for i := range out {
		out[i] = q.dead[i].msg
	}
	return out, nil
}

// Stats describe a queue at one moment.
type Stats struct {
	Ready       int // waiting for a consumer
	Unacked     int // delivered (or sent ahead to a consumer) and not settled
	Delayed     int // waiting for a redelivery delay
	DeadLetters int // in the dead-letter queue
	Consumers   int // attached consumers
}

// Stats returns the state of the subscription's queue; an unknown subscription
// is all zeros.
func (t *Transport) Stats(subscription string) Stats {
	t.mu.RLock()
	q := t.queues[subscription]
	t.mu.RUnlock()
	if q == nil {
		return Stats{}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Ready: q.ready.len(), Unacked: q.unacked, Delayed: q.delayed, DeadLetters: len(q.dead), Consumers: len(q.consumers)}
}

// dispatchLocked sends ready messages to consumers that have credit, round robin.
// A send never blocks: a consumer's channel holds its prefetch, and credit counts
// what it can still take.
func (q *queue) dispatchLocked() {
	for q.ready.len() > 0 && len(q.consumers) > 0 {
		var c *consumer
		for i := 0; i < len(q.consumers); i++ {
			cand := q.consumers[(q.next+i)%len(q.consumers)]
			if cand.credit > 0 {
				c = cand
				q.next = (q.next + i + 1) % len(q.consumers)
				break
			}
		}
		if c == nil {
			return
		}
		e := q.ready.popFront()
		c.credit--
		q.unacked++
		c.ch <- &delivery{c: c, e: e}
	}
}

// consumer is one consumer of a queue.
type consumer struct {
	q      *queue
	ch     chan *delivery // deliveries sent ahead, up to the prefetch
	done   chan struct{}  // closed by Close
	credit int            // guarded by q.mu
	closed bool           // guarded by q.mu
}

// Receive returns the next delivery of the consumer. A delivery that is there
// already is returned even if ctx is done, so that a done ctx polls.
func (c *consumer) Receive(ctx context.Context) (bus.Delivery, error) {
	select {
	case d := <-c.ch:
		return d, nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case d := <-c.ch:
		return d, nil
	case <-c.done:
		return nil, bus.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close detaches the consumer and puts the deliveries sent ahead to it, which
// nobody received, back at the head of the queue in their order.
func (c *consumer) Close() error {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	if c.closed {
		return nil
	}
	for i, other := range c.q.consumers {
		if other == c {
			c.q.consumers = append(c.q.consumers[:i], c.q.consumers[i+1:]...)
			break
		}
	}
	c.closeLocked()
	c.q.dispatchLocked()
	return nil
}

// closeLocked marks c closed and hands back what is in its channel.
func (c *consumer) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	var back []*delivery
	for {
		select {
		case d := <-c.ch:
			back = append(back, d)
			continue
		default:
		}
		break
	}
	for i := len(back) - 1; i >= 0; i-- {
		d := back[i]
		d.settled = true
		c.q.unacked--
		c.q.ready.pushFront(d.e)
	}
	close(c.done)
}

// delivery is one delivery of an entry to a consumer.
type delivery struct {
	c       *consumer
	e       entry
	settled bool // guarded by c.q.mu
}

func (d *delivery) Message() bus.Message { return d.e.msg }
func (d *delivery) Redelivered() bool    { return d.e.redelivered }

// Ack removes the message.
func (d *delivery) Ack(ctx context.Context) error {
	return d.settle(ctx, func(q *queue) {})
}

// Requeue puts the message back at the head of the queue, marked redelivered.
func (d *delivery) Requeue(ctx context.Context) error {
	return d.settle(ctx, func(q *queue) {
		q.ready.pushFront(entry{msg: d.e.msg, redelivered: true})
	})
}

// Redeliver puts a copy of the message with r's headers at the back of the queue
// after r.Delay.
func (d *delivery) Redeliver(ctx context.Context, r bus.Redelivery) error {
	if r.Delay < 0 {
		return fmt.Errorf("memory: redeliver: negative delay %s", r.Delay)
	}
	set := r.Headers
	if r.Attempt > 0 {
		set = make(map[string]string, len(r.Headers)+1)
		for k, v := range r.Headers {
			set[k] = v
		}
		set[bus.HeaderAttempt] = strconv.Itoa(r.Attempt)
	}
	msg := d.e.msg.WithHeaders(set)
	return d.settle(ctx, func(q *queue) {
		if r.Delay == 0 {
			q.ready.pushBack(entry{msg: msg})
			return
		}
		q.delayed++
		q.t.schedule(q, msg, r.Delay)
	})
}

// DeadLetter moves the message to the subscription's dead-letter queue.
func (d *delivery) DeadLetter(ctx context.Context, dl bus.DeadLetter) error {
	set := dl.Headers()
	set[bus.HeaderDLQOrigin] = "memory queue=" + d.c.q.name + " type=" + d.e.msg.Type
	msg := d.e.msg.WithHeaders(set)
	return d.settle(ctx, func(q *queue) { q.addDeadLocked(msg) })
}

// settle settles d once with fn, under the queue's lock, and gives the consumer
// its credit back.
func (d *delivery) settle(ctx context.Context, fn func(q *queue)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q := d.c.q
	if q.t.closed.Load() {
		return bus.ErrClosed
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if d.settled {
		return bus.ErrAlreadySettled
	}
	d.settled = true
	q.unacked--
	if !d.c.closed {
		d.c.credit++
	}
	fn(q)
	q.dispatchLocked()
	return nil
}

// delayed is a message waiting on a timer for its redelivery.
type delayed struct {
	q     *queue
	msg   bus.Message
	timer *time.Timer
}

// schedule puts msg back in q after delay. Called with q.mu held.
func (t *Transport) schedule(q *queue, msg bus.Message, delay time.Duration) {
	d := &delayed{q: q, msg: msg}
	t.tmu.Lock()
	defer t.tmu.Unlock()
	if t.timers == nil { // closed
		return
	}
	d.timer = time.AfterFunc(delay, d.fire)
	t.timers[d] = struct{}{}
}

func (d *delayed) fire() {
	t := d.q.t
	t.tmu.Lock()
	if t.timers == nil {
		t.tmu.Unlock()
		return
	}
	delete(t.timers, d)
	t.tmu.Unlock()
	d.q.mu.Lock()
	defer d.q.mu.Unlock()
	d.q.delayed--
	d.q.ready.pushBack(entry{msg: d.msg})
	d.q.dispatchLocked()
}
