package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// outageOptions are test options with a short PublishTimeout, so that a message
// published while the server is down fails its attempts (the acknowledgement
// does not come in time) instead of waiting in nats.go's reconnect buffer:
// Publish must publish it again until the server is back.
func outageOptions() Options {
	o := testOptions("")
	o.PublishTimeout = 100 * time.Millisecond
	return o
}

// receiveOnce receives len(want) messages from c, checks that each of want
// comes exactly once, acknowledges them and checks that nothing else comes.
func receiveOnce(t *testing.T, c bus.Consumer, want []bus.Message) {
	t.Helper()
	got := map[string]int{}
	for range want {
		d := receive(t, c, 10*time.Second)
		got[d.Message().ID]++
		settle(t, "ack", d.Ack)
	}
	receiveNone(t, c, 300*time.Millisecond, "every message was received once")
	for _, m := range want {
		if got[m.ID] != 1 {
			t.Errorf("message %s received %d times; want once", m.ID, got[m.ID])
		}
	}
}

// A Publish made while the server is down waits for it and succeeds once it
// is back; the message is stored once, however many times it was published.
func TestPublishWaitsForTheServer(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		n    int // messages in the call
	}{
		{"attempts fail/one", outageOptions(), 1},
		{"attempts fail/batch", outageOptions(), 5},
		{"attempts wait/one", testOptions(""), 1},
		{"attempts wait/batch", testOptions(""), 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newEmbedded(t, t.TempDir(), tc.opts)
			c := subscribe(t, tr, bus.Subscription{Name: "outage", Prefetch: 16})
			msgs := make([]bus.Message, tc.n)
			for i := range msgs {
				msgs[i] = testMessage(t, i)
			}
			const downtime = 2 * time.Second
			restartEmbedded(t, tr, downtime) // the server is down when it returns
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			began := time.Now()
			if err := tr.Publish(ctx, msgs...); err != nil {
				t.Fatalf("Publish(%d messages) during a %s outage = %v; want nil once the server is back", tc.n, downtime, err)
			}
			d := time.Since(began)
			t.Logf("Publish(%d messages) returned after %s", tc.n, d)
			if d < downtime/2 {
				t.Errorf("Publish returned after %s; want it to wait for the server (down for %s)", d, downtime)
			}
			// Nothing is acknowledged yet: the stream holds exactly what was stored.
			if n := storedEvents(t, tr); n != uint64(tc.n) {
				t.Errorf("the stream holds %d messages after Publish; want %d (each once)", n, tc.n)
			}
			receiveOnce(t, c, msgs)
		})
	}
}

// A Publish whose ctx ends during an outage returns when ctx ends, with an
// error that wraps ctx's error and the last publish error.
func TestPublishDeadlineDuringOutage(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), outageOptions())
	subscribe(t, tr, bus.Subscription{Name: "deadline"})
	restartEmbedded(t, tr, 3*time.Second)
	const timeout = 600 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m := testMessage(t, 1)
	began := time.Now()
	err := tr.Publish(ctx, m)
	d := time.Since(began)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish with a %s deadline during a 3s outage = %v; want an error wrapping context.DeadlineExceeded", timeout, err)
	}
	if !errors.Is(err, natsjs.ErrAsyncPublishTimeout) || !strings.Contains(err.Error(), m.ID) {
		t.Errorf("Publish = %v; want it to name message %s and wrap the last publish error (%v)", err, m.ID, natsjs.ErrAsyncPublishTimeout)
	}
	if d < timeout-50*time.Millisecond || d > timeout+time.Second {
		t.Errorf("Publish returned after %s; want about its deadline, %s", d, timeout)
	}
}

// A Publish during an outage longer than the duplicate window gives up once a
// copy published again could no longer be recognised, with an error that says
// so, instead of risking a second stored copy.
func TestPublishGivesUpAtTheDuplicateWindow(t *testing.T) {
	o := outageOptions()
	o.DuplicateWindow = time.Second
	tr := newEmbedded(t, t.TempDir(), o)
	subscribe(t, tr, bus.Subscription{Name: "window"})
	restartEmbedded(t, tr, 4*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	err := tr.Publish(ctx, testMessage(t, 1))
	d := time.Since(began)
	if err == nil || !strings.Contains(err.Error(), "duplicate window") || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish during a 4s outage with a 1s duplicate window = %v; want it to give up at the window", err)
	}
	if d > 3*time.Second {
		t.Errorf("Publish gave up after %s; want about the 1s window", d)
	}
}

