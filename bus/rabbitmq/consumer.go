package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
)

// closeWait bounds how long Consumer.Close waits for the consumer to hand back
// what it fetched; on a stalled connection the broker takes it back when the
// connection is closed.
const closeWait = 5 * time.Second

// consumer consumes one subscription's work queue on a channel of its own (so
// that basic.qos applies to it alone). A goroutine (run) owns the channel: it
// passes deliveries on to Receive, and when the channel, the connection or the
// broker's consumer is lost, declares the topology again and consumes anew.
type consumer struct {
	t      *Transport
	sub    bus.Subscription
	q      Queues
	tag    string
	out    chan *delivery
	ctx    context.Context // cancelled by Close or the transport's Close
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	tmu   sync.Mutex
	tiers map[time.Duration]string // retry queues declared
}

// consumeChan is one channel of a consumer, from open to close. Deliveries
// received on it must be settled on it: a channel that is retired (lost, or its
// consumer closed) stays open until the last received delivery is settled.
type consumeChan struct {
	c  *consumer
	ch *amqp.Channel

	mu          sync.Mutex
	outstanding int // deliveries received by the bus and not settled
	retired     bool
	closed      bool
}

var consumerSeq atomic.Uint64

// Subscribe declares the subscription's topology (see the package
// documentation), binds its event types, and consumes its work queue with manual
// acks and a prefetch of sub.Prefetch (at least 1). A queue that exists with
// other arguments is a [*ConflictError] naming the argument. The consumer
// re-declares and resumes by itself after a lost channel or connection, or a
// deleted queue.
func (t *Transport) Subscribe(ctx context.Context, sub bus.Subscription) (bus.Consumer, error) {
	if t.ctx.Err() != nil {
		return nil, bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := t.checkNames(sub); err != nil {
		return nil, err
	}
	sub.EventTypes = append([]string(nil), sub.EventTypes...)
	sub.RedeliveryDelays = append([]time.Duration(nil), sub.RedeliveryDelays...)
	sub.Prefetch = min(max(1, sub.Prefetch), 65535)
	c := &consumer{
		t:     t,
		sub:   sub,
		q:     t.Queues(sub.Name, sub.RedeliveryDelays...),
		tag:   fmt.Sprintf("%s/%s/%d", t.opts.Name, sub.Name, consumerSeq.Add(1)),
		out:   make(chan *delivery),
		done:  make(chan struct{}),
		tiers: make(map[time.Duration]string),
	}
	if len(c.tag) > maxQueueNameLen {
		c.tag = c.tag[len(c.tag)-maxQueueNameLen:]
	}
	c.ctx, c.cancel = context.WithCancel(t.ctx)
	cc, deliveries, err := c.open(ctx)
	if err != nil {
		c.cancel()
		return nil, fmt.Errorf("rabbitmq: subscribe %q: %w", sub.Name, err)
	}
	t.wg.Add(1)
	go c.run(cc, deliveries)
	return c, nil
}

// open declares the topology, opens a channel with the prefetch and starts
// consuming.
func (c *consumer) open(ctx context.Context) (*consumeChan, <-chan amqp.Delivery, error) {
	s, err := c.t.cons.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	fail := func(err error) (*consumeChan, <-chan amqp.Delivery, error) {
		_ = ch.Close()
		return nil, nil, err
	}
	if err := c.t.declare(ch, c.sub); err != nil {
		return fail(err)
	}
	c.tmu.Lock()
	for d, name := range c.q.Retry {
		c.tiers[d] = name
	}
	c.tmu.Unlock()
	if err := ch.Qos(c.sub.Prefetch, 0, false); err != nil {
		return fail(fmt.Errorf("rabbitmq: basic.qos: %w", err))
	}
	deliveries, err := ch.Consume(c.q.Work, c.tag, false, false, false, false, nil)
	if err != nil {
		return fail(fmt.Errorf("rabbitmq: consume %q: %w", c.q.Work, err))
	}
	return &consumeChan{c: c, ch: ch}, deliveries, nil
}

// Why forward stopped.
type stopReason uint8

const (
	stopLost      stopReason = iota // the channel closed, or the broker cancelled the consumer
	stopClose                       // Consumer.Close
	stopTransport                   // Transport.Close
)

// run passes deliveries on until the consumer or the transport closes, and
// consumes anew after a loss.
func (c *consumer) run(cc *consumeChan, deliveries <-chan amqp.Delivery) {
	defer c.t.wg.Done()
	defer close(c.done)
	log := c.t.log.With("subscription", c.sub.Name, "queue", c.q.Work)
	var prev time.Duration
	failures := 0
	for {
		if cc == nil {
			var err error
			cc, deliveries, err = c.open(c.ctx)
			if err != nil {
				if c.ctx.Err() != nil {
					return
				}
				failures++
				log.Warn("rabbitmq: resuming the consumer failed", "attempt", failures, "err", err)
				prev = c.t.opts.Reconnect.Delay(failures, prev)
				if !c.t.sleepCtx(c.ctx, prev) {
					return
				}
				continue
			}
			log.Info("rabbitmq: consumer resumed", "after_failures", failures)
			failures, prev = 0, 0
		}
		c.t.consuming.Add(1)
		stop := c.forward(cc, deliveries)
		c.t.consuming.Add(-1)
		switch stop {
		case stopTransport:
			return // closing the connection hands everything back
		case stopClose:
			c.handBack(cc, deliveries)
			cc.retire()
			return
		}
		log.Warn("rabbitmq: consumer lost its channel or was cancelled by the broker; resuming")
		cc.retire()
		cc = nil
		if !c.t.sleepCtx(c.ctx, reconnectPause) {
			return
		}
	}
}

// forward passes the deliveries of cc to Receive until it stops.
func (c *consumer) forward(cc *consumeChan, deliveries <-chan amqp.Delivery) stopReason {
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return stopLost
			}
			if cc.ch.IsClosed() {
				// Left over from a channel that is gone: it cannot be acked, and
				// the broker delivers it again.
				continue
			}
			del := newDelivery(cc, &d)
			cc.hold()
			select {
			case c.out <- del:
			case <-c.ctx.Done():
				cc.release()
				if c.t.ctx.Err() != nil {
					return stopTransport
				}
				_ = cc.ch.Nack(d.DeliveryTag, false, true)
				return stopClose
			}
		case <-c.ctx.Done():
			if c.t.ctx.Err() != nil {
				return stopTransport
			}
			return stopClose
		}
	}
}

