package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/outbox"
	"github.com/rampart-go/rampart/resilience"
)

// Relays on one PostgreSQL database, through pgx and database/sql, never publish
// one message at the same time, never twice, keep each order's events in order,
// and together publish every message, added while they run.
func TestRelaysShareWithoutConcurrentPublish(t *testing.T) {
	e := newEnv(t, pgPgx)
	sqlEnv := *e
	sqlEnv.pool = nil // the same outbox through database/sql
	rec := newRecorder()
	rec.delay = 300 * time.Microsecond
	opts := outbox.RelayOptions{PollInterval: 50 * time.Millisecond, BatchSize: 20}
	pubs := []*counting{{next: rec}, {next: rec}, {next: rec}}
	relays := []*outbox.Relay{e.relay(pubs[0], opts), e.relay(pubs[1], opts), sqlEnv.relay(pubs[2], opts)}

	const writers, ordersPerWriter, eventsPerOrder = 4, 5, 30
	want := map[string]int{}
	var wg sync.WaitGroup
	for w := range writers {
		orders := make([]string, ordersPerWriter)
		for i := range orders {
			orders[i] = fmt.Sprintf("o-%d-%d", w, i)
			want[orders[i]] = eventsPerOrder
		}
		// Each order belongs to one writer, which adds its events in order, one to
		// three per transaction, as a service that locks the order's row would.
		wg.Go(func() {
			next := make([]int, len(orders))
			for step := 0; ; step++ {
				i := step % len(orders)
				if next[i] == eventsPerOrder {
					if step > len(orders)*eventsPerOrder*2 {
						return
					}
					continue
				}
				n := min(1+step%3, eventsPerOrder-next[i])
				var msgs []bus.Message
				for range n {
					msgs = append(msgs, event(t, e.bus, orders[i], next[i]))
					next[i]++
				}
				if err := e.tx(true, func(add func(...bus.Message) error) error { return add(msgs...) }); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := writers * ordersPerWriter * eventsPerOrder
	rec.waitFor(t, total, 30*time.Second)
	for _, r := range relays {
		r.Close()
	}
	published, count, concurrent := rec.snapshot()
	if len(concurrent) > 0 {
		t.Errorf("%d messages were published by two relays at once: %v", len(concurrent), concurrent[:min(5, len(concurrent))])
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("message %s published %d times, want 1", id, n)
		}
	}
	checkOrder(t, published, want)
	if n := e.count("sent_at IS NULL"); n != 0 {
		t.Errorf("%d rows left unsent", n)
	}
	busy := 0
	for _, p := range pubs {
		if p.n.Load() > 0 {
			busy++
		}
	}
	if busy < 2 {
		t.Errorf("messages published per relay: %d, %d, %d; want the work shared", pubs[0].n.Load(), pubs[1].n.Load(), pubs[2].n.Load())
	}
}

// counting counts what one relay publishes through a shared publisher.
type counting struct {
	next outbox.Publisher
	n    atomic.Int64
}

func (c *counting) Publish(ctx context.Context, msgs ...bus.Message) error {
	err := c.next.Publish(ctx, msgs...)
	if err == nil {
		c.n.Add(int64(len(msgs)))
	}
	return err
}

// While the broker is down nothing is lost: publishing resumes, in order, when it
// comes back; the failures are recorded in the rows.
func TestBrokerDownDelaysButLosesNothing(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.setDown(true)
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
			want := map[string]int{}
			for n := range 10 {
				var msgs []bus.Message
				for o := range 5 {
					order := fmt.Sprintf("o-%d", o)
					msgs = append(msgs, event(t, e.bus, order, n))
					want[order]++
				}
				e.commit(msgs...)
			}
			eventually(t, 5*time.Second, func() bool { return e.count("last_error IS NOT NULL") > 0 },
				func() string { return "no row records the failure" })
			time.Sleep(150 * time.Millisecond)
			if n := rec.distinct(); n != 0 {
				t.Fatalf("%d messages published while the broker was down", n)
			}
			rec.setDown(false)
			rec.waitFor(t, 50, 10*time.Second)
			published, count, _ := rec.snapshot()
			checkOrder(t, published, want)
			for id, n := range count {
				if n != 1 {
					t.Errorf("message %s published %d times, want 1", id, n)
				}
			}
			eventually(t, 5*time.Second, func() bool { return e.count("sent_at IS NULL") == 0 },
				func() string { return fmt.Sprintf("%d rows not marked sent", e.count("sent_at IS NULL")) })
		})
	}
}

// A broker that fails a few calls, then works: everything is published once.
func TestBrokerFailsNTimes(t *testing.T) {
	for _, be := range []backend{sqlite, pgPgx} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.failNext = 7
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
			want := map[string]int{"o-1": 20}
			for n := range 20 {
				e.commit(event(t, e.bus, "o-1", n))
			}
			rec.waitFor(t, 20, 10*time.Second)
			published, _, _ := rec.snapshot()
			checkOrder(t, published, want)
		})
	}
}

