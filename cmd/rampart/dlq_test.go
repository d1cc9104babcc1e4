package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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

// dlqTransport is what the end-to-end test of rampart dlq needs of a transport.
type dlqTransport interface {
	bus.Transport
	DeadLetterQueue(ctx context.Context, subscription string) (bus.DeadLetterQueueInfo, error)
	DeadLetters(ctx context.Context, subscription string, max int) ([]bus.Message, error)
}

// dlqScenario is the transport-specific part of the end-to-end test of rampart dlq
// (see testDLQ).
type dlqScenario struct {
	service testenv.Service
	prefix  string   // fmt format of the prefix, given a random uint32
	flags   []string // the flags of rampart dlq before --url, naming the transport
	// connect connects to url with prefix and arranges for cleaning up.
	connect func(t *testing.T, ctx context.Context, url, prefix, sub string) dlqTransport
	// list and show are what rampart dlq list and show print, besides what every
	// transport prints.
	list, show func(prefix string) string
	// checkRefusals also checks list --reason, and that replay without a selection
	// and purge without --yes are refused.
	checkRefusals bool
	// missing is the error of listing a subscription without a dead-letter queue.
	missing func(prefix string) string
	// badURL checks the errors of rampart dlq given a wrong URL.
	badURL func(t *testing.T, ctx context.Context, prefix, sub string)
}

func TestDLQRabbitMQ(t *testing.T) {
	testDLQ(t, dlqScenario{
		service: testenv.AMQP,
		prefix:  "rt-dlq-%08x",
		connect: func(t *testing.T, ctx context.Context, url, prefix, sub string) dlqTransport {
			tr, err := rabbitmq.New(ctx, url, rabbitmq.Options{Name: "rampart-test", Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cleanupRabbit(t, url, tr, sub) })
			return tr
		},
		list: func(prefix string) string {
			return "3 of 3 dead letters in " + prefix + ".welcome.dlq: 3 permanent-error"
		},
		show:          func(string) string { return "routing-key=tests.signed-up.v1" },
		checkRefusals: true,
		missing: func(prefix string) string {
			return fmt.Sprintf(`no dead-letter queue for subscription "nosuch" (looked for queue "%s.nosuch.dlq")`, prefix)
		},
		badURL: func(t *testing.T, ctx context.Context, _, sub string) {
			_, _, err := executeIn(ctx, "", "dlq", "--url", "amqp://guest:guest@127.0.0.1:1/", "list", sub)
			if !errors.Is(err, rabbitmq.ErrUnreachable) || !strings.Contains(err.Error(), "rabbitmq: connecting to amqp://guest:xxxxx@127.0.0.1:1/: broker unreachable") {
				t.Errorf("wrong URL = %v, want rabbitmq's DialError", err)
			}
			if _, _, err := executeIn(ctx, "", "dlq", "--url", "http://x", "list", sub); !errors.Is(err, rabbitmq.ErrInvalidURL) {
				t.Errorf("invalid URL = %v, want ErrInvalidURL", err)
			}
		},
	})
}

// testDLQ runs rampart dlq on the transport of sc end to end: list, show, export,
// replay (dry run, one, all: handled again as attempt 1, and gone from the
// dead-letter queue), import, purge, and the errors of a missing subscription and
// a wrong URL.
func testDLQ(t *testing.T, sc dlqScenario) {
	url := testenv.URL(t, sc.service)
	ctx, cancel := context.WithTimeout(t.Context(), 35*time.Second)
	defer cancel()
	prefix := fmt.Sprintf(sc.prefix, rand.Uint32())
	const sub = "welcome"
	tr := sc.connect(t, ctx, url, prefix, sub)
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

	flags := append(append([]string{"dlq"}, sc.flags...), "--url", url, "--prefix", prefix)
	dlq := func(stdin string, args ...string) (string, string, error) {
		t.Helper()
		return executeIn(ctx, stdin, append(slices.Clone(flags), args...)...)
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
	for _, want := range []string{"ID", "FAILED AT", dls[0].ID, "tests.signed-up.v1", "mailbox a@x is rejected", sc.list(prefix)} {
		if !strings.Contains(out, want) {
			t.Errorf("rampart dlq list: output lacks %q:\n%s", want, out)
		}
	}
	if sc.checkRefusals {
		if out := mustDLQ("list", sub, "--reason", "max-attempts"); !strings.Contains(out, "0 of 3") {
			t.Errorf("list --reason max-attempts:\n%s, want 0 of 3", out)
		}
	}

	out = mustDLQ("show", sub, dls[0].ID)
	t.Logf("show:\n%s", out)
	for _, want := range []string{"Envelope", "Failure", "permanent-error", sc.show(prefix), "Body (", `"email": "a@x"`} {
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
	if sc.checkRefusals {
		if _, _, err := dlq("", "replay", sub); err == nil || !strings.Contains(err.Error(), "say which messages") {
			t.Errorf("replay without selection = %v, want an error asking which", err)
		}
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

	if sc.checkRefusals {
		if _, _, err := dlq("", "purge", sub); err == nil || !strings.Contains(err.Error(), "--yes") {
			t.Errorf("purge without --yes on a non-terminal = %v, want a refusal", err)
		}
	}
	if out := mustDLQ("purge", sub, "--yes"); !strings.Contains(out, "purged 3") || dlqLen() != 0 {
		t.Errorf("purge --yes: %s; %d left", out, dlqLen())
	}

	_, _, err = dlq("", "list", "nosuch")
	if want := sc.missing(prefix); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("list of a missing subscription = %v, want %q", err, want)
	}
	sc.badURL(t, ctx, prefix, sub)
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