// Close during an outage ends a waiting Publish with bus.ErrClosed.
func TestCloseEndsPublishDuringOutage(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), outageOptions())
	subscribe(t, tr, bus.Subscription{Name: "closing"})
	restartEmbedded(t, tr, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- tr.Publish(ctx, testMessage(t, 1), testMessage(t, 2)) }()
	select {
	case err := <-errc:
		t.Fatalf("Publish during the outage = %v before Close; want it to wait", err)
	case <-time.After(500 * time.Millisecond):
	}
	tr.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, bus.ErrClosed) {
			t.Errorf("Publish ended by Close = %v; want bus.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Publish still waiting 5s after Close")
	}
}

// Errors that publishing again cannot cure end Publish at once, with the
// stream's error, during a retry too.
func TestPublishPermanentErrorFailsAtOnce(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		tr := newEmbedded(t, t.TempDir(), outageOptions())
		subscribe(t, tr, bus.Subscription{Name: "refused"})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		m := rejected(t, 1)
		began := time.Now()
		err := tr.Publish(ctx, m)
		var apiErr *natsjs.APIError
		if !errors.As(err, &apiErr) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Publish(message expecting another stream) = %v; want the stream's error", err)
		}
		if d := time.Since(began); d > 2*time.Second {
			t.Errorf("Publish returned after %s; want at once", d)
		}
	})
	// Also with a PublishTimeout shorter than the publisher's wait before it
	// publishes again after no responders: that wait is not part of the timeout.
	for _, timeout := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("no stream, publish timeout %s", timeout), func(t *testing.T) {
			o := testOptions("")
			o.PublishTimeout = timeout
			tr := newEmbedded(t, t.TempDir(), o)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := tr.js.DeleteStream(ctx, tr.names.events); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			err := tr.Publish(ctx, testMessage(t, 1))
			if !errors.Is(err, natsjs.ErrNoStreamResponse) || errors.Is(err, context.DeadlineExceeded) ||
				!strings.Contains(err.Error(), "does not exist") {
				t.Errorf("Publish with the events stream deleted = %v; want %v saying the stream does not exist", err, natsjs.ErrNoStreamResponse)
			}
			if d := time.Since(began); d > 3*time.Second {
				t.Errorf("Publish returned after %s; want at once (after the publisher's own retries)", d)
			}
		})
	}
}

// A message whose acknowledgement was lost with the connection is published
// again on the new connection, and the server's duplicate window keeps it from
// being stored twice. The acknowledgement is held back by a latency toxic, and
// the connection cut while the transport waits for it: the transport fails the
// message with nats.ErrDisconnected, after the server has stored it.
func TestPublishAgainAfterLostAck(t *testing.T) {
	url := externalURL(t)
	p := newProxy(t, upstreamOf(t, url))
	prefix := uniquePrefix("lostack")
	t.Cleanup(func() { deleteStreams(t, url, prefix) })
	tr, err := connect(t, p.url(), testOptions(prefix))
	if err != nil {
		t.Fatal(err)
	}
	c := subscribe(t, tr, bus.Subscription{Name: "lostack"})
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(
		`{"name":"slow-acks","type":"latency","stream":"downstream","attributes":{"latency":3000}}`)); err != nil {
		t.Fatal(err)
	}
	m := testMessage(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- tr.Publish(ctx, m) }()
	waitFor(t, "the message waiting for its acknowledgement", func() bool { return tr.pub.inFlight() == 1 })
	// A connection around the proxy sees the server store the message, while
	// its acknowledgement is still held back.
	direct, err := connect(t, url, testOptions(prefix))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to store the message", func() bool { return storedEvents(t, direct) == 1 })
	p.p.Stop() // the connection drops; the ack is lost
	if err := p.p.Toxics.RemoveToxic(context.Background(), "slow-acks"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the disconnection", func() bool { return !tr.Connected() })
	if err := p.p.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Publish whose ack was lost with the connection = %v; want nil (published again)", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Publish still waiting 15s after the connection came back")
	}
	// Nothing is acknowledged yet: the stream holds exactly what was stored
	// (a late second copy would escape receiveOnce's short look).
	if n := storedEvents(t, tr); n != 1 {
		t.Errorf("the stream holds %d messages after Publish; want 1 (the copy published again absorbed)", n)
	}
	receiveOnce(t, c, []bus.Message{m})
}
