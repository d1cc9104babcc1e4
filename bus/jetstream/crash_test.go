package jetstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/idempotency"
)

// The crash test: a child process publishes and consumes on an embedded server
// and is killed with SIGKILL mid-run; the parent starts the server again on the
// same data directory and consumes what is left. Every message the child saw
// confirmed must then be handled exactly once over both processes.
//
// What "handled" means, and why it can be counted exactly. A handler's effect
// and its inbox done mark must commit together (in a real service: one database
// transaction). Here the effect is the done mark itself: a file-backed inbox
// (fileInbox) whose Done appends the event ID to done.log and fsyncs it, one
// write(2) per line, which a SIGKILL cannot tear. So:
//   - killed before Done: no line, no effect; the message was not acked, and the
//     server gives it to the restarted consumer after AckWait, which handles it;
//   - killed after Done, before the ack reached the server (acks are not
//     confirmed): the line is there; the restarted process loads done.log into
//     its inbox (idempotency.NewMemory), so the redelivery is skipped (acked
//     without running the handler);
//   - a second line for one ID would be an effect applied twice: the test fails.
//
// The child appends an ID to confirmed.log (fsynced) only after Publish returned
// nil: every ID there must end up in done.log exactly once. A message stored
// whose confirmation the child did not live to record may be handled too (once).

const (
	crashDirEnv = "RAMPART_JETSTREAM_CRASH_DIR"
	crashSub    = "crash-consumer"
	crashType   = "crashtest.order-placed.v1"
)

type crashOrder struct {
	N int `json:"n"`
}

// crashOptions are the transport options of both processes: a short AckWait, so
// that what the child held when it died comes back quickly.
func crashOptions() Options {
	o := testOptions("crash")
	o.AckWait = 2 * time.Second
	return o
}

