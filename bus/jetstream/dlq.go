package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// Managing dead letters
//
// A subscription's dead letters are the messages on subject
// "<prefix>.dlq.<subscription>" of the stream "<prefix>_DLQ". The transport
// implements [bus.DeadLetterManager] on them:
//
//   - ReplayDeadLetters republishes each selected dead letter, as
//     [bus.ReplayMessage] makes it, to the events subject of its type
//     ("<prefix>.events.<type>"), waits for the events stream's
//     acknowledgement, and only then deletes the dead letter from the
//     dead-letter stream by its sequence. A copy that could not be published
//     leaves its dead letter (and the ones after it) in place. The copy's
//     Nats-Msg-Id is "replay:<subscription>:<dlq sequence>:<event ID>": a fresh
//     ID, so that the duplicate window does not drop it as the original event,
//     and the same ID for the same dead letter, so that two replays of it
//     racing (or a replay retried after a lost acknowledgement) store one copy.
//   - Before publishing, the replay checks that the subscription's durable
//     consumer exists and that its filter takes the message's event type: the
//     events stream has interest retention, so the server would accept and at
//     once drop a copy no consumer wants, and the dead letter would be lost.
//   - Unlike RabbitMQ, where a replay goes to the subscription's work queue
//     only, JetStream has no per-subscription queue to publish to: every
//     subscription bound to the event type receives the replayed copy. The
//     copy keeps the event ID, so a subscription that handled the event
//     before finds it in its inbox ([bus.Options.Inbox], keyed on subscription
//     and event ID) and skips it (settled as [bus.ActionSkip], the handler not
//     run again) — unless the bus has no inbox, or the inbox's entry expired
//     (its retention is shorter than the time since the event was handled):
//     then that subscription handles the event a second time.
//   - PurgeDeadLetters deletes the selected dead letters by sequence;
//     ImportDeadLetters publishes messages to "<prefix>.dlq.<subscription>" as
//     they are, headers included, one at a time, each acknowledged.
//
// The dead letters a method works on stay visible to other readers meanwhile
// (a stream has no way to hide them); a dead letter another replay or purge
// removed in the meantime is skipped.

var _ bus.DeadLetterManager = (*Transport)(nil)

// dlqEntry is a dead letter and its sequence in the dead-letter stream.
type dlqEntry struct {
	seq uint64
	msg bus.Message
}

// dlqLooked says where the transport looks for a subscription's dead letters.
func (t *Transport) dlqLooked(subscription string) string {
	return fmt.Sprintf("stream %q, subject %q", t.names.dlq, t.names.dlqSubject(subscription))
}

// openDLQ returns the dead-letter stream and how many dead letters the
// subscription has in it. A missing stream, or a subscription that has neither
// dead letters nor a consumer on the events stream (a subscription never
// subscribed, or a wrong name), is a [*bus.NoDeadLetterQueueError].
func (t *Transport) openDLQ(ctx context.Context, subscription string) (natsjs.Stream, int, error) {
	if t.closed.Load() {
		return nil, 0, bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := checkName(subscription, 200); err != nil {
		return nil, 0, fmt.Errorf("jetstream: dead letters: subscription name %w", err)
	}
	noDLQ := func(why string) error {
		return &bus.NoDeadLetterQueueError{Subscription: subscription, Looked: t.dlqLooked(subscription) + why}
	}
	stream, err := t.js.Stream(ctx, t.names.dlq)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		return nil, 0, noDLQ("; the stream does not exist")
	}
	if err != nil {
		return nil, 0, t.mapErr(fmt.Errorf("jetstream: dead letters of %s: stream %s: %w", subscription, t.names.dlq, err))
	}
	subject := t.names.dlqSubject(subscription)
	info, err := stream.Info(ctx, natsjs.WithSubjectFilter(subject))
	if err != nil {
		return nil, 0, t.mapErr(fmt.Errorf("jetstream: dead letters of %s: stream %s: %w", subscription, t.names.dlq, err))
	}
	n := int(info.State.Subjects[subject])
	if n == 0 {
		if _, err := t.js.Consumer(ctx, t.names.events, subscription); errors.Is(err, natsjs.ErrConsumerNotFound) {
			return nil, 0, noDLQ(fmt.Sprintf("; it is empty and stream %q has no consumer %q", t.names.events, subscription))
		} else if err != nil && !errors.Is(err, natsjs.ErrStreamNotFound) {
			return nil, 0, t.mapErr(fmt.Errorf("jetstream: dead letters of %s: consumer: %w", subscription, err))
		}
	}
	return stream, n, nil
}

