package jetstream

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/idempotency"
)

type dlqSignup struct {
	Email string `json:"email"`
}

const dlqType = "tests.signed-up.v1"

// dlqWorld is a bus on an embedded server with two subscriptions of dlqType:
// "failing", whose handler fails permanently while fail is set, and "other",
// which always succeeds. Both share a memory inbox.
type dlqWorld struct {
	tr   *Transport
	b    *bus.Bus
	fail atomic.Bool

	mu       sync.Mutex
	handled  map[string]map[string]bus.Meta // subscription -> email -> meta
	runs     map[string]int                 // subscription -> handler runs that succeeded
	settled  []bus.Settlement
	replayed map[string]string // email -> rampart-replay-count seen by "failing"
}

func newDLQWorld(t *testing.T) *dlqWorld {
	t.Helper()
	w := &dlqWorld{
		tr:       newEmbedded(t, t.TempDir(), testOptions("rampart")),
		handled:  map[string]map[string]bus.Meta{},
		runs:     map[string]int{},
		replayed: map[string]string{},
	}
	w.fail.Store(true)
	reg := bus.NewRegistry()
	if err := bus.Register[dlqSignup](reg, dlqType); err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(w.tr, bus.Options{Source: "/tests", Registry: reg,
		Inbox: idempotency.NewMemory(idempotency.MemoryOptions{}),
		OnSettle: func(s bus.Settlement) {
			w.mu.Lock()
			w.settled = append(w.settled, s)
			w.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	w.b = b
	for _, sub := range []string{"failing", "other"} {
		err := bus.Handle(b, sub, func(ctx context.Context, e dlqSignup, m bus.Meta) error {
			if sub == "failing" && w.fail.Load() {
				return bus.Permanent(errors.New("mailbox " + e.Email + " rejected"))
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.handled[sub] == nil {
				w.handled[sub] = map[string]bus.Meta{}
			}
			w.handled[sub][e.Email] = m
			w.runs[sub]++
			if sub == "failing" {
				w.replayed[e.Email] = m.Headers[bus.HeaderReplayCount]
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Shutdown(sctx)
	})
	return w
}

func (w *dlqWorld) count(sub string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.handled[sub])
}

func (w *dlqWorld) skips(sub string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.settled {
		if s.Subscription == sub && s.Action == bus.ActionSkip {
			n++
		}
	}
	return n
}

func (w *dlqWorld) dlqLen(t *testing.T, ctx context.Context) int {
	t.Helper()
	info, err := w.tr.DeadLetterQueue(ctx, "failing")
	if err != nil {
		t.Fatalf("DeadLetterQueue: %v", err)
	}
	return info.Messages
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling: nothing notifies these
	}
}

// Replaying dead letters sends them to the subscription that dead-lettered them
// (handled again, as attempt 1, with the replay headers) and removes them from
// the dead-letter stream; the other subscription of the type gets the copies
// too, and its inbox skips them: its handler does not run twice.
func TestDeadLetterReplay(t *testing.T) {
	w := newDLQWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, email := range []string{"a@x", "b@x", "c@x"} {
		if err := w.b.Publish(ctx, dlqSignup{Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "3 dead letters", func() bool { return w.dlqLen(t, ctx) == 3 })
	waitUntil(t, "other handled 3", func() bool { return w.count("other") == 3 })
	info, err := w.tr.DeadLetterQueue(ctx, "failing")
	if want := "rampart_DLQ subject rampart.dlq.failing"; err != nil || info.Name != want || info.Messages != 3 {
		t.Fatalf("DeadLetterQueue = %+v, %v; want %s with 3", info, err, want)
	}
	if info, err := w.tr.DeadLetterQueue(ctx, "other"); err != nil || info.Messages != 0 {
		t.Errorf("DeadLetterQueue(other) = %+v, %v; want 0 messages", info, err)
	}
	dls, err := w.tr.DeadLetters(ctx, "failing", 0)
	if err != nil || len(dls) != 3 {
		t.Fatalf("DeadLetters = %d, %v", len(dls), err)
	}

	res, err := w.tr.ReplayDeadLetters(ctx, "failing", bus.ReplayOptions{DryRun: true, Limit: 2})
	if err != nil || len(res.Replayed) != 2 || res.Kept != 1 || res.Replayed[0].ID != dls[0].ID {
		t.Fatalf("dry run = %d replayed, %d kept, %v; want 2 and 1", len(res.Replayed), res.Kept, err)
	}
	if n := w.dlqLen(t, ctx); n != 3 {
		t.Fatalf("after a dry run: %d dead letters, want 3", n)
	}

	w.fail.Store(false)
	var progress []int
	res, err = w.tr.ReplayDeadLetters(ctx, "failing", bus.ReplayOptions{
		Match:    func(m bus.Message) bool { return m.ID != dls[1].ID },
		Progress: func(done, total int) { progress = append(progress, done, total) },
	})
	if err != nil || len(res.Replayed) != 2 || res.Kept != 1 {
		t.Fatalf("replay = %d replayed, %d kept, %v; want 2 and 1", len(res.Replayed), res.Kept, err)
	}
	if res.Replayed[0].Headers[bus.HeaderDLQReason] != "permanent-error" {
		t.Errorf("Replayed[0] headers = %v; want the dead letter as it was", res.Replayed[0].Headers)
	}
	if got := progress; len(got) != 4 || got[0] != 1 || got[1] != 2 || got[2] != 2 || got[3] != 2 {
		t.Errorf("progress = %v, want [1 2 2 2]", got)
	}
	if n := w.dlqLen(t, ctx); n != 1 {
		t.Errorf("after replaying 2: %d dead letters, want 1", n)
	}
	waitUntil(t, "failing handled 2", func() bool { return w.count("failing") == 2 })
	waitUntil(t, "other skipped 2", func() bool { return w.skips("other") == 2 })

	res, err = w.tr.ReplayDeadLetters(ctx, "failing", bus.ReplayOptions{})
	if err != nil || len(res.Replayed) != 1 || res.Replayed[0].ID != dls[1].ID {
		t.Fatalf("replay all = %d, %v; want the one left", len(res.Replayed), err)
	}
	waitUntil(t, "failing handled 3", func() bool { return w.count("failing") == 3 })
	waitUntil(t, "other skipped 3", func() bool { return w.skips("other") == 3 })
	time.Sleep(100 * time.Millisecond) // anything more would show now
	w.mu.Lock()
	for email, m := range w.handled["failing"] {
		if m.Attempt != 1 || w.replayed[email] != "1" || m.Headers[bus.HeaderReplayedAt] == "" || m.Headers[bus.HeaderDLQReason] != "" {
			t.Errorf("failing handled %s as attempt %d with headers %v; want attempt 1, replay count 1, no dlq headers", email, m.Attempt, m.Headers)
		}
	}
	if w.runs["other"] != 3 || w.runs["failing"] != 3 {
		t.Errorf("handler runs = %v, want 3 each (other's inbox skips the copies)", w.runs)
	}
	w.mu.Unlock()
	if n := w.dlqLen(t, ctx); n != 0 {
		t.Errorf("after replaying all: %d dead letters, want 0", n)
	}
	if res, err := w.tr.ReplayDeadLetters(ctx, "failing", bus.ReplayOptions{}); err != nil || len(res.Replayed) != 0 || res.Kept != 0 {
		t.Errorf("replay of an empty queue = %+v, %v", res, err)
	}
}

// Import stores messages as they are; purge deletes by filter; a replay that
// cannot deliver a message (its type is not the subscription's) keeps it.
func TestDeadLetterImportPurge(t *testing.T) {
	w := newDLQWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, email := range []string{"a@x", "b@x"} {
		if err := w.b.Publish(ctx, dlqSignup{Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "2 dead letters", func() bool { return w.dlqLen(t, ctx) == 2 })
	dls, err := w.tr.DeadLetters(ctx, "failing", 0)
	if err != nil || len(dls) != 2 {
		t.Fatalf("DeadLetters = %d, %v", len(dls), err)
	}
	if err := w.tr.ImportDeadLetters(ctx, "failing", dls); err != nil {
		t.Fatal(err)
	}
	back, err := w.tr.DeadLetters(ctx, "failing", 0)
	if err != nil || len(back) != 4 {
		t.Fatalf("after import: %d dead letters, %v; want 4", len(back), err)
	}
	for i, m := range back[2:] {
		if m.ID != dls[i].ID || m.Type != dlqType || !bytes.Equal(m.Body, dls[i].Body) || len(m.Headers) != len(dls[i].Headers) ||
			m.Headers[bus.HeaderDLQReason] != "permanent-error" {
			t.Errorf("imported %d = %+v; want %+v", i, m, dls[i])
		}
	}
	n, err := w.tr.PurgeDeadLetters(ctx, "failing", func(m bus.Message) bool { return m.ID == dls[0].ID })
	if err != nil || n != 2 || w.dlqLen(t, ctx) != 2 {
		t.Fatalf("purge of one ID = %d, %v; want 2 (it was imported again)", n, err)
	}

	// A message of a type the consumer does not take would be dropped by the
	// server: the replay refuses it, and it stays.
	stray := dls[1].WithHeaders(map[string]string{bus.HeaderType: "tests.other-thing.v1"})
	stray.Type = "tests.other-thing.v1"
	if err := w.tr.ImportDeadLetters(ctx, "failing", []bus.Message{stray}); err != nil {
		t.Fatal(err)
	}
	w.fail.Store(false)
	res, err := w.tr.ReplayDeadLetters(ctx, "failing", bus.ReplayOptions{})
	if err == nil || !strings.Contains(err.Error(), "does not take tests.other-thing.v1") || len(res.Replayed) != 2 || res.Kept != 1 {
		t.Fatalf("replay with a stray type = %d replayed, %d kept, %v; want 2, 1 and an error", len(res.Replayed), res.Kept, err)
	}
	left, _ := w.tr.DeadLetters(ctx, "failing", 0)
	if len(left) != 1 || left[0].Type != "tests.other-thing.v1" {
		t.Fatalf("left = %+v, want the stray message", left)
	}
	waitUntil(t, "b@x handled", func() bool { return w.count("failing") == 1 })
	if n, err := w.tr.PurgeDeadLetters(ctx, "failing", nil); err != nil || n != 1 || w.dlqLen(t, ctx) != 0 {
		t.Errorf("purge all = %d, %v; want 1", n, err)
	}
}

// A subscription unknown to the server, or a dead-letter stream that is gone,
// is a *bus.NoDeadLetterQueueError for every method.
func TestDeadLetterNoQueue(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions("rampart"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	check := func(what string) {
		t.Helper()
		_, err := tr.DeadLetterQueue(ctx, "nosuch")
		var nd *bus.NoDeadLetterQueueError
		if !errors.As(err, &nd) || !errors.Is(err, bus.ErrNoDeadLetterQueue) || !strings.Contains(err.Error(), `subject "rampart.dlq.nosuch"`) {
			t.Errorf("%s: DeadLetterQueue = %v, want a NoDeadLetterQueueError", what, err)
		}
		if _, err := tr.ReplayDeadLetters(ctx, "nosuch", bus.ReplayOptions{}); !errors.Is(err, bus.ErrNoDeadLetterQueue) {
			t.Errorf("%s: ReplayDeadLetters = %v", what, err)
		}
		if _, err := tr.PurgeDeadLetters(ctx, "nosuch", nil); !errors.Is(err, bus.ErrNoDeadLetterQueue) {
			t.Errorf("%s: PurgeDeadLetters = %v", what, err)
		}
		if err := tr.ImportDeadLetters(ctx, "nosuch", nil); !errors.Is(err, bus.ErrNoDeadLetterQueue) {
			t.Errorf("%s: ImportDeadLetters = %v", what, err)
		}
	}
	check("unknown subscription")
	if err := tr.js.DeleteStream(ctx, tr.names.dlq); err != nil {
		t.Fatal(err)
	}
	check("no stream")
	if _, err := tr.DeadLetterQueue(ctx, "bad.name"); err == nil || errors.Is(err, bus.ErrNoDeadLetterQueue) {
		t.Errorf("invalid name = %v, want a name error", err)
	}
}

func TestSubjectMatches(t *testing.T) {
	for _, c := range []struct {
		f, s string
		want bool
	}{
		{"a.b.c", "a.b.c", true}, {"a.b", "a.b.c", false}, {"a.b.c", "a.b", false},
		{"a.*.c", "a.b.c", true}, {"a.>", "a.b.c", true}, {"a.>", "a", false}, {"*.b.>", "a.b.c.d", true},
	} {
		if got := subjectMatches(c.f, c.s); got != c.want {
			t.Errorf("subjectMatches(%q, %q) = %v", c.f, c.s, got)
		}
	}
}