// A message the broker rejects holds back its own key only.
func TestRejectedMessageHoldsBackOnlyItsKey(t *testing.T) {
	for _, be := range []backend{sqlite, pgSQL} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			poison := event(t, e.bus, "stuck", 0)
			rec.reject[poison.ID] = true
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
			e.commit(poison, event(t, e.bus, "stuck", 1), event(t, e.bus, "free", 0))
			for n := 1; n < 10; n++ {
				e.commit(event(t, e.bus, "free", n))
			}
			rec.waitFor(t, 10, 5*time.Second)
			time.Sleep(100 * time.Millisecond)
			_, count, _ := rec.snapshot()
			if len(count) != 10 {
				t.Errorf("published %d messages, want the 10 of the free key only", len(count))
			}
			rec.mu.Lock()
			delete(rec.reject, poison.ID)
			rec.mu.Unlock()
			rec.waitFor(t, 12, 5*time.Second)
			published, _, _ := rec.snapshot()
			checkOrder(t, published, map[string]int{"stuck": 2, "free": 10})
		})
	}
}

// A publisher may publish the messages of one call in any order (RabbitMQ
// publishes them in parallel): the relay never gives it two rows of one key at
// once, so the order of each key holds.
func TestOrderHoldsWithAParallelPublisher(t *testing.T) {
	for _, be := range []backend{sqlite, pgPgx} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.reverse = true
			want := map[string]int{"o-1": 30, "o-2": 5}
			var msgs []bus.Message
			for n := range 30 {
				msgs = append(msgs, event(t, e.bus, "o-1", n))
				if n < 5 {
					msgs = append(msgs, event(t, e.bus, "o-2", n))
				}
			}
			noKey, err := e.bus.Encode(ctx, OrderCancelled{Order: "none"}) // no key
			if err != nil {
				t.Fatal(err)
			}
			e.commit(append(msgs, noKey)...) // one batch
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
			rec.waitFor(t, 36, 5*time.Second)
			published, count, _ := rec.snapshot()
			for id, n := range count {
				if n != 1 {
					t.Errorf("message %s published %d times, want 1", id, n)
				}
			}
			checkOrder(t, published, want)
		})
	}
}

// A failing row never starves the other keys of its batch, even when its own
// backoff ends before the relay claims again (here both waits are at most 1ms):
// after the failure, the rows of other keys in the batch are still published.
func TestFailingRowDoesNotStarveOtherKeys(t *testing.T) {
	for _, be := range []backend{sqlite, pgPgx} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			poison := event(t, e.bus, "stuck", 0)
			rec.reject[poison.ID] = true
			msgs := []bus.Message{poison, event(t, e.bus, "stuck", 1)}
			for n := range 5 {
				msgs = append(msgs, event(t, e.bus, "free", n))
			}
			e.commit(msgs...) // the poison is first in every batch it is in
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond,
				Backoff: resilience.Backoff{Base: time.Millisecond, Max: time.Millisecond}})
			rec.waitFor(t, 5, 5*time.Second)
			published, count, _ := rec.snapshot()
			checkOrder(t, published, map[string]int{"free": 5})
			if len(count) != 5 {
				t.Errorf("published %d messages, want the 5 of the free key (the stuck key waits)", len(count))
			}
		})
	}
}

// Sent rows are deleted after the retention; unsent ones stay.
func TestRetentionDeletesSentRows(t *testing.T) {
	for _, be := range []backend{sqlite, pgPgx} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			stuck := event(t, e.bus, "stuck", 0)
			rec.reject[stuck.ID] = true
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, Retention: 100 * time.Millisecond, CleanupInterval: 20 * time.Millisecond})
			var msgs []bus.Message
			for n := range 30 {
				msgs = append(msgs, event(t, e.bus, "o-1", n))
			}
			e.commit(append(msgs, stuck)...)
			rec.waitFor(t, 30, 5*time.Second)
			if n := e.count(""); n == 0 {
				t.Fatal("sent rows deleted at once, before the retention")
			}
			eventually(t, 5*time.Second, func() bool { return e.count("") == 1 },
				func() string { return fmt.Sprintf("%d rows left, want the unsent one only", e.count("")) })
			if n := e.count("sent_at IS NULL"); n != 1 {
				t.Errorf("unsent rows = %d, want 1", n)
			}
		})
	}
}

