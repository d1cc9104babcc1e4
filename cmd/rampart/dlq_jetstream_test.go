package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/jetstream"
	"github.com/rampart-go/rampart/internal/testenv"
)

// rampart dlq on JetStream: list, show, export, replay (dry run, one, all:
// handled again as attempt 1, and gone from the dead-letter stream), import,
// purge, and the errors of a missing subscription and a wrong URL.
func TestDLQJetStream(t *testing.T) {
	url := testenv.URL(t, testenv.NATS)
	ctx, cancel := context.WithTimeout(t.Context(), 35*time.Second)
	defer cancel()
	prefix := fmt.Sprintf("rt_dlq_%08x", rand.Uint32())
	const sub = "welcome"
	tr, err := jetstream.Connect(ctx, url, jetstream.Options{Name: "rampart-test", Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close(); deleteJetStreamStreams(t, url, prefix) })
	reg := bus.NewRegistry()
	if err := bus.Register[signup](reg, "tests.signed-up.v1"); err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(tr, bus.Options{Source: "/tests", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	var failing atomic.Bool
	failing.Store(true)
	var mu sync.Mutex
	handled := map[string]int{} // email -> attempt of the successful handling
	err = bus.Handle(b, sub, func(ctx context.Context, e signup, m bus.Meta) error {
		if failing.Load() {
			return bus.Permanent(errors.New("mailbox " + e.Email + " is\nrejected"))
		}
		mu.Lock()
		handled[e.Email] = m.Attempt
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	for _, email := range []string{"a@x", "b@x", "c@x"} {
		if err := b.Publish(ctx, signup{Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	dlqLen := func() int {
		info, err := tr.DeadLetterQueue(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		return info.Messages
	}
	waitFor(t, "3 dead letters", func() bool { return dlqLen() == 3 })
	dls, err := tr.DeadLetters(ctx, sub, 0)
	if err != nil || len(dls) != 3 {
		t.Fatalf("DeadLetters = %d, %v", len(dls), err)
	}

	dlq := func(stdin string, args ...string) (string, string, error) {
		t.Helper()
		return executeIn(ctx, stdin, append([]string{"dlq", "--transport", "jetstream", "--url", url, "--prefix", prefix}, args...)...)
	}
	mustDLQ := func(args ...string) string {
		t.Helper()
		out, _, err := dlq("", args...)
		if err != nil {
			t.Fatalf("rampart dlq %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	out := mustDLQ("list", sub)
	t.Logf("list:\n%s", out)
	for _, want := range []string{"ID", "FAILED AT", dls[0].ID, "tests.signed-up.v1", "mailbox a@x is rejected",
		"3 of 3 dead letters in " + prefix + "_DLQ subject " + prefix + ".dlq.welcome: 3 permanent-error"} {
		if !strings.Contains(out, want) {
			t.Errorf("rampart dlq list: output lacks %q:\n%s", want, out)
		}
	}
	out = mustDLQ("show", sub, dls[0].ID)
	for _, want := range []string{"Envelope", "Failure", "permanent-error", "stream=" + prefix + "_EVENTS", "Body (", `"email": "a@x"`} {
		if !strings.Contains(out, want) {
			t.Errorf("rampart dlq show: output lacks %q:\n%s", want, out)
		}
	}
	export := mustDLQ("export", sub)
	if n := strings.Count(export, "\n"); n != 3 || !strings.Contains(export, `"body":{"email":"a@x"}`) {
		t.Errorf("export = %d lines, want 3 with the JSON body:\n%s", n, export)
	}
	out = mustDLQ("replay", sub, "--all", "--dry-run")
	if !strings.Contains(out, "would replay 3") || dlqLen() != 3 {
		t.Errorf("replay --dry-run: %d dead letters left; output:\n%s", dlqLen(), out)
	}

	failing.Store(false)
	out = mustDLQ("replay", sub, dls[0].ID)
	if !strings.Contains(out, "replayed 1 dead letters") {
		t.Errorf("replay ID: %s", out)
	}
	waitFor(t, "a@x handled", func() bool { mu.Lock(); defer mu.Unlock(); return handled["a@x"] != 0 })
	if n := dlqLen(); n != 2 {
		t.Errorf("after replaying one: %d dead letters, want 2", n)
	}
	mustDLQ("replay", sub, "--all")
	waitFor(t, "all handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(handled) == 3 })
	mu.Lock()
	for email, attempt := range handled {
		if attempt != 1 {
			t.Errorf("replayed %s handled as attempt %d, want 1", email, attempt)
		}
	}
	mu.Unlock()
	if n := dlqLen(); n != 0 {
		t.Errorf("after replay --all: %d dead letters, want 0", n)
	}

	out, _, err = dlq(export, "import", sub)
	if err != nil || !strings.Contains(out, "imported 3") {
		t.Fatalf("import = %v:\n%s", err, out)
	}
	back, _ := tr.DeadLetters(ctx, sub, 0)
	if len(back) != 3 || back[0].ID != dls[0].ID || !bytes.Equal(back[0].Body, dls[0].Body) || back[0].Headers[bus.HeaderDLQReason] != "permanent-error" {
		t.Errorf("after import: %d dead letters; want the 3 exported, headers and body kept", len(back))
	}
	if out := mustDLQ("purge", sub, "--yes"); !strings.Contains(out, "purged 3") || dlqLen() != 0 {
		t.Errorf("purge --yes: %s; %d left", out, dlqLen())
	}

	_, _, err = dlq("", "list", "nosuch")
	if want := fmt.Sprintf(`no dead-letter queue for subscription "nosuch" (looked for stream "%s_DLQ", subject "%s.dlq.nosuch"`, prefix, prefix); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("list of a missing subscription = %v, want %q", err, want)
	}
	_, _, err = executeIn(ctx, "", "dlq", "--transport", "jetstream", "--url", "nats://127.0.0.1:1", "--prefix", prefix, "list", sub)
	if err == nil || !strings.Contains(err.Error(), "jetstream: connect to nats://127.0.0.1:1") {
		t.Errorf("wrong URL = %v, want a connection error naming it", err)
	}
}

// deleteJetStreamStreams deletes the streams of prefix on the server at url.
func deleteJetStreamStreams(t *testing.T, url, prefix string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []string{"_EVENTS", "_DLQ", "_REDELIVERY"} {
		if err := js.DeleteStream(ctx, prefix+s); err != nil && !errors.Is(err, natsjs.ErrStreamNotFound) {
			t.Errorf("cleanup: deleting stream %s: %v", prefix+s, err)
		}
	}
}
