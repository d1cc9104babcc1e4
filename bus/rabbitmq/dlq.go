package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
)

var _ bus.DeadLetterManager = (*Transport)(nil)

// dlqSession is a channel on the consume connection for managing one
// subscription's dead-letter queue. Messages it fetched and did not settle go
// back to the queue when it closes (or when the channel is lost).
type dlqSession struct {
	t     *Transport
	sub   string
	name  string // the dead-letter queue
	work  string // the work queue
	ch    *amqp.Channel
	count int // messages in the queue when the session began
}

// openDLQ opens a session on the dead-letter queue of subscription; a missing
// queue is a [*bus.NoDeadLetterQueueError].
func (t *Transport) openDLQ(ctx context.Context, subscription string) (*dlqSession, error) {
	if t.ctx.Err() != nil {
		return nil, bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := t.cons.get(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	qs := t.Queues(subscription)
	q, err := ch.QueueDeclarePassive(qs.DeadLetter, true, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		var aerr *amqp.Error
		if errors.As(err, &aerr) && aerr.Code == amqp.NotFound {
			return nil, &bus.NoDeadLetterQueueError{Subscription: subscription, Looked: fmt.Sprintf("queue %q", qs.DeadLetter)}
		}
		return nil, fmt.Errorf("rabbitmq: dead letters of %q: %w", subscription, err)
	}
	return &dlqSession{t: t, sub: subscription, name: qs.DeadLetter, work: qs.Work, ch: ch, count: q.Messages}, nil
}

// fetched is a dead letter fetched with basic.get and not settled yet.
type fetched struct {
	tag uint64
	msg bus.Message
}

// fetch fetches the messages that were in the queue when the session began
// (fewer if others took some), without acking them.
func (s *dlqSession) fetch(ctx context.Context) ([]fetched, error) {
	out := make([]fetched, 0, s.count)
	for len(out) < s.count {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, ok, err := s.ch.Get(s.name, false)
		if err != nil {
			return nil, fmt.Errorf("rabbitmq: dead letters of %q: basic.get: %w", s.sub, err)
		}
		if !ok {
			break
		}
		m, _ := message(&d)
		out = append(out, fetched{tag: d.DeliveryTag, msg: m})
	}
	return out, nil
}

// close hands back (nack with requeue) every fetched message up to tag last
// that was not acked, then waits a moment until the queue holds want messages
// again (a quorum queue puts them back through its log), so that a reader right
// after this one sees them. It closes the session.
func (s *dlqSession) close(ctx context.Context, last uint64, want int) error {
	defer s.ch.Close()
	if last == 0 {
		return nil
	}
	if err := s.ch.Nack(last, true, true); err != nil {
		return fmt.Errorf("rabbitmq: dead letters of %q: handing them back: %w", s.sub, err)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		q, err := s.ch.QueueDeclarePassive(s.name, true, false, false, false, nil)
		if err != nil || q.Messages >= want {
			break
		}
		time.Sleep(2 * time.Millisecond) // polling: the broker does not notify this
	}
	return nil
}

// DeadLetterQueue returns the name and size of the subscription's dead-letter
// queue ("<prefix>.<subscription>.dlq").
func (t *Transport) DeadLetterQueue(ctx context.Context, subscription string) (bus.DeadLetterQueueInfo, error) {
	s, err := t.openDLQ(ctx, subscription)
	if err != nil {
		return bus.DeadLetterQueueInfo{}, err
	}
	defer s.ch.Close()
	return bus.DeadLetterQueueInfo{Name: s.name, Messages: s.count}, nil
}

// ReplayDeadLetters fetches the dead letters with basic.get (without acking
// them), publishes a copy of each selected one ([bus.ReplayMessage]) to the
// subscription's work queue through the default exchange and waits for its
// confirm, then acks it; the others are handed back (nack with requeue) at the
// end. If a copy cannot be published, it and the rest stay in the dead-letter
// queue and the error says how many were replayed. While it runs, the fetched
// messages are invisible to other readers.
func (t *Transport) ReplayDeadLetters(ctx context.Context, subscription string, opts bus.ReplayOptions) (res bus.ReplayResult, err error) {
	s, err := t.openDLQ(ctx, subscription)
	if err != nil {
		return res, err
	}
	all, err := s.fetch(ctx)
	if err != nil {
		s.ch.Close()
		return res, err
	}
	var picked []fetched
	var last uint64 // the highest tag not acked
	for _, f := range all {
		if (opts.Limit <= 0 || len(picked) < opts.Limit) && (opts.Match == nil || opts.Match(f.msg)) {
			picked = append(picked, f)
		} else {
			res.Kept++
			last = f.tag
		}
	}
	if opts.DryRun {
		for _, f := range picked {
			res.Replayed = append(res.Replayed, f.msg)
		}
		if len(all) > 0 {
			last = all[len(all)-1].tag
		}
		return res, s.close(ctx, last, len(all))
	}
	for i, f := range picked {
		if err = t.replayOne(ctx, s, f); err != nil {
			for _, rest := range picked[i:] {
				last = max(last, rest.tag)
			}
			res.Kept += len(picked) - i
			err = fmt.Errorf("rabbitmq: replay of %q stopped after %d of %d messages; the others stay in %s: %w", subscription, i, len(picked), s.name, err)
			break
		}
		res.Replayed = append(res.Replayed, f.msg)
		if opts.Progress != nil {
			opts.Progress(len(res.Replayed), len(picked))
		}
	}
	if cerr := s.close(ctx, last, res.Kept); err == nil {
		err = cerr
	}
	return res, err
}

// replayOne publishes the replay copy of f to the work queue, confirmed, then
// acks f. The copy keeps where the message was first published, so that a later
// dead letter names it.
func (t *Transport) replayOne(ctx context.Context, s *dlqSession, f fetched) error {
	p := t.publishing(bus.ReplayMessage(f.msg, time.Now()), 2)
	if o := parseOrigin(f.msg.Headers[bus.HeaderDLQOrigin]); o.exchange != "" || o.routingKey != "" {
		p.Headers[headerOriginExchange] = o.exchange
		p.Headers[headerOriginRoutingKey] = o.routingKey
	}
	if err := t.pub.publish(ctx, "", s.work, &p); err != nil {
		if errors.Is(err, bus.ErrUnroutable) {
			return fmt.Errorf("the work queue %q does not exist: %w", s.work, err)
		}
		return err
	}
	if err := s.ch.Ack(f.tag, false); err != nil {
		return fmt.Errorf("acking %s in the dead-letter queue after replaying it (it is replayed, and will be in the dead-letter queue again): %w", f.msg.ID, err)
	}
	return nil
}

// parseOrigin reads the exchange and routing key of a [bus.HeaderDLQOrigin]
// written by [delivery.DeadLetter]: "exchange=X routing-key=Y queue=Z".
func parseOrigin(s string) origin {
	var o origin
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "exchange":
			o.exchange = v
		case "routing-key":
			o.routingKey = v
		}
	}
	return o
}