// readDLQ returns the subscription's dead letters with their sequences, oldest
// first, through a short-lived consumer: those there when it began (fewer if
// others removed some meanwhile).
func (t *Transport) readDLQ(ctx context.Context, subscription string) ([]dlqEntry, error) {
	cons, err := t.js.CreateConsumer(ctx, t.names.dlq, natsjs.ConsumerConfig{
		Description:       "Rampart: managing dead letters of " + subscription,
		FilterSubject:     t.names.dlqSubject(subscription),
		DeliverPolicy:     natsjs.DeliverAllPolicy,
		AckPolicy:         natsjs.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, t.mapErr(fmt.Errorf("jetstream: dead letters of %s: %w", subscription, err))
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		t.js.DeleteConsumer(dctx, t.names.dlq, cons.CachedInfo().Name)
	}()
	n := int(cons.CachedInfo().NumPending)
	out := make([]dlqEntry, 0, n)
	for len(out) < n {
		wait := 5 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if wait <= 0 {
			return nil, context.DeadlineExceeded
		}
		batch, err := cons.Fetch(n-len(out), natsjs.FetchMaxWait(wait))
		if err != nil {
			return nil, t.mapErr(fmt.Errorf("jetstream: dead letters of %s: %w", subscription, err))
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("jetstream: dead letters of %s: %w", subscription, err)
			}
			msg := t.toMessage(m.Subject(), m.Headers(), m.Data())
			msg.Type = msg.Headers[bus.HeaderType]
			out = append(out, dlqEntry{seq: md.Sequence.Stream, msg: msg})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, natsjs.ErrNoMessages) {
			return nil, t.mapErr(fmt.Errorf("jetstream: dead letters of %s: %w", subscription, err))
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if got == 0 {
			break // removed meanwhile by another replay or purge
		}
	}
	return out, nil
}

// DeadLetterQueue returns the dead-letter stream and subject of the
// subscription ("rampart_DLQ subject rampart.dlq.welcome-email") and how many
// dead letters it holds.
func (t *Transport) DeadLetterQueue(ctx context.Context, subscription string) (bus.DeadLetterQueueInfo, error) {
	_, n, err := t.openDLQ(ctx, subscription)
	if err != nil {
		return bus.DeadLetterQueueInfo{}, err
	}
	return bus.DeadLetterQueueInfo{Name: t.names.dlq + " subject " + t.names.dlqSubject(subscription), Messages: n}, nil
}

// ReplayDeadLetters republishes the selected dead letters, as
// [bus.ReplayMessage] makes them, to the events subjects of their types, each
// acknowledged by the events stream before it is deleted from the dead-letter
// stream. Every subscription bound to a message's event type receives the
// copy, not only this one; those that handled the event before skip it through
// their inbox (see the comment at the top of this file). A replay stops at the
// first message it cannot republish — one whose type the subscription's
// consumer does not take, or a failed publish — and the rest stay.
func (t *Transport) ReplayDeadLetters(ctx context.Context, subscription string, opts bus.ReplayOptions) (res bus.ReplayResult, err error) {
	stream, _, err := t.openDLQ(ctx, subscription)
	if err != nil {
		return res, err
	}
	all, err := t.readDLQ(ctx, subscription)
	if err != nil {
		return res, err
	}
	var picked []dlqEntry
	for _, e := range all {
		if (opts.Limit <= 0 || len(picked) < opts.Limit) && (opts.Match == nil || opts.Match(e.msg)) {
			picked = append(picked, e)
		} else {
			res.Kept++
		}
	}
	res.Replayed = make([]bus.Message, 0, len(picked))
	if opts.DryRun {
		for _, e := range picked {
			res.Replayed = append(res.Replayed, e.msg)
		}
		return res, nil
	}
	if len(picked) == 0 {
		return res, nil
	}
	stop := func(i int, err error) (bus.ReplayResult, error) {
		res.Kept += len(picked) - i
		return res, fmt.Errorf("jetstream: replay of %s stopped after %d of %d messages; the others stay in %s: %w",
			subscription, len(res.Replayed), len(picked), t.names.dlq, err)
	}
	filters, err := t.replayFilters(ctx, subscription)
	if err != nil {
		return stop(0, err)
	}
	for i, e := range picked {
		if err := ctx.Err(); err != nil {
			return stop(i, err)
		}
		if t.closed.Load() {
			return stop(i, bus.ErrClosed)
		}
		done, err := t.replayOne(ctx, stream, subscription, filters, e)
		if err != nil {
			return stop(i, err)
		}
		if !done {
			continue // another replay or purge took it
		}
		res.Replayed = append(res.Replayed, e.msg)
		if opts.Progress != nil {
			opts.Progress(len(res.Replayed), len(picked))
		}
	}
	return res, nil
}

// replayFilters returns the filter subjects of the subscription's consumer on
// the events stream (none: every subject), or an error if it does not exist: a
// copy published with no consumer to keep it would be dropped.
func (t *Transport) replayFilters(ctx context.Context, subscription string) ([]string, error) {
	cons, err := t.js.Consumer(ctx, t.names.events, subscription)
	if errors.Is(err, natsjs.ErrConsumerNotFound) || errors.Is(err, natsjs.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s has no consumer %q: the server would drop a replayed message (subscribe first)", t.names.events, subscription)
	}
	if err != nil {
		return nil, t.mapErr(fmt.Errorf("consumer %s: %w", subscription, err))
	}
	return consumerFilters(cons.CachedInfo().Config), nil
}

// replayOne republishes e to the events stream and then deletes it from the
// dead-letter stream. It reports false, and does nothing, if e is no longer
// there.
func (t *Transport) replayOne(ctx context.Context, stream natsjs.Stream, subscription string, filters []string, e dlqEntry) (bool, error) {
	if err := checkType(e.msg.Type); err != nil {
		return false, fmt.Errorf("message %s (sequence %d): %w", e.msg.ID, e.seq, err)
	}
	subject := t.names.eventSubject(e.msg.Type)
	if len(filters) > 0 && !anyMatch(filters, subject) {
		return false, fmt.Errorf("message %s: the consumer %s does not take %s (filters %s): the server would drop it",
			e.msg.ID, subscription, e.msg.Type, strings.Join(filters, ", "))
	}
	if _, err := stream.GetMsg(ctx, e.seq); errors.Is(err, natsjs.ErrMsgNotFound) {
		return false, nil
	} else if err != nil {
		return false, t.mapErr(fmt.Errorf("message %s: %w", e.msg.ID, err))
	}
	nm := t.eventMsg(bus.ReplayMessage(e.msg, time.Now()))
	nm.Header.Set(natsjs.MsgIDHeader, "replay:"+subscription+":"+strconv.FormatUint(e.seq, 10)+":"+e.msg.ID)
	if _, err := t.js.PublishMsg(ctx, nm, natsjs.WithExpectStream(t.names.events)); err != nil {
		return false, t.mapErr(fmt.Errorf("publishing %s to %s: %w", e.msg.ID, subject, err))
	}
	if err := stream.DeleteMsg(ctx, e.seq); err != nil && !errors.Is(err, natsjs.ErrMsgNotFound) {
		return false, t.mapErr(fmt.Errorf("deleting %s (sequence %d) from %s after replaying it (it is replayed, and stays a dead letter too): %w",
			e.msg.ID, e.seq, t.names.dlq, err))
	}
	return true, nil
}

// anyMatch reports whether one of the filter subjects matches subject.
func anyMatch(filters []string, subject string) bool {
	for _, f := range filters {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

// subjectMatches reports whether the NATS subject filter (with '*' and '>'
// wildcards) matches subject.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || f != "*" && f != st[i] {
			return false
		}
	}
	return len(ft) == len(st)
}

