package outbox_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/outbox"
)

// childEnv names the role of a re-executed test binary.
const childEnv = "OUTBOX_TEST_CHILD"

// A process that committed events and died (SIGKILL) before its relay published
// them: a new relay publishes every committed event, with its key's order, and none
// of the transaction that was open when the process died.
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	for _, be := range []backend{sqlite, pgSQL} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			committed, uncommitted := runCrashingChild(t, e)
			if len(committed) != crashEvents || len(uncommitted) != crashEvents {
				t.Fatalf("child reported %d committed and %d uncommitted events, want %d each", len(committed), len(uncommitted), crashEvents)
			}

			rec := newRecorder()
			// Standby: on SQLite, the dead child's lock must expire first.
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond, Standby: true})
			rec.waitFor(t, crashEvents, 15*time.Second)
			time.Sleep(50 * time.Millisecond)
			published, count, _ := rec.snapshot()
			for _, id := range committed {
				if count[id] != 1 {
					t.Errorf("committed event %s published %d times, want 1", id, count[id])
				}
			}
			for _, id := range uncommitted {
				if count[id] != 0 {
					t.Errorf("event %s of the uncommitted transaction published %d times, want 0", id, count[id])
				}
			}
			checkOrder(t, published, map[string]int{"o-0": 4, "o-1": 3, "o-2": 3})
			if n := e.count(""); n != crashEvents {
				t.Errorf("outbox rows = %d, want %d", n, crashEvents)
			}
		})
	}
}

const crashEvents = 10

// runCrashingChild runs the test binary as a child that commits crashEvents events,
// opens a second transaction with as many, starts a relay whose broker hangs, and
// is killed with SIGKILL once the relay is publishing. It returns the IDs of both
// transactions' events.
func runCrashingChild(t *testing.T, e *env) (committed, uncommitted []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"=crash",
		"OUTBOX_TEST_DIALECT="+e.backend.dialect.String(),
		"OUTBOX_TEST_DSN="+e.dsn,
		"OUTBOX_TEST_PREFIX="+e.prefix,
	)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("child exited before publishing: %v", cmd.Wait())
			}
			verb, arg, _ := strings.Cut(line, " ")
			switch verb {
			case "committed":
				committed = append(committed, arg)
			case "uncommitted":
				uncommitted = append(uncommitted, arg)
			case "publishing":
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
				err := cmd.Wait()
				for range lines { // drain
				}
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
					t.Fatalf("child did not die of SIGKILL: %v", err)
				}
				return committed, uncommitted
			}
		case <-timeout:
			t.Fatal("child did not start publishing within 20s")
		}
	}
}

// runChild is the child side of the crash tests; it returns the exit code.
func runChild(role string) int {
	if role != "crash" {
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		return 2
	}
	if err := crashChild(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func crashChild() error {
	driver := "pgx"
	if os.Getenv("OUTBOX_TEST_DIALECT") == "sqlite" {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, os.Getenv("OUTBOX_TEST_DSN"))
	if err != nil {
		return err
	}
	prefix := os.Getenv("OUTBOX_TEST_PREFIX")
	ob, err := outbox.New(outbox.Options{TablePrefix: prefix})
	if err != nil {
		return err
	}
	reg := bus.NewRegistry()
	if err := bus.Register[OrderPlaced](reg, orderPlaced); err != nil {
		return err
	}
	b, err := bus.New(memory.New(), bus.Options{Source: "/shop", Registry: reg})
	if err != nil {
		return err
	}
	events := func(verb string) ([]bus.Message, error) {
		var msgs []bus.Message
		for i := range crashEvents {
			order := fmt.Sprintf("o-%d", i%3)
			if verb == "uncommitted" {
				order = "lost-" + order
			}
			m, err := b.Encode(ctx, OrderPlaced{Order: order, N: i / 3}, bus.WithPartitionKey(order))
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
		}
		return msgs, nil
	}
	msgs, err := events("committed")
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := ob.Add(ctx, tx, msgs...); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, m := range msgs {
		fmt.Println("committed", m.ID)
	}
	// The relay starts and calls the broker first: on SQLite, the open transaction
	// holds the write lock.
	called, opened := make(chan struct{}), make(chan struct{})
	r, err := outbox.NewRelay(db, &hangingBroker{called: called, opened: opened}, outbox.RelayOptions{
		TablePrefix: prefix, Lease: 2 * time.Second, PublishTimeout: time.Second, LockTTL: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	if err := r.Start(ctx); err != nil {
		return err
	}
	<-called
	if msgs, err = events("uncommitted"); err != nil {
		return err
	}
	open, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := ob.Add(ctx, open, msgs...); err != nil {
		return err
	}
	for _, m := range msgs {
		fmt.Println("uncommitted", m.ID)
	}
	close(opened)
	time.Sleep(time.Minute) // killed long before
	return fmt.Errorf("not killed")
}

// hangingBroker never confirms. Its first call closes called, waits for opened,
// reports that publishing started; every call waits for its deadline.
type hangingBroker struct {
	called, opened chan struct{}
	once           sync.Once
}

func (b *hangingBroker) Publish(ctx context.Context, msgs ...bus.Message) error {
	b.once.Do(func() {
		close(b.called)
		<-b.opened
		fmt.Println("publishing")
	})
	<-ctx.Done()
	return ctx.Err()
}