// PurgeDeadLetters fetches the dead letters with basic.get, acks those that
// match (all for nil), and hands the others back.
func (t *Transport) PurgeDeadLetters(ctx context.Context, subscription string, match func(bus.Message) bool) (int, error) {
	s, err := t.openDLQ(ctx, subscription)
	if err != nil {
		return 0, err
	}
	all, err := s.fetch(ctx)
	if err != nil {
		s.ch.Close()
		return 0, err
	}
	n, kept := 0, 0
	var last uint64
	for _, f := range all {
		if match != nil && !match(f.msg) {
			kept++
			last = f.tag
			continue
		}
		if err := s.ch.Ack(f.tag, false); err != nil {
			s.ch.Close()
			return n, fmt.Errorf("rabbitmq: purging dead letters of %q: ack: %w", subscription, err)
		}
		n++
	}
	return n, s.close(ctx, last, kept)
}

// ImportDeadLetters publishes msgs to the subscription's dead-letter queue
// through the default exchange, one at a time and confirmed, headers as they
// are.
func (t *Transport) ImportDeadLetters(ctx context.Context, subscription string, msgs []bus.Message) error {
	s, err := t.openDLQ(ctx, subscription)
	if err != nil {
		return err
	}
	s.ch.Close()
	for i, m := range msgs {
		p := t.publishing(m, 0)
		if err := t.pub.publish(ctx, "", s.name, &p); err != nil {
			return fmt.Errorf("rabbitmq: importing dead letters of %q: message %d (%s), after %d imported: %w", subscription, i+1, m.ID, i, err)
		}
	}
	return nil
}