// crashBus returns a bus with the crash subscription, handling through inbox.
func crashBus(t testing.TB, tr *Transport, inbox idempotency.Store, handled func(id string), onSettle func(bus.Settlement)) *bus.Bus {
	t.Helper()
	reg := bus.NewRegistry()
	if err := bus.Register[crashOrder](reg, crashType); err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(tr, bus.Options{Source: "/crash", Registry: reg, Inbox: inbox, OnSettle: onSettle,
		Subscriptions: map[string]bus.SubscriptionOptions{crashSub: {Workers: 4, Prefetch: 32, Timeout: 5 * time.Second,
			RedeliveryDelays: []time.Duration{50 * time.Millisecond}, MaxAttempts: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Handle(b, crashSub, func(ctx context.Context, o crashOrder, m bus.Meta) error {
		if handled != nil {
			handled(m.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCrashChild is the child process; it runs only when the parent sets
// crashDirEnv, and never returns normally: the parent kills it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestCrash")
	}
	tr := newEmbedded(t, filepath.Join(dir, "data"), crashOptions())
	inbox, err := openFileInbox(t, filepath.Join(dir, "done.log"))
	if err != nil {
		t.Fatal(err)
	}
	// A handler slower than the publishers: a backlog builds up, and the child
	// dies holding deliveries in every state.
	b := crashBus(t, tr, inbox, func(string) { time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) }, nil)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	confirmed, err := os.OpenFile(filepath.Join(dir, "confirmed.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Go(func() {
			for i := p; ; i += 8 {
				id, err := bus.NewID()
				if err != nil {
					panic(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = b.Publish(ctx, crashOrder{N: i}, bus.WithID(id))
				cancel()
				if err != nil {
					fmt.Fprintln(os.Stderr, "crash child: publish:", err)
					continue
				}
				mu.Lock()
				_, werr := confirmed.WriteString(id + "\n")
				if werr == nil {
					werr = confirmed.Sync()
				}
				mu.Unlock()
				if werr != nil {
					panic(werr)
				}
			}
		})
	}
	wg.Wait() // forever: the parent kills the process
}

// TestCrash runs TestCrashChild in a child process, kills it with SIGKILL once it
// has published and handled enough, then consumes the rest on the same data
// directory and checks that every confirmed message was handled exactly once.
func TestCrash(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("running as the child")
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	donePath, confirmedPath := filepath.Join(dir, "done.log"), filepath.Join(dir, "confirmed.log")

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// Kill it mid-run: once it has confirmed and handled a good number of
	// messages, with publishing and consuming in full swing.
	const wantConfirmed, wantDone = 3000, 1000
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, d := countLines(t, confirmedPath), countLines(t, donePath)
		if c >= wantConfirmed && d >= wantDone {
			break
		}
		select {
		case err := <-exited:
			killed = true
			t.Fatalf("the child exited before it was killed (%v); confirmed %d, done %d; its output:\n%s", err, c, d, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child confirmed %d messages and handled %d in 30s, want %d and %d; its output:\n%s", c, d, wantConfirmed, wantDone, stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the child's files, with a deadline
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		killed = true
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not die within 10s of SIGKILL")
	}

	confirmedIDs := readLines(t, confirmedPath)
	doneBefore := readLines(t, donePath)
	t.Logf("the child was killed after %d confirmed publishes and %d handled messages", len(confirmedIDs), len(doneBefore))

	// Restart on the same data directory, with the done marks of the child.
	tr := newEmbedded(t, filepath.Join(dir, "data"), crashOptions())
	inbox, err := openFileInbox(t, donePath)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	changed := make(chan struct{}, 1)
	handledNow := map[string]int{}
	var skipped atomic.Int64 // redeliveries of messages the child handled
	b := crashBus(t, tr, inbox, func(id string) {
		mu.Lock()
		handledNow[id]++
		mu.Unlock()
		signal(changed)
	}, func(s bus.Settlement) {
		if s.Action == bus.ActionSkip {
			skipped.Add(1)
		}
	})
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	pending := func() []string {
		done := inbox.doneSet()
		var missing []string
		for _, id := range confirmedIDs {
			if !done[id] {
				missing = append(missing, id)
			}
		}
		return missing
	}
	timeout := time.After(30 * time.Second)
	for missing := pending(); len(missing) > 0; missing = pending() {
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond): // the inbox has no notification of its own
		case <-timeout:
			t.Fatalf("%d of %d confirmed messages still not handled 30s after the restart, such as %s", len(missing), len(confirmedIDs), missing[0])
		}
	}

	lines := readLines(t, donePath)
	count := map[string]int{}
	for _, id := range lines {
		count[id]++
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("message %s handled %d times (done.log has it %d times), want once", id, n, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range handledNow {
		if n != 1 {
			t.Errorf("message %s handled %d times after the restart, want once", id, n)
		}
	}
	t.Logf("after the restart: %d more handled, %d skipped as handled by the child; %d handled in all, %d of them confirmed",
		len(handledNow), skipped.Load(), len(count), len(confirmedIDs))
}

func countLines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		out = append(out, s.Text())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fileInbox is an idempotency.Store whose done marks are also appended to a
// file (fsynced) and loaded from it at start: the handler's effect and its mark
// in one write. Claims live in memory (idempotency.NewMemory).
type fileInbox struct {
	mem *idempotency.Memory

	mu   sync.Mutex
	f    *os.File
	done map[string]bool
}

func openFileInbox(t testing.TB, path string) (*fileInbox, error) {
	in := &fileInbox{mem: idempotency.NewMemory(idempotency.MemoryOptions{}), done: map[string]bool{}}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ctx := context.Background()
	for _, id := range strings.Fields(string(b)) {
		k := idempotency.Key{Consumer: crashSub, MessageID: id}
		st, tok, err := in.mem.Claim(ctx, k, time.Minute)
		if err != nil {
			return nil, err
		}
		if st == idempotency.Claimed {
			if err := in.mem.Done(ctx, k, tok); err != nil {
				return nil, err
			}
		}
		in.done[id] = true
	}
	if in.f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	t.Cleanup(func() { in.f.Close() })
	return in, nil
}

func (in *fileInbox) Claim(ctx context.Context, k idempotency.Key, lease time.Duration) (idempotency.Status, idempotency.Token, error) {
	return in.mem.Claim(ctx, k, lease)
}

// Done records the effect and the mark: one line, fsynced, then the memory mark.
func (in *fileInbox) Done(ctx context.Context, k idempotency.Key, t idempotency.Token) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, err := in.f.WriteString(k.MessageID + "\n"); err != nil {
		return err
	}
	if err := in.f.Sync(); err != nil {
		return err
	}
	in.done[k.MessageID] = true
	return in.mem.Done(ctx, k, t)
}

func (in *fileInbox) Release(ctx context.Context, k idempotency.Key, t idempotency.Token) error {
	return in.mem.Release(ctx, k, t)
}

func (in *fileInbox) doneSet() map[string]bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]bool, len(in.done))
	for k := range in.done {
		out[k] = true
	}
	return out
}
