package rabbitmq_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/internal/testenv"
)

// subscribe subscribes tr to sub, failing the test on error; the consumer is
// closed when the test ends.
func subscribe(t *testing.T, tr *rabbitmq.Transport, sub bus.Subscription) bus.Consumer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tr.Subscribe(ctx, sub)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", sub.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// queueType returns the type of an existing queue that has no arguments but its
// type, from the broker's answer to declaring it with the wrong one.
func queueType(t *testing.T, name string) string {
	t.Helper()
	var typ string
	withChannel(t, func(ch *amqp.Channel) {
		// A queue with x-queue-type "stream" never exists here: the broker's 406
		// says what the type is.
		_, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{"x-queue-type": "stream"})
		var ce *rabbitmq.ConflictError
		if !errors.As(rabbitmq.DeclareErr("queue", name, err), &ce) || ce.Argument != "x-queue-type" {
			t.Fatalf("declaring %s as a stream: %v, want a conflict on x-queue-type", name, err)
		}
		typ = ce.Existing
	})
	return typ
}

func TestQueueTypesAndNames(t *testing.T) {
	for _, qt := range []rabbitmq.QueueType{"", rabbitmq.QueueQuorum, rabbitmq.QueueClassic} {
		t.Run(fmt.Sprintf("type=%q", qt), func(t *testing.T) {
			opts := testOptions(t)
			opts.QueueType = qt
			tr := newTransport(t, "", opts)
			delays := []time.Duration{50 * time.Millisecond, 2 * time.Second, time.Minute}
			subscribe(t, tr, bus.Subscription{Name: "emails", EventTypes: []string{"a.b.v1"}, Prefetch: 4, RedeliveryDelays: delays})
			want := string(qt)
			if want == "" {
				want = "quorum"
			}
			p := opts.Prefix
			names := []string{p + ".emails", p + ".emails.dlq", p + ".emails.retry.50ms", p + ".emails.retry.2s", p + ".emails.retry.1m"}
			if got := rabbitmq.DeclaredQueues(tr); fmt.Sprint(got) != fmt.Sprint(sortedCopy(names)) {
				t.Errorf("declared queues = %v, want %v", got, sortedCopy(names))
			}
			q := tr.Queues("emails", delays...)
			if q.Work != names[0] || q.DeadLetter != names[1] || q.Retry[50*time.Millisecond] != names[2] || q.Retry[time.Minute] != names[4] {
				t.Errorf("Queues = %+v, want the names %v", q, names)
			}
			for _, n := range names[:2] { // the retry queues' type: TestRetryQueueArguments
				if got := queueType(t, n); got != want {
					t.Errorf("type of queue %s = %s, want %s", n, got, want)
				}
			}
		})
	}
}

// TestRetryQueueArguments checks the retry queues' arguments on the broker.
func TestRetryQueueArguments(t *testing.T) {
	requireRabbitmqctl(t)
	types := []rabbitmq.QueueType{rabbitmq.QueueQuorum, rabbitmq.QueueClassic}
	queues := make([]rabbitmq.Queues, len(types))
	for i, qt := range types {
		opts := testOptions(t)
		opts.QueueType = qt
		tr := newTransport(t, "", opts)
		subscribe(t, tr, bus.Subscription{Name: "args", EventTypes: []string{"a.b.v1"}, RedeliveryDelays: []time.Duration{200 * time.Millisecond}})
		queues[i] = tr.Queues("args", 200*time.Millisecond)
	}
	out := rabbitmqctl(t, "list_queues", "name", "type", "arguments")
	for i, qt := range types {
		q := queues[i]
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, q.Retry[200*time.Millisecond]+"\t") {
				line = l
			}
		}
		want := []string{"\t" + string(qt) + "\t", `{"x-message-ttl",200}`, `{"x-dead-letter-exchange",[]}`, `{"x-dead-letter-routing-key","` + q.Work + `"}`}
		if qt == rabbitmq.QueueQuorum {
			want = append(want, `{"x-dead-letter-strategy","at-least-once"}`, `{"x-overflow","reject-publish"}`)
		}
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: rabbitmqctl list_queues: retry queue line = %q, want it to contain %s", qt, line, w)
			}
		}
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestConflictingArguments(t *testing.T) {
	t.Run("queue type", func(t *testing.T) {
		opts := testOptions(t)
		work := opts.Prefix + ".legacy"
		// A classic queue declared by hand, without arguments, as older code did.
		withChannel(t, func(ch *amqp.Channel) {
			if _, err := ch.QueueDeclare(work, true, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() { deleteTopology(t, []string{work}, "") })
		tr := newTransport(t, "", opts)
		_, err := tr.Subscribe(context.Background(), bus.Subscription{Name: "legacy", EventTypes: []string{"a.b.v1"}})
		var ce *rabbitmq.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, rabbitmq.ErrConflict) {
			t.Fatalf("Subscribe = %v, want a *ConflictError", err)
		}
		if ce.Kind != "queue" || ce.Name != work || ce.Argument != "x-queue-type" || ce.Existing != "classic" || ce.Wanted != "quorum" {
			t.Errorf("ConflictError = %+v, want queue %s, x-queue-type existing classic, wanted quorum", ce, work)
		}
		if want := "x-queue-type: existing classic, wanted quorum"; !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to say %q", err, want)
		}
	})
	t.Run("ordered", func(t *testing.T) {
		opts := testOptions(t)
		opts.QueueType = rabbitmq.QueueClassic
		tr := newTransport(t, "", opts)
		subscribe(t, tr, bus.Subscription{Name: "seq", EventTypes: []string{"a.b.v1"}})
		_, err := tr.Subscribe(context.Background(), bus.Subscription{Name: "seq", EventTypes: []string{"a.b.v1"}, Ordered: true})
		if want := "x-single-active-consumer: existing none, wanted true"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Subscribe(ordered) on an unordered queue = %v, want an error saying %q", err, want)
		}
	})
	t.Run("exchange type", func(t *testing.T) {
		opts := testOptions(t)
		withChannel(t, func(ch *amqp.Channel) {
			if err := ch.ExchangeDeclare(opts.Prefix+".events", "fanout", true, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() { deleteTopology(t, nil, opts.Prefix+".events") })
		_, err := rabbitmq.New(context.Background(), testenv.URL(t, testenv.AMQP), opts)
		if want := `exchange "` + opts.Prefix + `.events" exists with other arguments: type: existing fanout, wanted topic`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with a fanout exchange of the same name = %v, want an error saying %q", err, want)
		}
	})
}

