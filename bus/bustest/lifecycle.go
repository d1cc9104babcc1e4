package bustest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// shutdownWorld is the state of a shutdown test: which instance handled what.
type shutdownWorld struct {
	e         *env
	sub       string
	inbox     *inbox
	release   map[int]chan struct{} // in-flight handlers of A, by message
	doneA     map[int]int           // messages A's handler finished successfully
	doneB     map[int]int
	canceled  int  // A's handlers that returned because their ctx was cancelled
	finishAll bool // A's handlers return at once
}

func newShutdownWorld(e *env) *shutdownWorld {
	return &shutdownWorld{e: e, sub: e.sub("shutdown"), inbox: newInbox(),
		release: map[int]chan struct{}{}, doneA: map[int]int{}, doneB: map[int]int{}}
}

// busA returns an instance whose handler holds each message until released or
// cancelled.
func (w *shutdownWorld) busA(t *testing.T) *bus.Bus {
	e := w.e
	b := e.newBus(bus.Options{Inbox: w.inbox}, map[string]bus.SubscriptionOptions{"shutdown": {Workers: 4, Prefetch: 8}})
	must(t, bus.Handle(b, w.sub, func(ctx context.Context, o Order, m bus.Meta) error {
		ch := make(chan struct{})
		e.p.update(func() {
			if w.finishAll {
				close(ch)
			}
			w.release[o.N] = ch
		})
		select {
		case <-ch:
			e.p.update(func() { w.doneA[o.N]++ })
			return nil
		case <-ctx.Done():
			e.p.update(func() { w.canceled++ })
			return ctx.Err()
		}
	}))
	e.start(b)
	return b
}

// finishWithB starts a second instance and checks that every message is handled
// exactly once by A or B in the end, and that A acked only what it handled.
func (w *shutdownWorld) finishWithB(t *testing.T, n int) {
	e := w.e
	b := e.newBus(bus.Options{Inbox: w.inbox}, map[string]bus.SubscriptionOptions{"shutdown": {Workers: 4}})
	must(t, bus.Handle(b, w.sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { w.doneB[o.N]++ })
		return nil
	}))
	e.start(b)
	e.p.await(fmt.Sprintf("all %d messages handled by A or B", n), func() bool {
		for i := range n {
			if w.doneA[i]+w.doneB[i] == 0 {
				return false
			}
		}
		return true
	})
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	for i := range n {
		if c := w.doneA[i] + w.doneB[i]; c != 1 {
			t.Errorf("message %d handled %d times (A %d, B %d), want once", i, c, w.doneA[i], w.doneB[i])
		}
	}
}

// checkA checks A's settlements (B has not started): it acked what it handled,
// and settled nothing as a failure.
func (w *shutdownWorld) checkA(t *testing.T) {
	e := w.e
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	acks := e.p.countLocked(w.sub, bus.ActionAck)
	if acks != len(w.doneA) {
		t.Errorf("A acked %d messages and handled %d, want them equal: nothing acked that was not handled", acks, len(w.doneA))
	}
	for _, a := range []bus.Action{bus.ActionRedeliver, bus.ActionDeadLetter, bus.ActionSkip} {
		if n := e.p.countLocked(w.sub, a); n != 0 {
			t.Errorf("A settled %d messages with %s during shutdown, want 0", n, a)
		}
	}
}

func testShutdownGraceful(t *testing.T, e *env) {
	const n = 40
	w := newShutdownWorld(e)
	a := w.busA(t)
	for i := range n {
		e.publish(a, context.Background(), Order{N: i})
	}
	e.p.await("4 messages in flight in A", func() bool { return len(w.release) == 4 })

	ctx, cancel := context.WithTimeout(context.Background(), e.f.Timeout)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- a.Shutdown(ctx) }()
	// Let every handler of A finish, including any that starts before the shutdown
	// stops fetching.
	e.p.update(func() {
		w.finishAll = true
		for _, ch := range w.release {
			close(ch)
		}
	})
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Shutdown = %v, want nil (every handler finished)", err)
		}
	case <-time.After(e.f.Timeout):
		t.Fatalf("Shutdown did not return within %s after every handler was released", e.f.Timeout)
	}
	w.checkA(t)
	e.p.mu.Lock()
	if w.canceled != 0 {
		t.Errorf("%d handlers of A cancelled by a graceful shutdown, want 0", w.canceled)
	}
	e.p.mu.Unlock()
	w.finishWithB(t, n)
}