// One relay per SQLite file: a second fails to start, naming the holder; a
// standby takes over when the holder stops.
func TestSQLiteSingleRelay(t *testing.T) {
	e := newEnv(t, sqlite)
	rec1, rec2 := newRecorder(), newRecorder()
	first := e.relay(rec1, outbox.RelayOptions{ID: "first", PollInterval: 20 * time.Millisecond})

	second := e.newRelay(newRecorder(), outbox.RelayOptions{ID: "second"})
	err := second.Start(ctx)
	var le *outbox.LockedError
	if !errors.Is(err, outbox.ErrLocked) || !errors.As(err, &le) || le.Owner != "first" {
		t.Fatalf("second relay's Start = %v, want a LockedError naming the first relay", err)
	}
	if time.Until(le.Until) <= 0 {
		t.Errorf("LockedError.Until = %v, want in the future", le.Until)
	}

	standby := e.relay(rec2, outbox.RelayOptions{ID: "standby", Standby: true, PollInterval: 20 * time.Millisecond})
	for n := range 5 {
		e.commit(event(t, e.bus, "o-1", n))
	}
	rec1.waitFor(t, 5, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := rec2.distinct(); n != 0 {
		t.Fatalf("the standby published %d messages while the first relay held the lock", n)
	}
	start := time.Now()
	first.Close()
	for n := 5; n < 10; n++ {
		e.commit(event(t, e.bus, "o-1", n))
	}
	standby.Notify()
	rec2.waitFor(t, 5, 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("standby took over after %v, want at once (the lock is released on Close)", d)
	}
	if n := rec1.distinct(); n != 5 {
		t.Errorf("first relay published %d messages, want 5", n)
	}
}

// idleSignal makes r signal on the channel returned each time it has found
// nothing to publish and waits. Call it before Start.
func idleSignal(r *outbox.Relay) <-chan struct{} {
	ch := make(chan struct{}, 1)
	outbox.SetIdleHook(r, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	return ch
}

func waitIdle(t *testing.T, idle <-chan struct{}) {
	t.Helper()
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not finish looking at the table within 5s")
	}
}

// From commit to publish takes neither a poll nor a call: PostgreSQL's NOTIFY,
// or on SQLite the wake-up of Add, gets the relay to look. The relay polls once
// an hour, and each event is committed only once the relay has looked and found
// nothing, so that nothing but the wake-up can publish it in time.
func TestWakeUpWithoutPolling(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			r := e.newRelay(rec, outbox.RelayOptions{PollInterval: time.Hour})
			idle := idleSignal(r)
			if err := r.Start(ctx); err != nil {
				t.Fatal(err)
			}
			for n := range 3 {
				waitIdle(t, idle) // the look before (the first, or the one after event n-1)
				e.commit(event(t, e.bus, "o-1", n))
				rec.waitFor(t, n+1, 5*time.Second)
			}
		})
	}
}

// On SQLite the relay that Add wakes waits for the adding transaction to end
// instead of looking before the commit, finding nothing and waiting for its poll.
func TestSQLiteWakeUpWaitsForTheCommit(t *testing.T) {
	e := newEnv(t, sqlite)
	rec := newRecorder()
	r := e.newRelay(rec, outbox.RelayOptions{PollInterval: time.Hour})
	idle := idleSignal(r)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, idle)
	err := e.tx(true, func(add func(...bus.Message) error) error {
		if err := add(event(t, e.bus, "o-1", 0)); err != nil {
			return err
		}
		// The relay is awake. Had it looked without waiting for this
		// transaction, it would have found nothing and gone idle by now.
		select {
		case <-idle:
			return errors.New("the relay looked before the commit and went idle")
		case <-time.After(200 * time.Millisecond):
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 1, 5*time.Second)
}

// End to end: the relay publishes through the memory transport to a bus whose
// handler sees the event with its ID.
func TestRelayToBusHandler(t *testing.T) {
	for _, be := range []backend{sqlite, pgPgx} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			tr := memory.New()
			defer tr.Close()
			b, err := bus.New(tr, bus.Options{Registry: e.bus.Registry()})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan bus.Meta, 10)
			if err := bus.Handle(b, "billing", func(ctx context.Context, ev OrderPlaced, m bus.Meta) error {
				got <- m
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := b.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			r := e.relay(tr, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
			msg := event(t, e.bus, "o-9", 0)
			e.commit(msg)
			r.Notify()
			select {
			case m := <-got:
				if m.ID != msg.ID || m.Type != orderPlaced || m.PartitionKey != "o-9" || m.Source != "/shop" {
					t.Errorf("handler saw %+v, want event %s of type %s keyed o-9 from /shop", m.Envelope, msg.ID, orderPlaced)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("handler not called within 5s")
			}
			r.Close()
		})
	}
}

// Close stops every goroutine of the relay (its loop, LISTEN connection or lock
// keeper), and releases what it holds, so that closing the database after it
// leaves nothing running.
func TestCloseLeavesNothingRunning(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Run("run", func(t *testing.T) {
				e := newEnv(t, be)
				rec := newRecorder()
				r := e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
				e.commit(event(t, e.bus, "o-1", 0))
				rec.waitFor(t, 1, 5*time.Second)
				r.Close()
				r.Close() // idempotent
			}) // the env's pools and handles are closed here
			goleak.VerifyNone(t)
		})
	}
}
