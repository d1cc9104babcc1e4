package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// delivery is one delivery of a stored message to a consumer. Exactly one of
// Ack, Requeue, Redeliver and DeadLetter settles it; until then the progress
// loop keeps it from being redelivered with in-progress acks.
// One is allocated per message: its fields are ordered so that it takes 144
// bytes, not 160.
type delivery struct {
	c         *consumer
	m         *nats.Msg
	msg       bus.Message
	seq       uint64 // stream sequence
	delivered uint64 // the server's delivery count, NumDelivered
	note      *note  // the redelivery record applied, if any

	touched atomic.Int64 // unix nanoseconds of the delivery or the last in-progress ack

	mu          sync.Mutex // orders the settlement after any in-progress ack
	settled     bool
	redelivered bool
}

var _ bus.Delivery = (*delivery)(nil)

func (d *delivery) Message() bus.Message { return d.msg }
func (d *delivery) Redelivered() bool    { return d.redelivered }

// claim marks d settled, once, stops its in-progress acks, and gives its room
// back to the consumer.
func (d *delivery) claim(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.c.t.closed.Load() {
		return bus.ErrClosed
	}
	if !d.claimQuiet() {
		return bus.ErrAlreadySettled
	}
	return nil
}

// claimQuiet is claim for the transport's own hand-backs: it reports whether d
// was not settled yet.
func (d *delivery) claimQuiet() bool {
	d.mu.Lock()
	if d.settled {
		d.mu.Unlock()
		return false
	}
	d.settled = true
	d.mu.Unlock()
	d.c.release(d)
	return true
}

// Ack acknowledges the message, through the transport's ack pump and without
// waiting for the server (a lost ack means a redelivery after AckWait, which
// the inbox absorbs), and removes its redelivery record.
func (d *delivery) Ack(ctx context.Context) error {
	if err := d.claim(ctx); err != nil {
		return err
	}
	t := d.c.t
	if hook := testHookAckClaimed.Load(); hook != nil {
		(*hook)()
	}
	select {
	case t.acks <- d.m.Reply: // the ack pump publishes it
	default:
		// The queue is full: wait for room. Only now is ctx watched, which
		// costs a bus's settling context its timer.
		select {
		case t.acks <- d.m.Reply:
		case <-t.done:
			return bus.ErrClosed
		case <-ctx.Done():
			if err := t.nc.Publish(d.m.Reply, ackAck); err != nil {
				return fmt.Errorf("jetstream: ack: %w", err)
			}
			d.dropNote(ctx)
			return nil
		}
	}
	select {
	case <-t.done:
		// Close may have started while the ack was queued, after the pump's
		// last look at the queue: send it here too (a second +ACK is harmless)
		// so that nil is never returned for an ack that was not sent.
		if err := t.nc.Publish(d.m.Reply, ackAck); err != nil {
			return fmt.Errorf("jetstream: ack while the transport closes: %w", err)
		}
	default:
	}
	d.dropNote(ctx)
	return nil
}

// Requeue naks the message for immediate redelivery, and waits for the server
// to confirm. The attempt stays the same.
func (d *delivery) Requeue(ctx context.Context) error {
	if err := d.claim(ctx); err != nil {
		return err
	}
	return d.ackSync(ctx, ackNak)
}

// Redeliver records the redelivery's attempt and headers in the redelivery
// stream (a stored message's headers cannot change), then naks the message with
// r.Delay (NakWithDelay) and waits for the server to confirm. If the record
// cannot be written, the message is handed back (a -NAK with handBackDelay:
// delivered again soon, with the attempt it had, rather than after AckWait) and
// the error returned. The next delivery
// carries the recorded headers: its HeaderAttempt is r.Attempt, not the
// server's delivery count, which also counts requeues, hand-backs and
// duplicates held back by the inbox.
func (d *delivery) Redeliver(ctx context.Context, r bus.Redelivery) error {
	if r.Delay < 0 {
		return fmt.Errorf("jetstream: redeliver: negative delay %s", r.Delay)
	}
	if err := d.claim(ctx); err != nil {
		return err
	}
	if err := d.writeNote(ctx, r); err != nil {
		return d.handBack(err, handBackDelay)
	}
	payload := ackNak
	if r.Delay > 0 {
		payload = []byte(fmt.Sprintf(`-NAK {"delay": %d}`, r.Delay.Nanoseconds()))
	}
	return d.ackSync(ctx, payload)
}

