package outbox_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/internal/sqldb"
	"github.com/rampart-go/rampart/internal/testenv"
	"github.com/rampart-go/rampart/outbox"
	"github.com/rampart-go/rampart/resilience"
)

// schemaVersions is the number of the outbox's migrations (schema/<dialect>/).
const schemaVersions = 2

// cancelledEvent returns the message of OrderCancelled{order}, ordered by order.
func cancelledEvent(t testing.TB, b *bus.Bus, order string) bus.Message {
	t.Helper()
	m, err := b.Encode(ctx, OrderCancelled{Order: order}, bus.WithPartitionKey(order))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rowState is what the outbox holds of one event.
type rowState struct {
	parked, sent bool
	reason       string
	lastError    string
	attempts     int
}

// row reads the state of the row of event id.
func (e *env) row(id string) rowState {
	e.t.Helper()
	var (
		st             rowState
		reason, lastEr sql.NullString
	)
	q := "SELECT parked_at IS NOT NULL, sent_at IS NOT NULL, parked_reason, last_error, attempts FROM " + e.prefix + "outbox WHERE event_id = $1"
	if err := e.db.QueryRowContext(ctx, q, id).Scan(&st.parked, &st.sent, &reason, &lastEr, &st.attempts); err != nil {
		e.t.Fatalf("reading the row of %s: %v", id, err)
	}
	st.reason, st.lastError = reason.String, lastEr.String
	return st
}

// replay runs ReplayParked through the env's backend.
func (e *env) replay(f outbox.ParkedFilter) int {
	e.t.Helper()
	var (
		n   int
		err error
	)
	if e.pool != nil {
		n, err = outbox.ReplayParkedPgx(ctx, e.pool, outbox.Options{TablePrefix: e.prefix}, f)
	} else {
		n, err = outbox.ReplayParked(ctx, e.db, outbox.Options{TablePrefix: e.prefix}, f)
	}
	if err != nil {
		e.t.Fatalf("ReplayParked(%+v): %v", f, err)
	}
	return n
}

// parkLog collects what OnPark reports.
type parkLog struct {
	mu    sync.Mutex
	got   []outbox.Parked
	first time.Time // when OnPark was first called
}

func (l *parkLog) add(p outbox.Parked) {
	l.mu.Lock()
	if len(l.got) == 0 {
		l.first = time.Now()
	}
	l.got = append(l.got, p)
	l.mu.Unlock()
}

// firstAt returns when OnPark was first called.
func (l *parkLog) firstAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// wait waits until OnPark was called n times: the relay calls it at the end of
// the cycle, after the rows are recorded parked.
func (l *parkLog) wait(t testing.TB, n int) []outbox.Parked {
	t.Helper()
	eventually(t, 5*time.Second, func() bool { return len(l.all()) >= n },
		func() string { return fmt.Sprintf("OnPark called %d times, want %d", len(l.all()), n) })
	return l.all()
}

func (l *parkLog) all() []outbox.Parked {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]outbox.Parked(nil), l.got...)
}

// waitBacklog waits until the backlog is want.
func (e *env) waitBacklog(want outbox.Backlog) {
	e.t.Helper()
	var b outbox.Backlog
	eventually(e.t, 10*time.Second, func() bool {
		b = e.backlog()
		return b == want
	}, func() string { return fmt.Sprintf("backlog %+v, want %+v", b, want) })
}

