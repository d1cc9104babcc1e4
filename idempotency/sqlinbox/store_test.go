package sqlinbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/idempotency/idempotencytest"
	"github.com/rampart-go/rampart/idempotency/sqlinbox"
)

func key(id string) idempotency.Key { return idempotency.Key{Consumer: consumer, MessageID: id} }

func TestConformance(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
				return newEnv(t, be, sqlinbox.Options{}).store
			})
		})
	}
}

// The handler's writes and the done mark commit together: a rolled-back handler
// leaves neither, and the next one runs; a committed one leaves both, and a
// duplicate finds the message done.
func TestDoneTxCommitsWithTheHandlersWrites(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be, sqlinbox.Options{})
			id := newID()
			st, tok, err := e.store.Claim(ctx, key(id), time.Minute)
			if err != nil || st != idempotency.Claimed {
				t.Fatalf("Claim = %v, %v", st, err)
			}
			if err := e.handle(id, false); err != nil {
				t.Fatalf("handler that rolls back: DoneTx = %v", err)
			}
			if n := e.effects(id); n != 0 {
				t.Fatalf("effects after rollback = %d, want 0", n)
			}
			if st, _, _ := e.store.Claim(ctx, key(id), time.Minute); st != idempotency.InProgress {
				t.Errorf("Claim after the rollback = %v, want in-progress (the claim is as it was)", st)
			}
			if err := e.handle(id, true); err != nil {
				t.Fatalf("handler that commits: DoneTx = %v", err)
			}
			if n := e.effects(id); n != 1 {
				t.Fatalf("effects after commit = %d, want 1", n)
			}
			// The claim's own Done, as the bus calls it next, succeeds once.
			if err := e.store.Done(ctx, key(id), tok); err != nil {
				t.Errorf("Done after DoneTx = %v, want nil", err)
			}
			if err := e.store.Done(ctx, key(id), tok); !errors.Is(err, idempotency.ErrNotClaimed) {
				t.Errorf("second Done = %v, want ErrNotClaimed", err)
			}
			if err := e.store.Release(ctx, key(id), tok); !errors.Is(err, idempotency.ErrNotClaimed) {
				t.Errorf("Release after done = %v, want ErrNotClaimed", err)
			}
			if st, _, _ := e.store.Claim(ctx, key(id), time.Minute); st != idempotency.AlreadyDone {
				t.Errorf("Claim of a duplicate = %v, want already-done", st)
			}
			if err := e.handle(id, true); !errors.Is(err, sqlinbox.ErrAlreadyDone) {
				t.Errorf("DoneTx of a duplicate = %v, want ErrAlreadyDone", err)
			}
			if n := e.effects(id); n != 1 {
				t.Errorf("effects = %d, want 1", n)
			}
			// Without any claim, DoneTx alone deduplicates.
			other := newID()
			if err := e.handle(other, true); err != nil {
				t.Fatalf("DoneTx without a claim = %v", err)
			}
			if st, _, _ := e.store.Claim(ctx, key(other), time.Minute); st != idempotency.AlreadyDone {
				t.Errorf("Claim after DoneTx without a claim = %v, want already-done", st)
			}
		})
	}
}

// Two handlers of one message at once (a lease that ran out, two consumers of a
// duplicate): the second DoneTx waits for the first transaction and gets
// ErrAlreadyDone if it committed, or goes on if it rolled back.
func TestConcurrentDoneTx(t *testing.T) {
	for _, be := range allBackends {
		for _, firstCommits := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/first-commits=%v", be.name, firstCommits), func(t *testing.T) {
				e := newEnv(t, be, sqlinbox.Options{})
				id := newID()
				tx1, err := e.db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer tx1.Rollback()
				if _, err := tx1.ExecContext(ctx, "INSERT INTO "+e.prefix+"effects (message_id) VALUES ($1)", id); err != nil {
					t.Fatal(err)
				}
				if err := e.store.DoneTx(ctx, tx1, key(id)); err != nil {
					t.Fatal(err)
				}
				second := make(chan error, 1)
				go func() { second <- e.handle(id, true) }()
				select {
				case err := <-second:
					t.Fatalf("second handler finished (%v) while the first transaction was open", err)
				case <-time.After(100 * time.Millisecond):
				}
				if firstCommits {
					err = tx1.Commit()
				} else {
					err = tx1.Rollback()
				}
				if err != nil {
					t.Fatal(err)
				}
				var serr error
				select {
				case serr = <-second:
				case <-time.After(10 * time.Second):
					t.Fatal("second handler still blocked 10s after the first transaction ended")
				}
				if firstCommits && !errors.Is(serr, sqlinbox.ErrAlreadyDone) {
					t.Errorf("second DoneTx = %v, want ErrAlreadyDone", serr)
				}
				if !firstCommits && serr != nil {
					t.Errorf("second DoneTx after the first rolled back = %v, want nil", serr)
				}
				if n := e.effects(id); n != 1 {
					t.Errorf("effects = %d, want 1", n)
				}
			})
		}
	}
}