// TestRedeclaresTopology deletes the work queue under a running consumer, and
// while the transport is disconnected, and checks that the consumer declares it
// again and goes on.
func TestRedeclaresTopology(t *testing.T) {
	cases := []struct {
		name         string
		disconnected bool
	}{
		// The broker cancels the consumer of a deleted queue.
		{"queue deleted", false},
		// The transport cannot hear of it: it finds out when it reconnects.
		{"queue deleted while disconnected", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy, url := newProxy(t)
			opts := testOptions(t)
			opts.DialTimeout = 2 * time.Second
			tr := newTransport(t, url, opts)
			typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
			sub := bus.Subscription{Name: "redeclare", EventTypes: []string{typ}, Prefetch: 4, RedeliveryDelays: []time.Duration{50 * time.Millisecond}}
			c := subscribe(t, tr, sub)
			q := tr.Queues(sub.Name)
			if tc.disconnected {
				addToxic(t, proxy, `{"name":"reset","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`)
				eventually(t, 10*time.Second, "the transport to notice the reset", func() bool {
					_, cons := rabbitmq.Down(tr)
					return cons
				})
			}
			withChannel(t, func(ch *amqp.Channel) {
				if _, err := ch.QueueDelete(q.Work, false, false, false); err != nil {
					t.Fatal(err)
				}
			})
			if tc.disconnected {
				removeToxic(t, proxy, "reset")
			}
			eventually(t, 10*time.Second, "the work queue "+q.Work+" declared again", func() bool {
				exists := false
				withChannel(t, func(ch *amqp.Channel) {
					_, err := ch.QueueDeclarePassive(q.Work, true, false, false, false, nil)
					exists = err == nil
				})
				return exists
			})
			// Bound again and consumed: a message published now arrives.
			m := rawMessage(t, typ, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			for {
				if err = tr.Publish(ctx, m); !errors.Is(err, bus.ErrUnroutable) || ctx.Err() != nil {
					break // unroutable until the binding is back, a moment after the queue
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("Publish after the queue came back: %v", err)
			}
			d, err := c.Receive(ctx)
			if err != nil {
				t.Fatalf("Receive after the queue came back: %v", err)
			}
			if d.Message().ID != m.ID {
				t.Errorf("received %s, want %s", d.Message().ID, m.ID)
			}
			if err := d.Ack(ctx); err != nil {
				t.Errorf("Ack: %v", err)
			}
		})
	}
}

// rawMessage returns a valid message of type typ.
func rawMessage(t *testing.T, typ string, set map[string]string) bus.Message {
	t.Helper()
	id, err := bus.NewID()
	if err != nil {
		t.Fatal(err)
	}
	m, err := bus.EncodeEnvelope(bus.Envelope{ID: id, Source: "/rabbitmq-test", Type: typ, Time: time.Now(),
		DataContentType: "application/json"}, []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return m.WithHeaders(set)
}
