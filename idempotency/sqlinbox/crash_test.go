package sqlinbox_test

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/idempotency/sqlinbox"
)

// childEnv names the role of a re-executed test binary.
const childEnv = "SQLINBOX_TEST_CHILD"

// A handler process is killed (SIGKILL) at some point between its effect and the
// inbox's mark; the redelivery then runs in this process. With DoneTx the effect
// happens once wherever the kill falls; with the mark made after the commit (Done,
// as a Redis or memory inbox does) a kill between the two runs the effect twice.
func TestKilledHandler(t *testing.T) {
	const lease = time.Second
	for _, be := range []backend{sqlite, pgSQL} {
		for _, tc := range []struct {
			role        string // what the child does before it reports and is killed
			wantEffects int
		}{
			{"donetx-before-commit", 1}, // effect and mark written, not committed
			{"donetx-after-commit", 1},  // committed together; killed before Done
			{"done-after-commit", 2},    // effect committed; killed before Done
		} {
			t.Run(be.name+"/"+tc.role, func(t *testing.T) {
				e := newEnv(t, be, sqlinbox.Options{})
				id := newID()
				runKilledChild(t, e, tc.role, id, lease)

				// The broker redelivers; the consumer claims (once the dead
				// child's lease is over) and runs the handler again.
				st, tok, err := e.store.Claim(ctx, key(id), lease)
				for err == nil && st == idempotency.InProgress {
					time.Sleep(20 * time.Millisecond)
					st, tok, err = e.store.Claim(ctx, key(id), lease)
				}
				if err != nil {
					t.Fatal(err)
				}
				if st == idempotency.Claimed {
					if err := e.handle(id, true); err != nil && !errors.Is(err, sqlinbox.ErrAlreadyDone) {
						t.Fatal(err)
					}
					if err := e.store.Done(ctx, key(id), tok); err != nil {
						t.Fatal(err)
					}
				}
				if n := e.effects(id); n != tc.wantEffects {
					t.Errorf("effects after the kill and the redelivery = %d, want %d", n, tc.wantEffects)
				}
				if st, _, _ := e.store.Claim(ctx, key(id), lease); st != idempotency.AlreadyDone {
					t.Errorf("Claim at the end = %v, want already-done", st)
				}
			})
		}
	}
}

// runKilledChild runs the child that handles message id in the given role,
// waits for it to report "ready", and kills it with SIGKILL.
func runKilledChild(t *testing.T, e *env, role, id string, lease time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role,
		"SQLINBOX_TEST_DIALECT="+e.backend.dialect.String(),
		"SQLINBOX_TEST_DSN="+e.dsn,
		"SQLINBOX_TEST_PREFIX="+e.prefix,
		"SQLINBOX_TEST_ID="+id,
		"SQLINBOX_TEST_LEASE="+lease.String(),
	)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("child %s exited before it was ready", role)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child %s not ready within 20s", role)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child %s did not die of SIGKILL", role)
	}
}

func runChild(role string) int {
	if err := child(role); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// child claims the message, writes the effect and marks it as its role says,
// prints "ready" and waits to be killed.
func child(role string) error {
	driver := "pgx"
	if os.Getenv("SQLINBOX_TEST_DIALECT") == "sqlite" {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, os.Getenv("SQLINBOX_TEST_DSN"))
	if err != nil {
		return err
	}
	prefix, id := os.Getenv("SQLINBOX_TEST_PREFIX"), os.Getenv("SQLINBOX_TEST_ID")
	lease, err := time.ParseDuration(os.Getenv("SQLINBOX_TEST_LEASE"))
	if err != nil {
		return err
	}
	store, err := sqlinbox.New(db, sqlinbox.Options{TablePrefix: prefix})
	if err != nil {
		return err
	}
	st, _, err := store.Claim(ctx, key(id), lease)
	if err != nil || st != idempotency.Claimed {
		return fmt.Errorf("claim = %v, %v", st, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+prefix+"effects (message_id) VALUES ($1)", id); err != nil {
		return err
	}
	switch role {
	case "donetx-before-commit":
		if err := store.DoneTx(ctx, tx, key(id)); err != nil {
			return err
		}
	case "donetx-after-commit":
		if err := store.DoneTx(ctx, tx, key(id)); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	case "done-after-commit":
		if err := tx.Commit(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	fmt.Println("ready")
	time.Sleep(time.Minute) // killed long before
	return errors.New("not killed")
}