// With a negative UnroutableGrace, an event that no subscription is bound to is
// parked at its first failure with
// its reason: not lost, not retried, holding back nothing behind it, visible in
// the backlog, reported to OnPark; ReplayParked puts it back, and it is published
// once someone subscribes.
func TestUnroutableEventIsParked(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.setUnbound(orderCancelled, true)
			var parks parkLog
			r := e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, OnPark: parks.add, UnroutableGrace: -1})

			cancelled := cancelledEvent(t, e.bus, "o-1")
			e.commit(event(t, e.bus, "o-1", 0), cancelled, event(t, e.bus, "o-1", 1), event(t, e.bus, "o-2", 0))
			rec.waitFor(t, 3, 5*time.Second)
			e.waitBacklog(outbox.Backlog{Parked: 1})

			st := e.row(cancelled.ID)
			if !st.parked || st.sent || st.reason != string(outbox.ParkUnroutable) || st.attempts != 1 ||
				!strings.Contains(st.lastError, bus.ErrUnroutable.Error()) {
				t.Errorf("row of the unroutable event: %+v; want parked, unsent, reason %q, 1 attempt, last error %q",
					st, outbox.ParkUnroutable, bus.ErrUnroutable)
			}
			ps := parks.wait(t, 1)
			if len(ps) != 1 {
				t.Fatalf("OnPark called %d times (%+v), want once", len(ps), ps)
			}
			if p := ps[0]; p.ID != cancelled.ID || p.Type != orderCancelled || p.Key != "o-1" ||
				p.Reason != outbox.ParkUnroutable || p.Attempts != 1 || !errors.Is(p.Err, bus.ErrUnroutable) {
				t.Errorf("OnPark(%+v), want event %s of type %s keyed o-1, unroutable, 1 attempt, an ErrUnroutable", p, cancelled.ID, orderCancelled)
			}

			// The relay goes on with later rows, of the same key too, and does not
			// try the parked row again.
			tried := rec.triedWith(cancelled.ID)
			e.commit(event(t, e.bus, "o-1", 2))
			rec.waitFor(t, 4, 5*time.Second)
			if n := rec.triedWith(cancelled.ID); n != tried {
				t.Errorf("the parked event was tried %d more times, want none", n-tried)
			}
			published, count, _ := rec.snapshot()
			checkOrder(t, published, map[string]int{"o-1": 3, "o-2": 1})
			if count[cancelled.ID] != 0 {
				t.Errorf("the unroutable event counts %d publications, want 0", count[cancelled.ID])
			}

			// Someone subscribes; the operator replays.
			rec.setUnbound(orderCancelled, false)
			if n := e.replay(outbox.ParkedFilter{Type: orderCancelled}); n != 1 {
				t.Fatalf("ReplayParked(type %s) = %d, want 1", orderCancelled, n)
			}
			r.Notify()
			rec.waitFor(t, 5, 5*time.Second)
			e.waitBacklog(outbox.Backlog{})
			if _, count, _ := rec.snapshot(); count[cancelled.ID] != 1 {
				t.Errorf("the replayed event was published %d times, want 1", count[cancelled.ID])
			}
			if n := e.replay(outbox.ParkedFilter{}); n != 0 {
				t.Errorf("ReplayParked with nothing parked = %d, want 0", n)
			}
		})
	}
}

// Within its UnroutableGrace (the default, a minute, here), an unroutable event
// is retried like any failed one, holding back the later rows of its key but not
// the other keys; once a subscription is bound (a consumer that started after
// the producer), it is published, in its key's order, and never parked.
func TestUnroutableEventWithinGraceIsRetried(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.setUnbound(orderCancelled, true)
			var parks parkLog
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, OnPark: parks.add})

			placed0, cancelled, placed1 := event(t, e.bus, "o-1", 0), cancelledEvent(t, e.bus, "o-1"), event(t, e.bus, "o-1", 1)
			e.commit(placed0, cancelled, placed1, event(t, e.bus, "o-2", 0))
			// The unroutable event failed and waits, not parked; the other key went on.
			var st rowState
			eventually(t, 5*time.Second, func() bool {
				st = e.row(cancelled.ID)
				return st.attempts >= 1 && strings.Contains(st.lastError, bus.ErrUnroutable.Error())
			}, func() string { return fmt.Sprintf("row of the unroutable event: %+v; want a failed attempt", st) })
			rec.waitFor(t, 2, 5*time.Second)
			if st.parked || st.sent {
				t.Fatalf("row of the unroutable event within its grace: %+v; want neither parked nor sent", st)
			}

			// The consumer declares its queue.
			rec.setUnbound(orderCancelled, false)
			rec.waitFor(t, 4, 5*time.Second)
			e.waitBacklog(outbox.Backlog{})
			if n := rec.triedWith(cancelled.ID); n < 2 {
				t.Errorf("the unroutable event was tried %d times, want at least 2", n)
			}
			published, count, _ := rec.snapshot()
			checkOrder(t, published, map[string]int{"o-1": 2, "o-2": 1})
			var o1 []string // the first publication of each event of o-1
			for _, m := range published {
				if m.Key == "o-1" && !slices.Contains(o1, m.ID) {
					o1 = append(o1, m.ID)
				}
			}
			if want := []string{placed0.ID, cancelled.ID, placed1.ID}; !slices.Equal(o1, want) {
				t.Errorf("events of o-1 published in the order %v, want %v", o1, want)
			}
			if count[cancelled.ID] != 1 {
				t.Errorf("the event was published %d times, want 1", count[cancelled.ID])
			}
			if st := e.row(cancelled.ID); st.parked || !st.sent || st.reason != "" {
				t.Errorf("row of the event: %+v; want sent, never parked", st)
			}
			if ps := parks.all(); len(ps) != 0 {
				t.Errorf("OnPark calls %+v, want none", ps)
			}
		})
	}
}

