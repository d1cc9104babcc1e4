package jetstream

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rampart-go/rampart/bus"
)

// Subscribe declares the subscription's durable consumer on the events stream —
// named after the subscription, filtering the subjects of its event types, with
// explicit acks, the AckWait of [Options.AckWait] (or the subscription's, if
// shorter) and Options.MaxDeliver — or adds the event types to the existing
// consumer, and starts pulling from it with up to sub.Prefetch messages held at
// once. Consumers of one subscription, in this process or another, share its
// messages. A consumer the transport cannot use is a [*ConfigError]; binding
// several event types needs NATS 2.10 or later.
func (t *Transport) Subscribe(ctx context.Context, sub bus.Subscription) (bus.Consumer, error) {
	if t.closed.Load() {
		return nil, bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkName(sub.Name, 200); err != nil {
		return nil, fmt.Errorf("jetstream: subscription name %w", err)
	}
	for _, typ := range sub.EventTypes {
		if err := checkType(typ); err != nil {
			return nil, fmt.Errorf("jetstream: subscribe %q: %w", sub.Name, err)
		}
	}
	sub.EventTypes = append([]string(nil), sub.EventTypes...)
	sub.AckWait = t.ackWait(sub)
	if _, err := t.declareConsumer(ctx, sub); err != nil {
		return nil, err
	}
	prefetch := max(1, sub.Prefetch)
	c := &consumer{
		t:         t,
		sub:       sub,
		prefetch:  prefetch,
		threshold: max(1, prefetch/2),
		origin:    "stream=" + t.names.events + " consumer=" + sub.Name,
		next:      "$JS.API.CONSUMER.MSG.NEXT." + t.names.events + "." + sub.Name,
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		queue:     make(chan *delivery, 2*prefetch+16),
		drained:   make(chan struct{}),
		inflight:  make(map[*delivery]struct{}),
	}
	if err := c.start(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		c.Close()
		return nil, bus.ErrClosed
	}
	t.consumers[c] = struct{}{}
	if t.minWait == 0 || sub.AckWait < t.minWait {
		t.minWait = sub.AckWait
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	t.mu.Unlock()
	return c, nil
}

// consumer pulls the deliveries of one subscription. It asks the server for
// exactly the room it has — prefetch minus the messages it holds (queued or
// being handled) minus those already asked for — so that every message sent to
// it is tracked, kept alive with in-progress acks, and handed back at Close.
type consumer struct {
	t         *Transport
	sub       bus.Subscription // AckWait is the server's
	prefetch  int
	threshold int    // ask for more once this much room is free
	origin    string // for HeaderDLQOrigin, without the subject and sequence
	next      string // the pull request subject

	ctx     context.Context // cancelled by Close: the pull loop's calls
	cancel  context.CancelFunc
	nsub    *nats.Subscription // the inbox the server delivers to
	status  chan nats.Status   // reconnections
	done    chan struct{}      // closed by Close
	wake    chan struct{}      // tells the pull loop that room was freed
	queue   chan *delivery     // received from the server, not yet by a worker
	drained chan struct{}      // closed when the inbox subscription has ended
	wg      sync.WaitGroup     // the pull loop
	running atomic.Bool        // the server-side consumer answers
	closed  atomic.Bool        // set under mu

	mu        sync.Mutex
	inflight  map[*delivery]struct{} // queued or being handled: kept alive with in-progress acks
	held      int                    // queued or being handled: not settled
	requested int                    // asked for in pull requests that may still deliver
	lastSeen  time.Time              // the last message or heartbeat of a pull request
	redeclare bool                   // the server-side consumer needs declaring again
	pause     time.Time              // no pull request before then: the server refused one
}

// start subscribes to the consumer's inbox and starts the pull loop.
func (c *consumer) start() error {
	nc := c.t.nc
	sub, err := nc.Subscribe(nc.NewInbox(), c.onMsg)
	if err != nil {
		return fmt.Errorf("jetstream: consume %s: %w", c.sub.Name, err)
	}
	// The pull loop keeps up with the messages; nats.go's limits would drop them.
	sub.SetPendingLimits(-1, -1)
	var once sync.Once
	sub.SetClosedHandler(func(string) { once.Do(func() { close(c.drained) }) })
	c.nsub = sub
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.status = nc.StatusChanged(nats.CONNECTED)
	c.running.Store(true)
	c.wg.Add(1)
	go c.pullLoop()
	return nil
}

// Receive returns the next message of the subscription. A message the server
// delivered before (NumDelivered > 1) gets the attempt and headers recorded when
// its redelivery was scheduled.
func (c *consumer) Receive(ctx context.Context) (bus.Delivery, error) {
	for {
		if c.closed.Load() || c.t.closed.Load() {
			return nil, bus.ErrClosed
		}
		// A message is usually queued already: take it without the cost of a
		// select over four channels.
		var d *delivery
		select {
		case d = <-c.queue:
		default:
			select {
			case d = <-c.queue:
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-c.done:
				return nil, bus.ErrClosed
			case <-c.t.done:
				return nil, bus.ErrClosed
			}
		}
		if c.closed.Load() {
			if d.claimQuiet() {
				c.t.nc.Publish(d.m.Reply, ackNak) // hand it back: Close may have missed it
			}
			return nil, bus.ErrClosed
		}
		if err := c.prepare(ctx, d); err != nil {
			if ctx.Err() != nil {
				// The caller gave up, not the record: hand the message back
				// at once and stop, rather than take the rest of the queue
				// the same way.
				if d.claimQuiet() {
					c.t.nc.Publish(d.m.Reply, ackNak)
				}
				return nil, ctx.Err()
			}
			// Without its redelivery record the attempt would be wrong: try later.
			c.t.setErr(err)
			c.t.opts.Logger.Warn("jetstream: reading a redelivery record; the message comes back in a second",
				"subscription", c.sub.Name, "err", err)
			if d.claimQuiet() {
				c.t.nc.Publish(d.m.Reply, []byte(`-NAK {"delay": 1000000000}`))
			}
			continue
		}
		return d, nil
	}
}

// signal wakes whoever waits on ch, without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// noteTimeout bounds reading the record of a scheduled redelivery.
const noteTimeout = 5 * time.Second

// prepare reads d's metadata and, for a redelivery, applies its record.
func (c *consumer) prepare(ctx context.Context, d *delivery) error {
	seq, delivered, ok := ackInfo(d.m.Reply)
	if !ok {
		md, err := d.m.Metadata()
		if err != nil {
			return err
		}
		seq, delivered = md.Sequence.Stream, md.NumDelivered
	}
	d.seq, d.delivered = seq, delivered
	d.msg = c.t.toMessage(d.m.Subject, d.m.Header, d.m.Data)
	d.redelivered = delivered > 1
	if delivered > 1 {
		nctx, cancel := context.WithTimeout(ctx, noteTimeout)
		defer cancel()
		n, err := c.t.readNote(nctx, c.sub.Name, d.seq)
		if err != nil {
			return err
		}
		if n != nil {
			d.note = n
			d.msg = d.msg.WithHeaders(n.headers)
			d.redelivered = delivered > n.delivery
		}
	}
	return nil
}

// ackInfo reads the stream sequence and the delivery count from the reply
// subject of a consumer's message, as nats.Msg.Metadata does but without
// allocating: "$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
// seq>.<time>.<pending>", or with "<domain>.<account hash>." before the stream
// and more tokens after the pending count (NATS 2.9 and later). ok is false
// for any other subject, which Metadata then reports on.
func ackInfo(reply string) (seq, delivered uint64, ok bool) {
	rest, found := strings.CutPrefix(reply, "$JS.ACK.")
	if !found {
		return 0, 0, false
	}
	skip := 2 // stream, consumer
	switch n := strings.Count(rest, ".") + 1; {
	case n == 7:
	case n >= 9:
		skip = 4 // domain, account hash, stream, consumer
	default:
		return 0, 0, false
	}
	for range skip {
		_, rest, _ = strings.Cut(rest, ".")
	}
	d, rest, _ := strings.Cut(rest, ".")
	s, _, _ := strings.Cut(rest, ".")
	delivered, err1 := strconv.ParseUint(d, 10, 64)
	seq, err2 := strconv.ParseUint(s, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return seq, delivered, true
}

// handBackTimeout bounds waiting for the server to stop sending at Close.
const handBackTimeout = 2 * time.Second

// Close stops pulling, lets the server's last messages arrive, and hands back
// (naks) every message nobody received; deliveries already received stay valid
// until settled. Close is idempotent.
func (c *consumer) Close() error {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return nil
	}
	c.closed.Store(true) // onMsg hands back what arrives from now on
	c.mu.Unlock()
	close(c.done)
	c.cancel()
	c.running.Store(false)
	c.wg.Wait()
	nc := c.t.nc
	nc.RemoveStatusListener(c.status)

	// Unsubscribe, and let what the server sent before it saw that arrive.
	if err := c.nsub.Drain(); err != nil {
		c.nsub.Unsubscribe()
	}
	select {
	case <-c.drained:
	case <-time.After(handBackTimeout):
		c.nsub.Unsubscribe()
	}
	for {
		select {
		case d := <-c.queue:
			if d.claimQuiet() {
				nc.Publish(d.m.Reply, ackNak)
			}
			continue
		default:
		}
		break
	}
	if nc.IsConnected() {
		nc.FlushTimeout(time.Second)
	}
	c.forgetIfIdle()
	return nil
}

// forgetIfIdle removes a closed consumer from the transport once it holds no
// delivery: until then the progress loop keeps its deliveries alive.
func (c *consumer) forgetIfIdle() {
	c.mu.Lock()
	idle := c.closed.Load() && len(c.inflight) == 0
	c.mu.Unlock()
	if idle {
		c.t.mu.Lock()
		delete(c.t.consumers, c)
		c.t.mu.Unlock()
	}
}