// handBack stops the broker's deliveries to cc and hands back to the queue those
// that arrived and nobody received.
func (c *consumer) handBack(cc *consumeChan, deliveries <-chan amqp.Delivery) {
	if err := cc.ch.Cancel(c.tag, false); err != nil {
		return // the channel is gone, and with it every unsettled delivery
	}
	for d := range deliveries {
		_ = cc.ch.Nack(d.DeliveryTag, false, true)
	}
}

// Receive returns the next delivery.
func (c *consumer) Receive(ctx context.Context) (bus.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case d := <-c.out:
		return d, nil
	case <-c.ctx.Done():
		return nil, bus.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops consuming: it cancels the broker's consumer and hands back the
// deliveries that arrived and nobody received. Deliveries received stay valid
// until settled; the channel closes after the last. Close is idempotent.
func (c *consumer) Close() error {
	c.cancel()
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		c.t.log.Warn("rabbitmq: consumer still handing back deliveries; the broker takes them back with the channel", "subscription", c.sub.Name)
	}
	return nil
}

// retryQueue returns the queue a redelivery after d goes to: the work queue for
// zero, else the retry queue of d, declared now if the subscription did not
// announce d.
func (c *consumer) retryQueue(ctx context.Context, d time.Duration) (string, error) {
	if d == 0 {
		return c.q.Work, nil
	}
	if d < 0 {
		return "", fmt.Errorf("rabbitmq: redeliver: negative delay %s", d)
	}
	c.tmu.Lock()
	name, ok := c.tiers[d]
	c.tmu.Unlock()
	if ok {
		return name, nil
	}
	if err := c.redeclare(ctx, d); err != nil {
		return "", err
	}
	name = retryName(c.q.Work, d)
	c.tmu.Lock()
	c.tiers[d] = name
	c.tmu.Unlock()
	return name, nil
}

// redeclare declares the retry queue of delay d (the dead-letter queue for a
// negative d) on a channel of the publish connection: for a delay the
// subscription did not announce, or a queue deleted while the consumer ran.
func (c *consumer) redeclare(ctx context.Context, d time.Duration) error {
	s, err := c.t.pubLink.get(ctx)
	if err != nil {
		return err
	}
	return c.t.declareOn(s, func(ch *amqp.Channel) error {
		if d < 0 {
			return c.t.declareQueue(ch, c.q.DeadLetter, c.t.queueArgs())
		}
		return c.t.declareRetry(ch, c.q.Work, d)
	})
}

// publishCopy publishes p to queue (the retry queue of delay d, or the
// dead-letter queue for a negative d) and waits for its confirm. If the queue is
// gone (deleted while the consumer ran), it declares it again and publishes once
// more, rather than handing the message back to be handled again at once.
func (c *consumer) publishCopy(ctx context.Context, queue string, d time.Duration, p *amqp.Publishing) error {
	err := c.t.pub.publish(ctx, "", queue, p)
	if !errors.Is(err, bus.ErrUnroutable) || queue == c.q.Work {
		return err
	}
	c.t.log.Warn("rabbitmq: queue missing; declaring it again", "queue", queue)
	if derr := c.redeclare(ctx, d); derr != nil {
		return fmt.Errorf("%w; declaring it again: %w", err, derr)
	}
	return c.t.pub.publish(ctx, "", queue, p)
}

func (cc *consumeChan) hold() {
	cc.mu.Lock()
	cc.outstanding++
	cc.mu.Unlock()
}

// release marks one received delivery settled; the last one closes a retired
// channel.
func (cc *consumeChan) release() {
	cc.mu.Lock()
	cc.outstanding--
	last := cc.retired && cc.outstanding == 0 && !cc.closed
	if last {
		cc.closed = true
	}
	cc.mu.Unlock()
	if last {
		_ = cc.ch.Close()
	}
}

