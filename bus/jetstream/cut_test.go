package jetstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// TestRestartServerUnderLoad cuts the connection twice with RestartServer
// while publishers and consumers run flat out, and checks that publishing and
// consuming resume and that every confirmed message is handled exactly once.
func TestRestartServerUnderLoad(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	runUnderCuts(t, tr, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		began := time.Now()
		if err := tr.RestartServer(ctx, 300*time.Millisecond); err != nil {
			t.Fatalf("RestartServer() = %v", err)
		}
		if d := time.Since(began); d < 300*time.Millisecond {
			t.Errorf("RestartServer returned after %s; want at least the 300ms downtime", d)
		}
	})
	waitFor(t, "Connected() after the restarts", tr.Connected)
}

// TestRestartServerKeepsMessages publishes, restarts the server with no
// consumer running, publishes again at once, and receives what was published
// before and after.
func TestRestartServerKeepsMessages(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	subscribe(t, tr, bus.Subscription{Name: "cut"}).Close() // declares the durable consumer
	before, after := testMessage(t, 1), testMessage(t, 2)
	publish(t, tr, before)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := tr.RestartServer(ctx, 0); err != nil {
		t.Fatalf("RestartServer() = %v", err)
	}
	// No waiting for Connected(): it may still report the old connection, and
	// Publish waits for the new one by itself.
	publish(t, tr, after)
	c := subscribe(t, tr, bus.Subscription{Name: "cut"})
	got := map[string]int{}
	for range 2 {
		d := receive(t, c, 10*time.Second)
		got[d.Message().ID]++
		settle(t, "ack", d.Ack)
	}
	receiveNone(t, c, 300*time.Millisecond, "both messages were acknowledged")
	for _, m := range []bus.Message{before, after} {
		if got[m.ID] != 1 {
			t.Errorf("message %s received %d times; want once", m.ID, got[m.ID])
		}
	}
}

func TestRestartServerAfterClose(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	tr.Close()
	if err := tr.RestartServer(context.Background(), 0); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("RestartServer() after Close = %v; want bus.ErrClosed", err)
	}
	if err := tr.RestartServer(context.Background(), -time.Second); err == nil {
		t.Error("RestartServer(-1s) = nil; want an error")
	}
}