// PurgeDeadLetters deletes the dead letters that match (all for nil) from the
// dead-letter stream by sequence, and returns how many it deleted.
func (t *Transport) PurgeDeadLetters(ctx context.Context, subscription string, match func(bus.Message) bool) (int, error) {
	stream, _, err := t.openDLQ(ctx, subscription)
	if err != nil {
		return 0, err
	}
	all, err := t.readDLQ(ctx, subscription)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range all {
		if match != nil && !match(e.msg) {
			continue
		}
		if err := stream.DeleteMsg(ctx, e.seq); errors.Is(err, natsjs.ErrMsgNotFound) {
			continue
		} else if err != nil {
			return n, t.mapErr(fmt.Errorf("jetstream: purging dead letters of %s: after %d: %w", subscription, n, err))
		}
		n++
	}
	return n, nil
}

// ImportDeadLetters publishes msgs to "<prefix>.dlq.<subscription>" as they
// are, headers included, one at a time, each acknowledged by the dead-letter
// stream.
func (t *Transport) ImportDeadLetters(ctx context.Context, subscription string, msgs []bus.Message) error {
	if _, _, err := t.openDLQ(ctx, subscription); err != nil {
		return err
	}
	subject := t.names.dlqSubject(subscription)
	for i, m := range msgs {
		nm := t.eventMsg(m)
		nm.Subject = subject
		nm.Header.Del(natsjs.MsgIDHeader)
		if _, err := t.js.PublishMsg(ctx, nm, natsjs.WithExpectStream(t.names.dlq)); err != nil {
			return t.mapErr(fmt.Errorf("jetstream: importing dead letters of %s: message %d (%s), after %d imported: %w", subscription, i+1, m.ID, i, err))
		}
	}
	return nil
}
