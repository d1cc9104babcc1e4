package outbox_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rampart-go/rampart/outbox"
)

// backlog reads the env's backlog through its backend.
func (e *env) backlog() outbox.Backlog {
	e.t.Helper()
	var (
		b   outbox.Backlog
		err error
	)
	if e.pool != nil {
		b, err = outbox.ReadBacklogPgx(ctx, e.pool, outbox.Options{TablePrefix: e.prefix})
	} else {
		b, err = outbox.ReadBacklog(ctx, e.db, outbox.Options{TablePrefix: e.prefix})
	}
	if err != nil {
		e.t.Fatalf("ReadBacklog: %v", err)
	}
	return b
}

// The backlog counts the unsent rows, those that failed, and dates the oldest.
func TestBacklog(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			if b := e.backlog(); b != (outbox.Backlog{}) {
				t.Fatalf("empty outbox: backlog %+v, want zero", b)
			}
			if age := e.backlog().Age(time.Now()); age != 0 {
				t.Errorf("empty outbox: age %v, want 0", age)
			}

			rec := newRecorder()
			poison := event(t, e.bus, "stuck", 0)
			rec.reject[poison.ID] = true
			before := time.Now()
			e.commit(poison, event(t, e.bus, "free", 0), event(t, e.bus, "free", 1))
			after := time.Now()
			b := e.backlog()
			if b.Unsent != 3 || b.Failed != 0 {
				t.Errorf("3 rows added: backlog %+v, want 3 unsent, 0 failed", b)
			}
			// The database's clock dates the rows: allow some skew.
			if b.Oldest.Before(before.Add(-5*time.Second)) || b.Oldest.After(after.Add(5*time.Second)) {
				t.Errorf("oldest %v, want between %v and %v", b.Oldest, before, after)
			}
			if b.Age(b.Oldest.Add(time.Minute)) != time.Minute {
				t.Errorf("Age: %v, want 1m", b.Age(b.Oldest.Add(time.Minute)))
			}

			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
			rec.waitFor(t, 2, 5*time.Second)
			eventually(t, 5*time.Second, func() bool {
				b = e.backlog()
				return b.Unsent == 1 && b.Failed == 1
			}, func() string { return fmt.Sprintf("backlog %+v, want 1 unsent that failed", b) })

			rec.mu.Lock()
			delete(rec.reject, poison.ID)
			rec.mu.Unlock()
			rec.waitFor(t, 3, 5*time.Second)
			eventually(t, 5*time.Second, func() bool {
				b = e.backlog()
				return b == (outbox.Backlog{})
			}, func() string { return fmt.Sprintf("backlog %+v, want zero once all is sent", b) })
		})
	}
}

func TestReadBacklogValidatesOptions(t *testing.T) {
	e := newEnv(t, sqlite)
	if _, err := outbox.ReadBacklog(ctx, e.db, outbox.Options{TablePrefix: "Bad-Prefix"}); err == nil {
		t.Error("ReadBacklog accepted an invalid prefix")
	}
	if _, err := outbox.ReadBacklog(ctx, nil, outbox.Options{}); err == nil {
		t.Error("ReadBacklog accepted a nil db")
	}
}

// A row both sent and parked (a relay of an older version could leave one) is
// neither counted nor replayed: it was published.
func TestSentParkedRowIsIgnored(t *testing.T) {
	for _, be := range []backend{sqlite, pgSQL} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			sent, parked := event(t, e.bus, "o-1", 0), event(t, e.bus, "o-2", 0)
			e.commit(sent, parked)
			now := "now()"
			if be.dialect == outbox.SQLite {
				now = fmt.Sprint(time.Now().UnixMilli())
			}
			q := "UPDATE " + e.prefix + "outbox SET parked_at = " + now + ", parked_reason = 'unroutable'"
			if _, err := e.db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
			q = "UPDATE " + e.prefix + "outbox SET sent_at = " + now + " WHERE event_id = $1"
			if _, err := e.db.ExecContext(ctx, q, sent.ID); err != nil {
				t.Fatal(err)
			}
			if b := e.backlog(); b != (outbox.Backlog{Parked: 1}) {
				t.Errorf("backlog %+v, want 1 parked (the unsent one)", b)
			}
			if n := e.replay(outbox.ParkedFilter{}); n != 1 {
				t.Errorf("ReplayParked = %d, want 1 (the unsent one)", n)
			}
			if st := e.row(sent.ID); !st.sent {
				t.Errorf("row of the sent event: %+v, want sent", st)
			}
		})
	}
}