// A batch of an event reported unroutable within its grace and the rows of its
// key it holds back publishes nothing, yet the broker answered: the relay does
// not pause as for a broker that is down (for its Backoff, five seconds here),
// and a row of another key added meanwhile goes out at the next poll.
func TestUnroutableWithinGraceDoesNotPauseTheRelay(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.setUnbound(orderCancelled, true)
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, UnroutableGrace: time.Minute,
				Backoff: resilience.Backoff{Kind: resilience.BackoffConstant, Base: 5 * time.Second, Max: 5 * time.Second}})

			cancelled := cancelledEvent(t, e.bus, "o-1")
			e.commit(cancelled, event(t, e.bus, "o-1", 1)) // one batch: the head and the row it holds back
			eventually(t, 5*time.Second, func() bool { return rec.triedWith(cancelled.ID) >= 1 },
				func() string { return "the unroutable event was not tried" })
			e.commit(event(t, e.bus, "o-2", 0))
			rec.waitFor(t, 1, 2*time.Second)
		})
	}
}

// An event still unroutable once its UnroutableGrace is over is parked, reason
// unroutable, after being retried within the grace; the rows of its key that it
// held back go on. Its backoff (five seconds here) does not carry its next
// attempt past the end of the grace: it is parked about when the grace ends.
func TestUnroutableEventAfterGraceIsParked(t *testing.T) {
	const grace = 300 * time.Millisecond
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.setUnbound(orderCancelled, true)
			var parks parkLog
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, UnroutableGrace: grace,
				Backoff: resilience.Backoff{Kind: resilience.BackoffConstant, Base: 5 * time.Second, Max: 5 * time.Second},
				OnPark:  parks.add})

			cancelled := cancelledEvent(t, e.bus, "o-1")
			added := time.Now()
			e.commit(event(t, e.bus, "o-1", 0), cancelled, event(t, e.bus, "o-1", 1), event(t, e.bus, "o-2", 0))
			ps := parks.wait(t, 1)
			e.waitBacklog(outbox.Backlog{Parked: 1})
			rec.waitFor(t, 3, 5*time.Second)

			if waited := parks.firstAt().Sub(added); waited < grace || waited > grace+2*time.Second {
				t.Errorf("the event was parked %v after it was added; want at least the grace, %v, and not the 5 s backoff later",
					waited, grace)
			}
			if len(ps) != 1 || ps[0].ID != cancelled.ID || ps[0].Reason != outbox.ParkUnroutable || ps[0].Attempts < 2 ||
				!errors.Is(ps[0].Err, bus.ErrUnroutable) {
				t.Errorf("OnPark calls %+v, want one for %s, unroutable, after at least 2 attempts, with an ErrUnroutable", ps, cancelled.ID)
			}
			st := e.row(cancelled.ID)
			if !st.parked || st.sent || st.reason != string(outbox.ParkUnroutable) || st.attempts < 2 ||
				!strings.Contains(st.lastError, bus.ErrUnroutable.Error()) {
				t.Errorf("row of the unroutable event: %+v; want parked as %q after at least 2 attempts, with its error", st, outbox.ParkUnroutable)
			}
			published, count, _ := rec.snapshot()
			checkOrder(t, published, map[string]int{"o-1": 2, "o-2": 1})
			if count[cancelled.ID] != 0 {
				t.Errorf("the unroutable event counts %d publications, want 0", count[cancelled.ID])
			}
		})
	}
}

