package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// seal seals one of tr's streams: the server rejects every publish to it, and
// its messages stay readable.
func seal(t *testing.T, tr *Transport, stream string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := tr.js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	cfg := s.CachedInfo().Config
	cfg.Sealed = true
	if _, err := tr.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("sealing stream %s: %v", stream, err)
	}
}

// TestFailedSettlementHandsBack makes Redeliver fail to write its redelivery
// record, and DeadLetter fail to publish the dead letter (their streams
// sealed): the message comes back after handBackDelay, handed back with a
// delayed -NAK — not after AckWait (a minute here), and not at once (the
// attempt does not advance, so an immediate hand-back would run the handler in
// a tight loop while the stream refuses writes) — with the attempt it had.
func TestFailedSettlementHandsBack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream func(n names) string
		settle func(ctx context.Context, d bus.Delivery) error
	}{
		{"Redeliver", func(n names) string { return n.redelivery }, func(ctx context.Context, d bus.Delivery) error {
			return d.Redeliver(ctx, bus.Redelivery{Delay: time.Hour, Attempt: 2, Headers: map[string]string{
				bus.HeaderAttempt: "2", bus.HeaderLastError: "boom"}})
		}},
		{"DeadLetter", func(n names) string { return n.dlq }, func(ctx context.Context, d bus.Delivery) error {
			return d.DeadLetter(ctx, bus.DeadLetter{Reason: bus.ReasonMaxAttempts, Error: "boom", ErrorType: "*errors.errorString",
				Subscription: "handback", Attempts: 1, FirstFailure: time.Now(), LastFailure: time.Now()})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions("")
			opts.AckWait = time.Minute
			tr := newEmbedded(t, t.TempDir(), opts)
			c := subscribe(t, tr, bus.Subscription{Name: "handback", RedeliveryDelays: []time.Duration{time.Hour}})
			m := testMessage(t, 1)
			publish(t, tr, m)
			d := receive(t, c, 5*time.Second)
			seal(t, tr, tc.stream(tr.names))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			failed := time.Now()
			err := tc.settle(ctx, d)
			if err == nil {
				t.Fatalf("%s with stream %s sealed = nil, want an error", tc.name, tc.stream(tr.names))
			}
			if !strings.Contains(err.Error(), "handed back") {
				t.Errorf("%s error = %q, want it to say that the message was handed back", tc.name, err)
			}
			if err := d.Ack(ctx); !errors.Is(err, bus.ErrAlreadySettled) {
				t.Errorf("Ack after the failed %s = %v, want bus.ErrAlreadySettled", tc.name, err)
			}

			again := receive(t, c, 10*time.Second) // only the hand-back brings it back before AckWait
			if waited := time.Since(failed); waited < handBackDelay*9/10 {
				t.Errorf("delivered again %s after the failed %s, want the hand-back to wait about %s", waited, tc.name, handBackDelay)
			}
			got := again.Message()
			if got.ID != m.ID || got.Headers[bus.HeaderAttempt] != m.Headers[bus.HeaderAttempt] || got.Headers[bus.HeaderLastError] != "" || !again.Redelivered() {
				t.Errorf("delivery after the failed %s = %s, attempt %q, last error %q, redelivered %v; want %s, attempt %q as published, no last error, redelivered",
					tc.name, got.ID, got.Headers[bus.HeaderAttempt], got.Headers[bus.HeaderLastError], again.Redelivered(), m.ID, m.Headers[bus.HeaderAttempt])
			}
			settle(t, "Ack", again.Ack)
		})
	}
}

// TestAckRacingCloseIsSent holds an Ack between claiming its delivery and
// handing the ack to the ack pump until Close has stopped the pump: the Ack
// returns nil only if the ack reaches the server (it returns bus.ErrClosed
// otherwise). Before the fix, Ack could queue the ack after the pump's last
// look and return nil for an ack that was never sent. Which of its two ready
// cases Ack's select takes is random, so the race runs several times.
func TestAckRacingCloseIsSent(t *testing.T) {
	opts := testOptions("")
	opts.AckWait = time.Minute // an ack not sent leaves the message pending for the whole test
	srv, err := Embedded(context.Background(), EmbeddedOptions{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Options: opts})
	if err != nil {
		t.Fatalf("Embedded: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	t.Cleanup(func() { testHookAckClaimed.Store(nil); testHookAckPumpStopped.Store(nil) })

	const rounds = 20
	sent := 0
	for i := range rounds {
		claimed := make(chan struct{})  // Ack claimed the delivery
		stopped := make(chan struct{})  // Close stopped the ack pump
		returned := make(chan struct{}) // Ack returned
		onClaimed := func() {
			close(claimed)
			<-stopped
		}
		onStopped := func() {
			close(stopped)
			<-returned // Close, and the connection's closing, wait for Ack
		}
		testHookAckClaimed.Store(&onClaimed)
		testHookAckPumpStopped.Store(&onStopped)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		tr, err := Connect(ctx, srv.ClientURL(), opts)
		cancel()
		if err != nil {
			t.Fatalf("Connect(%s): %v", srv.ClientURL(), err)
		}
		name, typ := fmt.Sprintf("race%d", i), fmt.Sprintf("test.race-%d.v1", i)
		c := subscribe(t, tr, bus.Subscription{Name: name, EventTypes: []string{typ}})
		m := testMessage(t, i)
		m.Type = typ
		publish(t, tr, m)
		d := receive(t, c, 5*time.Second)

		acked := make(chan error, 1)
		go func() { acked <- d.Ack(context.Background()) }()
		<-claimed
		closed := make(chan struct{})
		go func() { tr.Close(); close(closed) }()
		var ackErr error
		select {
		case ackErr = <-acked:
		case <-time.After(10 * time.Second):
			t.Fatal("Ack racing Close did not return within 10s")
		}
		close(returned)
		<-closed
		testHookAckClaimed.Store(nil)
		testHookAckPumpStopped.Store(nil)

		switch {
		case errors.Is(ackErr, bus.ErrClosed):
			continue // not sent, and said so
		case ackErr != nil:
			t.Fatalf("round %d: Ack racing Close = %v, want nil or bus.ErrClosed", i, ackErr)
		}
		sent++
		waitFor(t, fmt.Sprintf("round %d: the server to record the ack that Ack reported (nil)", i), func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			cons, err := srv.js.Consumer(ctx, srv.names.events, name)
			if err != nil {
				t.Fatalf("consumer %s: %v", name, err)
			}
			info := cons.CachedInfo()
			return info.NumAckPending == 0 && info.NumPending == 0 && info.Delivered.Consumer == 1
		})
	}
	if sent == 0 {
		t.Fatalf("Ack returned bus.ErrClosed in all %d rounds: the race was never run to its end", rounds)
	}
}