// With the bus: the inbox stage claims, the handler writes and marks done in its
// transaction, the bus's Done succeeds without complaint, and a republished
// duplicate runs nothing.
func TestWithBus(t *testing.T) {
	for _, be := range []backend{sqlite, pgSQL} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be, sqlinbox.Options{})
			tr := memory.New()
			defer tr.Close()
			var logs bytes.Buffer
			var logMu sync.Mutex
			logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelWarn}))
			b, err := bus.New(tr, bus.Options{Source: "/billing", Inbox: e.store, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			handled := make(chan string, 10)
			err = bus.Handle(b, "billing", func(ctx2 context.Context, ev Invoice, m bus.Meta) error {
				tx, err := e.db.BeginTx(ctx2, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				if _, err := tx.ExecContext(ctx2, "INSERT INTO "+e.prefix+"effects (message_id) VALUES ($1)", m.ID); err != nil {
					return err
				}
				k := idempotency.Key{Consumer: m.Subscription, MessageID: m.ID}
				if err := e.store.DoneTx(ctx2, tx, k); errors.Is(err, sqlinbox.ErrAlreadyDone) {
					return nil // a duplicate: the rollback undoes our writes
				} else if err != nil {
					return err
				}
				if err := tx.Commit(); err != nil {
					return err
				}
				handled <- m.ID
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			id, _ := bus.NewID()
			for range 3 {
				if err := b.Publish(ctx, Invoice{Amount: 42}, bus.WithID(id)); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case got := <-handled:
				if got != id {
					t.Fatalf("handled %s, want %s", got, id)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("not handled within 5s")
			}
			eventually(t, 5*time.Second, func() bool { st := tr.Stats("billing"); return st.Ready+st.Unacked+st.Delayed == 0 },
				func() string { return fmt.Sprintf("queue not drained: %+v", tr.Stats("billing")) })
			if n := e.effects(id); n != 1 {
				t.Errorf("effects = %d, want 1", n)
			}
			b.Close()
			logMu.Lock()
			defer logMu.Unlock()
			if logs.Len() > 0 {
				t.Errorf("the bus logged warnings or errors:\n%s", logs.String())
			}
		})
	}
}

// Invoice is the event of TestWithBus.
type Invoice struct {
	Amount int `json:"amount"`
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func eventually(t testing.TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Cleanup deletes done marks past their retention and claims past their lease,
// and nothing else.
func TestCleanup(t *testing.T) {
	for _, be := range []backend{sqlite, pgPgx} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be, sqlinbox.Options{Retention: 50 * time.Millisecond, CleanupInterval: -1})
			old, live, expired := newID(), newID(), newID()
			_, tok, _ := e.store.Claim(ctx, key(old), time.Minute)
			if err := e.store.Done(ctx, key(old), tok); err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.store.Claim(ctx, key(expired), 10*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.store.Claim(ctx, key(live), time.Minute); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			n, err := e.store.Cleanup(ctx)
			if err != nil || n != 2 {
				t.Errorf("Cleanup = %d, %v; want 2 rows deleted", n, err)
			}
			var left int
			if err := e.db.QueryRowContext(ctx, "SELECT count(*) FROM "+e.prefix+"inbox").Scan(&left); err != nil || left != 1 {
				t.Errorf("rows left = %d, %v; want the live claim only", left, err)
			}
			if st, _, _ := e.store.Claim(ctx, key(old), time.Minute); st != idempotency.Claimed {
				t.Errorf("Claim after the retention = %v, want claimed", st)
			}
		})
	}
}

// Claim deletes expired rows by itself at most once per CleanupInterval.
func TestCleanupFromClaim(t *testing.T) {
	e := newEnv(t, sqlite, sqlinbox.Options{Retention: time.Millisecond, CleanupInterval: 20 * time.Millisecond})
	for range 5 {
		id := newID()
		_, tok, _ := e.store.Claim(ctx, key(id), time.Minute)
		if err := e.store.Done(ctx, key(id), tok); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, func() bool {
		_, _, _ = e.store.Claim(ctx, key(newID()), time.Minute) // live claims stay
		var n int
		_ = e.db.QueryRowContext(ctx, "SELECT count(*) FROM "+e.prefix+"inbox WHERE done").Scan(&n)
		return n == 0
	}, func() string { return "expired done marks not deleted by Claim" })
}

func TestOptions(t *testing.T) {
	e := newEnv(t, sqlite, sqlinbox.Options{})
	if _, err := sqlinbox.New(e.db, sqlinbox.Options{TablePrefix: "Bad-Prefix"}); err == nil || !strings.Contains(err.Error(), "TablePrefix") {
		t.Errorf("New with a bad prefix = %v, want an error naming TablePrefix", err)
	}
	if _, err := sqlinbox.New(nil, sqlinbox.Options{}); err == nil {
		t.Error("New(nil) = nil error")
	}
	if err := e.store.DonePgxTx(ctx, nil, key("x")); err == nil {
		t.Error("DonePgxTx(nil) = nil error")
	}
	// Migrate is idempotent.
	for range 3 {
		if err := e.store.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
}