// A row that fails MaxAttempts times is parked with reason max-attempts and its
// last error, and no longer holds back its key.
func TestMaxAttemptsParks(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			poison := event(t, e.bus, "o-1", 0)
			rec.reject[poison.ID] = true
			var parks parkLog
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, MaxAttempts: 3, OnPark: parks.add})
			e.commit(poison, event(t, e.bus, "o-1", 1), event(t, e.bus, "o-2", 0))

			e.waitBacklog(outbox.Backlog{Parked: 1})
			rec.waitFor(t, 2, 5*time.Second)
			st := e.row(poison.ID)
			if !st.parked || st.reason != string(outbox.ParkMaxAttempts) || st.attempts != 3 || st.lastError != errBrokerDown.Error() {
				t.Errorf("row of the failing event: %+v; want parked, reason %q, 3 attempts, last error %q",
					st, outbox.ParkMaxAttempts, errBrokerDown)
			}
			if n := rec.triedWith(poison.ID); n < 3 {
				t.Errorf("the failing event was tried %d times before it was parked, want at least 3", n)
			}
			if ps := parks.wait(t, 1); len(ps) != 1 || ps[0].Reason != outbox.ParkMaxAttempts || ps[0].Attempts != 3 || !errors.Is(ps[0].Err, errBrokerDown) {
				t.Errorf("OnPark calls %+v, want one for max-attempts after 3 attempts with the broker's error", ps)
			}
			tried := rec.triedWith(poison.ID)
			e.commit(event(t, e.bus, "o-1", 2))
			rec.waitFor(t, 3, 5*time.Second)
			if n := rec.triedWith(poison.ID); n != tried {
				t.Errorf("the parked event was tried %d more times, want none", n-tried)
			}
			e.waitBacklog(outbox.Backlog{Parked: 1})
		})
	}
}

// ReplayParked puts back what its filter selects: by reason, by ID, by type, all
// of them together; an empty, non-nil list of IDs selects none.
func TestReplayParkedSelects(t *testing.T) {
	for _, be := range []backend{sqlite, pgSQL, pgPgx} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.setUnbound(orderCancelled, true)
			c1, c2 := cancelledEvent(t, e.bus, "o-1"), cancelledEvent(t, e.bus, "o-2")
			p := event(t, e.bus, "o-3", 0)
			rec.reject[p.ID] = true
			r := e.newRelay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, MaxAttempts: 1, UnroutableGrace: -1})
			var idle atomic.Int64
			outbox.SetIdleHook(r, func() { idle.Add(1) })
			if err := r.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			e.commit(c1, c2, p)
			e.waitBacklog(outbox.Backlog{Parked: 3})

			rec.setUnbound(orderCancelled, false)
			rec.mu.Lock()
			delete(rec.reject, p.ID)
			rec.mu.Unlock()
			for _, step := range []struct {
				f    outbox.ParkedFilter
				want []string // IDs put back
			}{
				{outbox.ParkedFilter{Type: orderCancelled, Reason: outbox.ParkMaxAttempts}, nil},
				{outbox.ParkedFilter{IDs: []string{"no-such-event"}}, nil},
				{outbox.ParkedFilter{IDs: []string{}}, nil},
				{outbox.ParkedFilter{Reason: outbox.ParkMaxAttempts}, []string{p.ID}},
				{outbox.ParkedFilter{IDs: []string{c2.ID, p.ID}}, []string{c2.ID}},
				{outbox.ParkedFilter{}, []string{c1.ID}},
			} {
				before, total := rec.distinct(), rec.total()
				if n := e.replay(step.f); n != len(step.want) {
					t.Fatalf("ReplayParked(%+v) = %d, want %d", step.f, n, len(step.want))
				}
				if len(step.want) == 0 {
					// Two idle cycles after the replay: the second began after it,
					// and found nothing to publish.
					idle0 := idle.Load()
					r.Notify()
					eventually(t, 5*time.Second, func() bool { return idle.Load() >= idle0+2 },
						func() string { return "the relay did not complete two idle cycles" })
					if d, n := rec.distinct(), rec.total(); d != before || n != total {
						t.Errorf("after ReplayParked(%+v): %d publications of %d events, want %d of %d",
							step.f, n, d, total, before)
					}
					continue
				}
				r.Notify()
				rec.waitFor(t, before+len(step.want), 5*time.Second)
				_, count, _ := rec.snapshot()
				for _, id := range step.want {
					if count[id] != 1 {
						t.Errorf("after ReplayParked(%+v): %s published %d times, want 1", step.f, id, count[id])
					}
				}
			}
			e.waitBacklog(outbox.Backlog{})
		})
	}
}

