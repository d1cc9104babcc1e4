package memory_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
)

// deadLetterAll dead-letters every message of c, which must be there already.
func deadLetterAll(t *testing.T, c bus.Consumer, count int, reason bus.DeadLetterReason) {
	t.Helper()
	for range count {
		d := receive(t, c)
		if err := d.DeadLetter(ctx, bus.DeadLetter{Reason: reason, Attempts: 3, Subscription: "one"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplayDeadLetters(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	c := subscribe(t, tr, "one", 10, "a")
	other := subscribe(t, tr, "two", 10, "a")
	for i := 1; i <= 3; i++ {
		m := msg("a", i)
		m.Headers[bus.HeaderAttempt] = "3"
		if err := tr.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	deadLetterAll(t, c, 3, bus.ReasonPermanent)
	for range 3 {
		receive(t, other).Ack(ctx)
	}

	// Dry run: selects, changes nothing.
	odd := func(m bus.Message) bool { return m.Headers["n"] != "2" }
	res, err := tr.ReplayDeadLetters(ctx, "one", bus.ReplayOptions{Match: odd, DryRun: true})
	if err != nil || len(res.Replayed) != 2 || res.Kept != 1 {
		t.Fatalf("dry run = %d replayed, %d kept, %v; want 2, 1, nil", len(res.Replayed), res.Kept, err)
	}
	if got := tr.Stats("one").DeadLetters; got != 3 {
		t.Fatalf("after dry run: %d dead letters, want 3", got)
	}
	none(t, c)

	var progress []int
	res, err = tr.ReplayDeadLetters(ctx, "one", bus.ReplayOptions{Match: odd, Limit: 1, Progress: func(done, total int) { progress = append(progress, done, total) }})
	if err != nil || len(res.Replayed) != 1 || res.Kept != 2 {
		t.Fatalf("replay with limit 1 = %d replayed, %d kept, %v; want 1, 2, nil", len(res.Replayed), res.Kept, err)
	}
	if len(progress) != 2 || progress[0] != 1 || progress[1] != 1 {
		t.Errorf("progress calls = %v, want [1 1]", progress)
	}
	d := receive(t, c)
	h := d.Message().Headers
	if n(d) != "1" || h[bus.HeaderAttempt] != "" || h[bus.HeaderDLQReason] != "" || h[bus.HeaderDLQOrigin] != "" ||
		h[bus.HeaderReplayCount] != "1" || h[bus.HeaderReplayedAt] == "" {
		t.Errorf("replayed message %s has headers %v; want message 1, replay count 1, no attempt or dlq headers", n(d), h)
	}
	none(t, other) // only the subscription's queue gets it
	// Dead-lettered again and replayed again: the count goes up.
	if err := d.DeadLetter(ctx, bus.DeadLetter{Reason: bus.ReasonMaxAttempts}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ReplayDeadLetters(ctx, "one", bus.ReplayOptions{Match: func(m bus.Message) bool { return m.Headers["n"] == "1" }}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, c).Message().Headers[bus.HeaderReplayCount]; got != "2" {
		t.Errorf("second replay: %s = %q, want 2", bus.HeaderReplayCount, got)
	}
	dls, _ := tr.DeadLetters(ctx, "one", 0)
	if len(dls) != 2 || dls[0].Headers["n"] != "2" || dls[1].Headers["n"] != "3" {
		t.Errorf("dead letters left = %d, want messages 2 and 3", len(dls))
	}
}

func TestPurgeAndImportDeadLetters(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	c := subscribe(t, tr, "one", 10, "a")
	for i := 1; i <= 3; i++ {
		if err := tr.Publish(ctx, msg("a", i)); err != nil {
			t.Fatal(err)
		}
	}
	deadLetterAll(t, c, 3, bus.ReasonUnknownType)
	saved, _ := tr.DeadLetters(ctx, "one", 0)
	got, err := tr.PurgeDeadLetters(ctx, "one", func(m bus.Message) bool { return m.Headers["n"] == "2" })
	if got != 1 || err != nil {
		t.Fatalf("PurgeDeadLetters(n=2) = %d, %v; want 1, nil", got, err)
	}
	if got, err := tr.PurgeDeadLetters(ctx, "one", nil); got != 2 || err != nil {
		t.Fatalf("PurgeDeadLetters(all) = %d, %v; want 2, nil", got, err)
	}
	if err := tr.ImportDeadLetters(ctx, "one", saved); err != nil {
		t.Fatal(err)
	}
	info, err := tr.DeadLetterQueue(ctx, "one")
	if err != nil || info.Messages != 3 || info.Name != "one.dlq" {
		t.Errorf("DeadLetterQueue after import = %+v, %v; want one.dlq with 3", info, err)
	}

	var nq *bus.NoDeadLetterQueueError
	_, err = tr.ReplayDeadLetters(ctx, "nobody", bus.ReplayOptions{})
	if !errors.As(err, &nq) || !errors.Is(err, bus.ErrNoDeadLetterQueue) || nq.Subscription != "nobody" {
		t.Errorf("replay of unknown subscription = %v, want a *NoDeadLetterQueueError", err)
	}
}

func TestReplayMessage(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := bus.Message{ID: "x", Headers: map[string]string{
		bus.HeaderID: "x", bus.HeaderAttempt: "5", bus.HeaderFirstFailure: "t", bus.HeaderLastError: "e",
		bus.HeaderDLQReason: "max-attempts", bus.HeaderDLQOrigin: "o", bus.HeaderReplayCount: "4",
	}}
	got := bus.ReplayMessage(m, now).Headers
	want := map[string]string{bus.HeaderID: "x", bus.HeaderReplayCount: "5", bus.HeaderReplayedAt: "2025-01-02T03:04:05Z"}
	if len(got) != len(want) {
		t.Errorf("ReplayMessage headers = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ReplayMessage: %s = %q, want %q", k, got[k], v)
		}
	}
	if m.Headers[bus.HeaderAttempt] != "5" {
		t.Error("ReplayMessage changed the original's headers")
	}
}