// retire closes the channel once no received delivery is left unsettled.
func (cc *consumeChan) retire() {
	cc.mu.Lock()
	cc.retired = true
	now := cc.outstanding == 0 && !cc.closed
	if now {
		cc.closed = true
	}
	cc.mu.Unlock()
	if now {
		_ = cc.ch.Close()
	}
}

// delivery is one delivery of the work queue.
type delivery struct {
	cc          *consumeChan
	tag         uint64
	redelivered bool
	msg         bus.Message
	origin      origin
	settled     atomic.Bool
}

func newDelivery(cc *consumeChan, d *amqp.Delivery) *delivery {
	m, o := message(d)
	return &delivery{cc: cc, tag: d.DeliveryTag, redelivered: d.Redelivered, msg: m, origin: o}
}

// Message returns the delivered message.
func (d *delivery) Message() bus.Message { return d.msg }

// Redelivered reports the AMQP redelivered flag.
func (d *delivery) Redelivered() bool { return d.redelivered }

// settle claims d for one settlement.
func (d *delivery) settle() error {
	if !d.settled.CompareAndSwap(false, true) {
		return bus.ErrAlreadySettled
	}
	return nil
}

// Ack acks the delivery on its channel.
func (d *delivery) Ack(ctx context.Context) error {
	if err := d.settle(); err != nil {
		return err
	}
	defer d.cc.release()
	return settleErr("ack", d.cc.ch.Ack(d.tag, false))
}

// Requeue nacks the delivery with requeue: the broker delivers it again at once.
func (d *delivery) Requeue(ctx context.Context) error {
	if err := d.settle(); err != nil {
		return err
	}
	defer d.cc.release()
	return settleErr("requeue", d.cc.ch.Nack(d.tag, false, true))
}

// Redeliver publishes a copy with r's headers to the retry queue of r.Delay (the
// work queue for zero) and waits for its confirm, then acks the delivery. If the
// copy cannot be published, the delivery is handed back to the queue (nack with
// requeue) and the error returned.
func (d *delivery) Redeliver(ctx context.Context, r bus.Redelivery) error {
	if r.Delay < 0 {
		return fmt.Errorf("rabbitmq: redeliver: negative delay %s", r.Delay)
	}
	if err := d.settle(); err != nil {
		return err
	}
	defer d.cc.release()
	c := d.cc.c
	queue, err := c.retryQueue(ctx, r.Delay)
	if err != nil {
		return d.handBack("redeliver", err)
	}
	set := r.Headers
	if r.Attempt > 0 {
		set = make(map[string]string, len(r.Headers)+1)
		for k, v := range r.Headers {
			set[k] = v
		}
		set[bus.HeaderAttempt] = strconv.Itoa(r.Attempt)
	}
	p := c.t.publishing(d.msg.WithHeaders(set), 2)
	p.Headers[headerOriginExchange] = d.origin.exchange
	p.Headers[headerOriginRoutingKey] = d.origin.routingKey
	if err := c.publishCopy(ctx, queue, r.Delay, &p); err != nil {
		return d.handBack("redeliver via "+queue, err)
	}
	return settleErr("ack after redelivery", d.cc.ch.Ack(d.tag, false))
}

// DeadLetter publishes a copy with dl's headers and [bus.HeaderDLQOrigin] to the
// dead-letter queue and waits for its confirm, then acks the delivery. If the
// copy cannot be published, the delivery is handed back to the queue.
func (d *delivery) DeadLetter(ctx context.Context, dl bus.DeadLetter) error {
	if err := d.settle(); err != nil {
		return err
	}
	defer d.cc.release()
	c := d.cc.c
	set := dl.Headers()
	set[bus.HeaderDLQOrigin] = "exchange=" + d.origin.exchange + " routing-key=" + d.origin.routingKey + " queue=" + c.q.Work
	p := c.t.publishing(d.msg.WithHeaders(set), 0)
	if err := c.publishCopy(ctx, c.q.DeadLetter, -1, &p); err != nil {
		return d.handBack("dead-letter via "+c.q.DeadLetter, err)
	}
	return settleErr("ack after dead-lettering", d.cc.ch.Ack(d.tag, false))
}

// handBack nacks the delivery with requeue after a failed redelivery or dead
// letter, so that it does not stay unacked.
func (d *delivery) handBack(what string, err error) error {
	if nerr := d.cc.ch.Nack(d.tag, false, true); nerr != nil {
		return fmt.Errorf("rabbitmq: %s: %w (handing the message back failed too: %v)", what, err, nerr)
	}
	return fmt.Errorf("rabbitmq: %s: %w (the message was handed back to the queue)", what, err)
}

// settleErr wraps the error of an ack or nack: the channel is gone, and the
// broker delivers the message again.
func settleErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("rabbitmq: %s: %w (the channel closed; the broker delivers the message again)", what, err)
	}
	return fmt.Errorf("rabbitmq: %s: %w", what, err)
}