func testShutdownDeadline(t *testing.T, e *env) {
	const n = 40
	w := newShutdownWorld(e)
	a := w.busA(t)
	for i := range n {
		e.publish(a, context.Background(), Order{N: i})
	}
	e.p.await("4 messages in flight in A", func() bool { return len(w.release) == 4 })

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- a.Shutdown(ctx) }()
	// Two handlers finish within the deadline; the others are still running at it.
	e.p.mu.Lock()
	var finished int
	for _, ch := range w.release {
		if finished == 2 {
			break
		}
		close(ch)
		finished++
	}
	e.p.mu.Unlock()
	e.p.await("2 handlers of A to finish and be acked", func() bool {
		return len(w.doneA) == 2 && e.p.countLocked(w.sub, bus.ActionAck) == 2
	})
	cancel() // the deadline
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Shutdown = %v, want context.Canceled (handlers were still running)", err)
		}
	case <-time.After(e.f.Timeout):
		t.Fatalf("Shutdown did not return within %s of its deadline", e.f.Timeout)
	}
	e.p.await("A's unfinished handlers to be cancelled and their messages handed back", func() bool {
		return w.canceled == len(w.release)-len(w.doneA) && e.p.countLocked(w.sub, bus.ActionRequeue) >= w.canceled
	})
	w.checkA(t)
	w.finishWithB(t, n)
}

func testReconnect(t *testing.T, e *env) {
	if e.f.CutConnection == nil {
		t.Skip("bustest: no Features.CutConnection for this transport")
	}
	const n = 100
	sub := e.sub("reconnect")
	handled := map[int]int{}
	b := e.newBus(bus.Options{Inbox: newInbox()}, only("reconnect"))
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { handled[o.N]++ })
		return nil
	}))
	e.start(b)
	ids := make([]string, n)
	for i := range ids {
		id, err := bus.NewID()
		must(t, err)
		ids[i] = id
	}
	// A publish that fails may still have reached the broker: publish it again
	// with the same ID, and let the inbox absorb the duplicate.
	publish := func(i int) {
		deadline := time.Now().Add(e.f.Timeout)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), e.f.Timeout)
			err := b.Publish(ctx, Order{N: i}, bus.WithID(ids[i]))
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("publishing message %d: still failing after %s: %v", i, e.f.Timeout, err)
			}
			time.Sleep(10 * time.Millisecond) // waiting for the reconnect: polling with a deadline
		}
	}
	for i := range n / 2 {
		publish(i)
	}
	e.f.CutConnection(t, e.tr)
	for i := n / 2; i < n; i++ {
		publish(i)
	}
	e.p.await(fmt.Sprintf("all %d messages handled after the cut", n), func() bool { return len(handled) == n })
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	for i, c := range handled {
		if c != 1 {
			t.Errorf("message %d handled %d times, want 1", i, c)
		}
	}
}

func testClose(t *testing.T, e *env) {
	sub := e.sub("close")
	b := e.newBus(bus.Options{}, only("close"))
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error { return nil }))
	e.start(b)
	e.publish(b, context.Background(), Order{N: 1})
	e.p.awaitSettled(sub, bus.ActionAck, 1)
	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Errorf("Bus.Close #%d = %v, want nil", i+1, err)
		}
	}
	if err := b.Publish(context.Background(), Order{N: 2}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Bus.Publish after Close = %v, want bus.ErrClosed", err)
	}
	if err := b.Start(context.Background()); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Bus.Start after Close = %v, want bus.ErrClosed", err)
	}
	for i := range 2 {
		if err := e.tr.Close(); err != nil {
			t.Errorf("Transport.Close #%d = %v, want nil", i+1, err)
		}
	}
	m := e.raw(e.orderType, []byte(`{"n":3}`), nil)
	if err := e.tr.Publish(context.Background(), m); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Transport.Publish after Close = %v, want bus.ErrClosed", err)
	}
}
