package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// deadLetter is a message in a dead-letter queue, with a sequence number that
// identifies it while no lock is held.
type deadLetter struct {
	seq uint64
	msg bus.Message
}

// addDeadLocked appends msg to the dead-letter queue. Called with q.mu held.
func (q *queue) addDeadLocked(msg bus.Message) {
	q.deadSeq++
	q.dead = append(q.dead, deadLetter{seq: q.deadSeq, msg: msg})
}

// dlq returns the queue of a subscription for managing its dead letters: every
// subscription that was ever subscribed has one.
func (t *Transport) dlq(ctx context.Context, subscription string) (*queue, error) {
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
		return nil, &bus.NoDeadLetterQueueError{Subscription: subscription, Looked: fmt.Sprintf("memory queue %q", subscription)}
	}
	return q, nil
}

// DeadLetterQueue returns the name ("<subscription>.dlq") and size of the
// subscription's dead-letter queue; a subscription never subscribed has none.
func (t *Transport) DeadLetterQueue(ctx context.Context, subscription string) (bus.DeadLetterQueueInfo, error) {
	q, err := t.dlq(ctx, subscription)
	if err != nil {
		return bus.DeadLetterQueueInfo{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return bus.DeadLetterQueueInfo{Name: subscription + ".dlq", Messages: len(q.dead)}, nil
}

// selectDead returns the dead letters of q that match (all for nil), up to limit
// (<= 0: no limit), and how many others there are. match runs without the lock.
func (q *queue) selectDead(match func(bus.Message) bool, limit int) (picked []deadLetter, kept int) {
	q.mu.Lock()
	all := slices.Clone(q.dead)
	q.mu.Unlock()
	for _, dl := range all {
		if (limit <= 0 || len(picked) < limit) && (match == nil || match(dl.msg)) {
			picked = append(picked, dl)
		} else {
			kept++
		}
	}
	return picked, kept
}

// takeDeadLocked removes the dead letter seq and reports whether it was there
// (another replay or purge may have taken it). Called with q.mu held.
func (q *queue) takeDeadLocked(seq uint64) bool {
	i := slices.IndexFunc(q.dead, func(dl deadLetter) bool { return dl.seq == seq })
	if i < 0 {
		return false
	}
	q.dead = slices.Delete(q.dead, i, i+1)
	return true
}

// ReplayDeadLetters moves the selected dead letters, as [bus.ReplayMessage]
// makes them, to the back of the subscription's queue. A message another replay
// or purge took meanwhile is skipped.
func (t *Transport) ReplayDeadLetters(ctx context.Context, subscription string, opts bus.ReplayOptions) (bus.ReplayResult, error) {
	q, err := t.dlq(ctx, subscription)
	if err != nil {
		return bus.ReplayResult{}, err
	}
	picked, kept := q.selectDead(opts.Match, opts.Limit)
	res := bus.ReplayResult{Kept: kept, Replayed: make([]bus.Message, 0, len(picked))}
	if opts.DryRun {
		for _, dl := range picked {
			res.Replayed = append(res.Replayed, dl.msg)
		}
		return res, nil
	}
	for _, dl := range picked {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if t.closed.Load() {
			return res, bus.ErrClosed
		}
		q.mu.Lock()
		ok := q.takeDeadLocked(dl.seq)
		if ok {
			q.ready.pushBack(entry{msg: bus.ReplayMessage(dl.msg, time.Now())})
			q.dispatchLocked()
		}
		q.mu.Unlock()
		if ok {
			res.Replayed = append(res.Replayed, dl.msg)
			if opts.Progress != nil {
				opts.Progress(len(res.Replayed), len(picked))
			}
		}
	}
	return res, nil
}

// PurgeDeadLetters removes the dead letters that match (all for nil).
func (t *Transport) PurgeDeadLetters(ctx context.Context, subscription string, match func(bus.Message) bool) (int, error) {
	q, err := t.dlq(ctx, subscription)
	if err != nil {
		return 0, err
	}
	picked, _ := q.selectDead(match, 0)
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, dl := range picked {
		if q.takeDeadLocked(dl.seq) {
			n++
		}
	}
	return n, nil
}

// ImportDeadLetters appends msgs to the subscription's dead-letter queue.
func (t *Transport) ImportDeadLetters(ctx context.Context, subscription string, msgs []bus.Message) error {
	q, err := t.dlq(ctx, subscription)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		q.addDeadLocked(m)
	}
	return nil
}