// DeadLetter publishes the message with dl's headers and the transport's origin
// to "<prefix>.dlq.<subscription>" and waits for the dead-letter stream's
// acknowledgement, then terminates the delivery (+TERM, confirmed) so that the
// server never redelivers it. If the dead letter cannot be published, the
// message is handed back (a -NAK with handBackDelay) and the error returned.
func (d *delivery) DeadLetter(ctx context.Context, dl bus.DeadLetter) error {
	if err := d.claim(ctx); err != nil {
		return err
	}
	t := d.c.t
	set := dl.Headers()
	set[bus.HeaderDLQOrigin] = fmt.Sprintf("%s subject=%s sequence=%d", d.c.origin, d.m.Subject, d.seq)
	msg := d.msg.WithHeaders(set)
	nm := &nats.Msg{Subject: t.names.dlqSubject(d.c.sub.Name), Header: natsHeader(msg.Headers, 1), Data: msg.Body}
	// The same delivery dead-lettered twice (the +TERM was lost) is one dead
	// letter; the event ID tells apart a stream created again.
	id := d.c.sub.Name + ":" + strconv.FormatUint(d.seq, 10) + ":" + d.msg.ID
	if _, err := t.js.PublishMsg(ctx, nm, natsjs.WithMsgID(id)); err != nil {
		return d.handBack(t.mapErr(fmt.Errorf("jetstream: dead-letter: publish to %s: %w", t.names.dlq, err)), handBackDelay)
	}
	if err := d.ackSync(ctx, ackTerm); err != nil {
		return err
	}
	d.dropNote(ctx)
	return nil
}

// handBackDelay is how long a message waits before it is delivered again after
// its redelivery record or dead letter could not be written: long enough that a
// stream refusing writes does not turn into a tight loop of handler runs, short
// enough to be well under AckWait.
const handBackDelay = time.Second

// handBack naks d with delay (not waiting for the server) after a Redeliver or
// DeadLetter failed before settling it, so that the server delivers the message
// again after delay instead of after AckWait, and returns err saying so. Not at
// once: the attempt count does not advance while its record cannot be written,
// so a stream that keeps refusing writes would otherwise run the handler in a
// tight loop. A dead letter or redelivery record stored although its publish
// reported an error does no harm: the dead letter's ID makes a second one a
// duplicate, and the record only makes the early delivery the scheduled one.
func (d *delivery) handBack(err error, delay time.Duration) error {
	payload := ackNak
	if delay > 0 {
		payload = []byte(fmt.Sprintf(`-NAK {"delay": %d}`, delay.Nanoseconds()))
	}
	if nerr := d.c.t.nc.Publish(d.m.Reply, payload); nerr != nil {
		return fmt.Errorf("%w (handing the message back failed too: %v)", err, nerr)
	}
	return fmt.Errorf("%w (the message was handed back for redelivery)", err)
}

// Acknowledgement payloads.
var (
	ackAck      = []byte("+ACK")
	ackNak      = []byte("-NAK")
	ackTerm     = []byte("+TERM")
	ackProgress = []byte("+WPI")
)

// ackSync sends an acknowledgement and waits for the server to confirm it.
func (d *delivery) ackSync(ctx context.Context, payload []byte) error {
	if _, err := d.c.t.nc.RequestWithContext(ctx, d.m.Reply, payload); err != nil {
		return d.c.t.mapErr(fmt.Errorf("jetstream: %s: %w", payload[:min(len(payload), 5)], err))
	}
	return nil
}

// note is the record of a scheduled redelivery: the headers the next delivery
// carries, and the delivery count it will have.
type note struct {
	seq      uint64 // the record's sequence in the redelivery stream
	delivery uint64
	headers  map[string]string
}