// A publisher that, like RabbitMQ's transport, publishes the routable messages
// of a call and returns bus.ErrUnroutable for the call if some were unroutable:
// each routable event is published once, and every unroutable one is parked in
// the cycle that first tried it, without holding back the others.
func TestPartiallyUnroutableCallPublishesOnce(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			rec.partial = true
			rec.setUnbound(orderCancelled, true)
			var (
				msgs       []bus.Message
				routable   []string
				unroutable []string
			)
			for i := range 10 {
				order := fmt.Sprintf("o-%d", i)
				placed0, cancelled, placed1 := event(t, e.bus, order, 0), cancelledEvent(t, e.bus, order), event(t, e.bus, order, 1)
				// The unroutable event first, second or last of its key: each call
				// of the relay mixes both kinds.
				msgs = append(msgs, slices.Insert([]bus.Message{placed0, placed1}, i%3, cancelled)...)
				routable = append(routable, placed0.ID, placed1.ID)
				unroutable = append(unroutable, cancelled.ID)
			}
			e.commit(msgs...)
			var parks parkLog
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, OnPark: parks.add, UnroutableGrace: -1})
			rec.waitFor(t, len(routable), 5*time.Second)
			e.waitBacklog(outbox.Backlog{Parked: len(unroutable)})

			published, count, _ := rec.snapshot()
			for _, id := range routable {
				if count[id] != 1 {
					t.Errorf("routable event %s published %d times, want 1", id, count[id])
				}
			}
			for _, id := range unroutable {
				if count[id] != 0 {
					t.Errorf("unroutable event %s published %d times, want 0", id, count[id])
				}
				// Once in its batch's call, once alone to tell it from the others.
				if n := rec.triedWith(id); n > 2 {
					t.Errorf("unroutable event %s tried in %d calls, want at most 2", id, n)
				}
				if st := e.row(id); !st.parked || st.sent || st.reason != string(outbox.ParkUnroutable) || st.attempts != 1 {
					t.Errorf("row of unroutable event %s: %+v; want parked as unroutable after 1 attempt", id, st)
				}
			}
			if ps := parks.wait(t, len(unroutable)); len(ps) != len(unroutable) {
				t.Errorf("OnPark called %d times, want %d", len(ps), len(unroutable))
			}
			want := map[string]int{}
			for i := range 10 {
				want[fmt.Sprintf("o-%d", i)] = 2
			}
			checkOrder(t, published, want)
		})
	}
}

// A database created by the first version of the schema is migrated with its
// rows intact, which the relay then publishes.
func TestMigrateFromVersion1(t *testing.T) {
	for _, be := range []backend{sqlite, pgSQL} {
		t.Run(be.name, func(t *testing.T) {
			e := newBareEnv(t, be)
			v1, err := os.ReadFile("schema/" + be.dialect.String() + "/0001_outbox.sql")
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				sqldb.SchemaVersionDDL(be.dialect, e.prefix),
				strings.ReplaceAll(string(v1), "{{prefix}}", e.prefix),
				"INSERT INTO " + e.prefix + "schema_version (component, version) VALUES ('outbox', 1)",
			} {
				if _, err := e.db.ExecContext(ctx, q); err != nil {
					t.Fatalf("creating the version 1 schema: %v", err)
				}
			}
			failed := event(t, e.bus, "o-1", 0)
			e.commit(failed, event(t, e.bus, "o-1", 1), event(t, e.bus, "o-2", 0))
			if _, err := e.db.ExecContext(ctx, "UPDATE "+e.prefix+"outbox SET attempts = 4, last_error = 'broker down' WHERE event_id = $1", failed.ID); err != nil {
				t.Fatal(err)
			}

			if err := e.migrate(); err != nil {
				t.Fatalf("migrating a version 1 database: %v", err)
			}
			var last int
			if err := e.db.QueryRowContext(ctx, "SELECT max(version) FROM "+e.prefix+"schema_version WHERE component = 'outbox'").Scan(&last); err != nil {
				t.Fatal(err)
			}
			if last != schemaVersions {
				t.Errorf("schema version after Migrate = %d, want %d", last, schemaVersions)
			}
			indexQuery := "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = $1"
			if be.dialect == outbox.Postgres {
				indexQuery = "SELECT count(*) FROM pg_indexes WHERE indexname = $1"
			}
			for name, want := range map[string]int{"outbox_pending": 1, "outbox_key_pending": 1, "outbox_parked": 1, "outbox_unsent": 0, "outbox_key_unsent": 0} {
				var n int
				if err := e.db.QueryRowContext(ctx, indexQuery, e.prefix+name).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != want {
					t.Errorf("index %s%s: %d, want %d", e.prefix, name, n, want)
				}
			}
			if b := e.backlog(); b.Unsent != 3 || b.Failed != 1 || b.Parked != 0 {
				t.Errorf("backlog after the migration: %+v, want 3 unsent, 1 failed, none parked", b)
			}
			if st := e.row(failed.ID); st.parked || st.attempts != 4 || st.lastError != "broker down" {
				t.Errorf("failed row after the migration: %+v, want its 4 attempts and last error, not parked", st)
			}

			rec := newRecorder()
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
			rec.waitFor(t, 3, 5*time.Second)
			published, _, _ := rec.snapshot()
			checkOrder(t, published, map[string]int{"o-1": 2, "o-2": 1})
			e.waitBacklog(outbox.Backlog{})
		})
	}
}

