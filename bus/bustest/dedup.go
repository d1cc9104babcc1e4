package bustest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rampart-go/rampart/bus"
)

func testDuplicateSequential(t *testing.T, e *env) {
	sub := e.sub("dedup")
	calls := 0
	b := e.newBus(bus.Options{Inbox: newInbox()}, only("dedup"))
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { calls++ })
		return nil
	}))
	e.start(b)
	id, err := bus.NewID()
	must(t, err)
	e.publish(b, context.Background(), Order{N: 1}, bus.WithID(id))
	e.republish(b, Order{N: 1}, id) // the producer retried
	e.p.awaitSettled(sub, bus.ActionSkip, 1)
	e.p.awaitSettled(sub, bus.ActionAck, 1)
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	if calls != 1 {
		t.Errorf("handler called %d times for two publishes of one event ID, want 1", calls)
	}
}

func testDuplicateConcurrent(t *testing.T, e *env) {
	sub := e.sub("dedup-concurrent")
	calls := 0
	b := e.newBus(bus.Options{Inbox: newInbox()}, map[string]bus.SubscriptionOptions{"dedup-concurrent": {Workers: 2, Prefetch: 2}})
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { calls++ })
		// Hold the event until the duplicate was seen in progress and sent back.
		if !e.p.waitFor(func() bool { return e.p.countLocked(sub, bus.ActionRedeliver) > 0 }) {
			t.Errorf("the duplicate was not redelivered while the first copy was being handled")
		}
		return nil
	}))
	e.start(b)
	id, err := bus.NewID()
	must(t, err)
	e.publish(b, context.Background(), Order{N: 1}, bus.WithID(id))
	e.republish(b, Order{N: 1}, id)
	e.p.awaitSettled(sub, bus.ActionAck, 1)
	e.p.awaitSettled(sub, bus.ActionSkip, 1)
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	if calls != 1 {
		t.Errorf("handler called %d times for two concurrent deliveries of one event, want 1", calls)
	}
}

func testFailedAttemptLeavesNoMark(t *testing.T, e *env) {
	sub := e.sub("no-mark")
	var attempts []int
	b := e.newBus(bus.Options{Inbox: newInbox()}, only("no-mark"))
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { attempts = append(attempts, m.Attempt) })
		if m.Attempt == 1 {
			return errors.New("transient")
		}
		return nil
	}))
	e.start(b)
	e.publish(b, context.Background(), Order{N: 1})
	e.p.awaitSettled(sub, bus.ActionAck, 1)
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	if fmt.Sprint(attempts) != "[1 2]" {
		t.Errorf("attempts = %v, want [1 2]: a failed attempt must leave no mark in the inbox", attempts)
	}
	if n := e.p.countLocked(sub, bus.ActionSkip); n != 0 {
		t.Errorf("%d deliveries skipped as duplicates, want 0", n)
	}
}