// noteDeliveryHeader carries note.delivery. Bus headers are lower case, so it
// cannot collide with one.
const noteDeliveryHeader = "Rampart-Delivery"

func (t *Transport) noteSubject(sub string, seq uint64) string {
	return t.names.redeliveryPrefix + sub + "." + strconv.FormatUint(seq, 10)
}

// writeNote records the redelivery r of d: the headers of d's own record (if
// any) updated with r's, and r.Attempt.
func (d *delivery) writeNote(ctx context.Context, r bus.Redelivery) error {
	t := d.c.t
	h := make(nats.Header, 4)
	if d.note != nil {
		for k, v := range d.note.headers {
			h[k] = []string{v}
		}
	}
	for k, v := range r.Headers {
		h[k] = []string{v}
	}
	if r.Attempt > 0 {
		h[bus.HeaderAttempt] = []string{strconv.Itoa(r.Attempt)}
	}
	h[noteDeliveryHeader] = []string{strconv.FormatUint(d.delivered+1, 10)}
	_, err := t.js.PublishMsg(ctx, &nats.Msg{Subject: t.noteSubject(d.c.sub.Name, d.seq), Header: h})
	if err != nil {
		return t.mapErr(fmt.Errorf("jetstream: redeliver: recording the redelivery in %s: %w", t.names.redelivery, err))
	}
	return nil
}

// readNote returns the record of the last redelivery scheduled for the message
// seq of subscription sub, or nil if there is none.
func (t *Transport) readNote(ctx context.Context, sub string, seq uint64) (*note, error) {
	raw, err := t.notes.GetLastMsgForSubject(ctx, t.noteSubject(sub, seq))
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: reading the redelivery record of %s message %d: %w", sub, seq, err)
	}
	n := &note{seq: raw.Sequence, headers: make(map[string]string, len(raw.Header))}
	for k, v := range raw.Header {
		if len(v) == 0 {
			continue
		}
		if k == noteDeliveryHeader {
			n.delivery, _ = strconv.ParseUint(v[0], 10, 64)
			continue
		}
		if len(k) > 5 && k[:5] == "Nats-" {
			continue
		}
		n.headers[k] = v[0]
	}
	return n, nil
}

// dropNote removes d's redelivery record once d is settled for good. A record
// left behind (the call failed) expires after two weeks.
func (d *delivery) dropNote(ctx context.Context) {
	if d.note == nil {
		return
	}
	if err := d.c.t.notes.DeleteMsg(ctx, d.note.seq); err != nil && !errors.Is(err, natsjs.ErrMsgNotFound) {
		d.c.t.opts.Logger.Debug("jetstream: removing a redelivery record", "subscription", d.c.sub.Name, "err", err)
	}
}

// progressLoop sends an in-progress ack (+WPI) for every delivery that has been
// held for half its AckWait since it arrived or since its last in-progress ack,
// so that a long handler keeps its message. One loop serves every consumer of
// the transport; it checks every quarter of the shortest AckWait.
func (t *Transport) progressLoop() {
	defer t.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []*delivery
	for {
		t.mu.Lock()
		tick := t.minWait / 4
		t.mu.Unlock()
		if tick <= 0 {
			tick = time.Hour
		}
		tick = max(tick, 5*time.Millisecond)
		timer.Reset(tick)
		select {
		case <-t.done:
			return
		case <-t.wake:
			continue
		case <-timer.C:
		}
		now := time.Now().UnixNano()
		due = due[:0]
		t.mu.Lock()
		consumers := make([]*consumer, 0, len(t.consumers))
		for c := range t.consumers {
			consumers = append(consumers, c)
		}
		t.mu.Unlock()
		for _, c := range consumers {
			due = c.due(now, due)
		}
		for _, d := range due {
			d.progress(now)
		}
		clear(due)
	}
}

// progress sends an in-progress ack unless d is settled. The lock orders it
// before the settlement on the connection: a +WPI that followed a -NAK with a
// delay would replace the delay with AckWait.
func (d *delivery) progress(now int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return
	}
	if err := d.c.t.nc.Publish(d.m.Reply, ackProgress); err != nil {
		return
	}
	d.touched.Store(now)
}