// Through the real RabbitMQ transport (mandatory publishing), an event type that
// no queue is bound to ends parked as unroutable, while the bound one reaches its
// handler.
func TestUnboundTypeOnRabbitMQIsParked(t *testing.T) {
	url := testenv.URL(t, testenv.AMQP)
	e := newEnv(t, sqlite)
	tr, err := rabbitmq.New(ctx, url, rabbitmq.Options{Name: "outbox-test", Prefix: "outbox-test-" + strings.ToLower(rand.Text()[:8])})
	if err != nil {
		t.Fatalf("rabbitmq.New: %v", err)
	}
	delays := []time.Duration{time.Second}
	t.Cleanup(func() {
		tr.Close()
		deleteRabbitMQTopology(t, url, tr.Queues("billing", delays...), tr.Exchange())
	})
	b, err := bus.New(tr, bus.Options{Source: "/shop", Registry: e.bus.Registry(),
		Subscriptions: map[string]bus.SubscriptionOptions{"billing": {RedeliveryDelays: delays}}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 100)
	if err := bus.Handle(b, "billing", func(_ context.Context, _ OrderPlaced, m bus.Meta) error {
		select {
		case got <- m.ID:
		default: // a flood of repeats: never block the consumer's Close
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	var parks parkLog
	e.relay(tr, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, OnPark: parks.add, UnroutableGrace: -1})
	placed, cancelled, later := event(t, e.bus, "o-1", 0), cancelledEvent(t, e.bus, "o-1"), event(t, e.bus, "o-1", 1)
	e.commit(placed, cancelled, later)
	// In order, repeats aside (after a failure the relay publishes again one by
	// one).
	handled := map[string]bool{}
	var first []string
	for !handled[placed.ID] || !handled[later.ID] {
		select {
		case id := <-got:
			if id == cancelled.ID {
				t.Fatalf("the unbound event %s reached a handler", id)
			}
			if !handled[id] {
				first = append(first, id)
			}
			handled[id] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("events handled within 10s: %v, want %s and %s", first, placed.ID, later.ID)
		}
	}
	if !slices.Equal(first, []string{placed.ID, later.ID}) {
		t.Errorf("events handled in the order %v, want %s then %s", first, placed.ID, later.ID)
	}
	e.waitBacklog(outbox.Backlog{Parked: 1})
	st := e.row(cancelled.ID)
	if !st.parked || st.reason != string(outbox.ParkUnroutable) || !strings.Contains(st.lastError, bus.ErrUnroutable.Error()) {
		t.Errorf("row of the unbound event: %+v; want parked as %q with RabbitMQ's ErrUnroutable", st, outbox.ParkUnroutable)
	}
	if ps := parks.wait(t, 1); len(ps) != 1 || ps[0].ID != cancelled.ID || !errors.Is(ps[0].Err, bus.ErrUnroutable) {
		t.Errorf("OnPark calls %+v, want one for %s with an ErrUnroutable", ps, cancelled.ID)
	}
}

// deleteRabbitMQTopology deletes a subscription's queues and the exchange.
func deleteRabbitMQTopology(t *testing.T, url string, q rabbitmq.Queues, exchange string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer ch.Close()
	names := []string{q.Work, q.DeadLetter}
	for _, n := range q.Retry {
		names = append(names, n)
	}
	for _, n := range names {
		if _, err := ch.QueueDelete(n, false, false, false); err != nil {
			t.Errorf("cleanup: deleting queue %s: %v", n, err)
			return
		}
	}
	if err := ch.ExchangeDelete(exchange, false, false); err != nil {
		t.Errorf("cleanup: deleting exchange %s: %v", exchange, err)
	}
}
