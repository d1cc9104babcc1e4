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

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/internal/testenv"
)

type signup struct {
	Email string `json:"email"`
}

// executeIn runs the rampart command with args and stdin, and returns its
// stdout, stderr and error.
func executeIn(ctx context.Context, stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestDLQRabbitMQ(t *testing.T) {
	url := testenv.URL(t, testenv.AMQP)
	ctx, cancel := context.WithTimeout(t.Context(), 35*time.Second)
	defer cancel()
	prefix := fmt.Sprintf("rt-dlq-%08x", rand.Uint32())
	const sub = "welcome"
	tr, err := rabbitmq.New(ctx, url, rabbitmq.Options{Name: "rampart-test", Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupRabbit(t, url, tr, sub) })
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
		return executeIn(ctx, stdin, append([]string{"dlq", "--url", url, "--prefix", prefix}, args...)...)
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
	for _, want := range []string{"ID", "FAILED AT", dls[0].ID, "tests.signed-up.v1", "mailbox a@x is rejected", "3 of 3 dead letters in " + prefix + ".welcome.dlq: 3 permanent-error"} {
		if !strings.Contains(out, want) {
			t.Errorf("rampart dlq list: output lacks %q:\n%s", want, out)
		}
	}
	if out := mustDLQ("list", sub, "--reason", "max-attempts"); !strings.Contains(out, "0 of 3") {
		t.Errorf("list --reason max-attempts:\n%s, want 0 of 3", out)
	}

	out = mustDLQ("show", sub, dls[0].ID)
	t.Logf("show:\n%s", out)
	for _, want := range []string{"Envelope", "Failure", "permanent-error", "routing-key=tests.signed-up.v1", "Body (", `"email": "a@x"`} {
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
	if _, _, err := dlq("", "replay", sub); err == nil || !strings.Contains(err.Error(), "say which messages") {
		t.Errorf("replay without selection = %v, want an error asking which", err)
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

	if _, _, err := dlq("", "purge", sub); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("purge without --yes on a non-terminal = %v, want a refusal", err)
	}
	if out := mustDLQ("purge", sub, "--yes"); !strings.Contains(out, "purged 3") || dlqLen() != 0 {
		t.Errorf("purge --yes: %s; %d left", out, dlqLen())
	}

	_, _, err = dlq("", "list", "nosuch")
	if want := fmt.Sprintf(`no dead-letter queue for subscription "nosuch" (looked for queue "%s.nosuch.dlq")`, prefix); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("list of a missing queue = %v, want %q", err, want)
	}
	_, _, err = executeIn(ctx, "", "dlq", "--url", "amqp://guest:guest@127.0.0.1:1/", "list", sub)
	if !errors.Is(err, rabbitmq.ErrUnreachable) || !strings.Contains(err.Error(), "rabbitmq: connecting to amqp://guest:xxxxx@127.0.0.1:1/: broker unreachable") {
		t.Errorf("wrong URL = %v, want rabbitmq's DialError", err)
	}
	if _, _, err := executeIn(ctx, "", "dlq", "--url", "http://x", "list", sub); !errors.Is(err, rabbitmq.ErrInvalidURL) {
		t.Errorf("invalid URL = %v, want ErrInvalidURL", err)
	}
}

// waitFor polls cond until it holds, for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling the broker, which has no notification for this
	}
}

// cleanupRabbit closes tr and deletes the queues and exchange of sub.
func cleanupRabbit(t *testing.T, url string, tr *rabbitmq.Transport, sub string) {
	tr.Close()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	q := tr.Queues(sub)
	names := []string{q.Work, q.DeadLetter}
	for _, d := range []time.Duration{time.Second, 10 * time.Second, time.Minute} {
		names = append(names, tr.Queues(sub, d).Retry[d])
	}
	for _, n := range names {
		if ch, err := conn.Channel(); err == nil {
			ch.QueueDelete(n, false, false, false)
			ch.Close()
		}
	}
	if ch, err := conn.Channel(); err == nil {
		ch.ExchangeDelete(tr.Exchange(), false, false)
		ch.Close()
	}
}
