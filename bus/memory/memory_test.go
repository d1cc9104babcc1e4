package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
)

var ctx = context.Background()

func msg(typ string, n int) bus.Message {
	return bus.Message{ID: fmt.Sprint(n), Type: typ, Headers: map[string]string{"n": fmt.Sprint(n)}}
}

func subscribe(t *testing.T, tr *memory.Transport, name string, prefetch int, types ...string) bus.Consumer {
	t.Helper()
	c, err := tr.Subscribe(ctx, bus.Subscription{Name: name, EventTypes: types, Prefetch: prefetch})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// receive receives one delivery that must be there already.
func receive(t *testing.T, c bus.Consumer) bus.Delivery {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	d, err := c.Receive(rctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return d
}

// none checks that c has nothing to receive now.
func none(t *testing.T, c bus.Consumer) {
	t.Helper()
	rctx, cancel := context.WithCancel(ctx)
	cancel()
	if d, err := c.Receive(rctx); err == nil {
		t.Fatalf("Receive = message %s, want nothing", d.Message().Headers["n"])
	}
}

func n(d bus.Delivery) string { return d.Message().Headers["n"] }

func TestPublishRouting(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	if err := tr.Publish(ctx, msg("a", 1)); !errors.Is(err, bus.ErrUnroutable) {
		t.Errorf("Publish with no binding = %v, want ErrUnroutable", err)
	}
	c1 := subscribe(t, tr, "one", 10, "a")
	c2 := subscribe(t, tr, "two", 10, "a", "b")
	if err := tr.Publish(ctx, msg("a", 1), msg("b", 2)); err != nil {
		t.Fatal(err)
	}
	if got := n(receive(t, c1)); got != "1" {
		t.Errorf("one got %s, want 1", got)
	}
	none(t, c1)
	if got := n(receive(t, c2)) + n(receive(t, c2)); got != "12" {
		t.Errorf("two got %s, want 1 then 2", got)
	}
	// A batch with an unroutable message publishes nothing.
	if err := tr.Publish(ctx, msg("a", 3), msg("c", 4)); !errors.Is(err, bus.ErrUnroutable) {
		t.Errorf("Publish(batch with unroutable) = %v, want ErrUnroutable", err)
	}
	none(t, c1)
	// Bindings stay with the queue after its consumers close, and messages wait.
	c1.Close()
	if err := tr.Publish(ctx, msg("a", 5)); err != nil {
		t.Fatal(err)
	}
	if s := tr.Stats("one"); s.Ready != 1 || s.Consumers != 0 || s.Unacked != 1 {
		t.Errorf("Stats(one) = %+v, want 1 ready, 1 unacked (received, not settled), no consumer", s)
	}
}

func TestPrefetchAndCompetingConsumers(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	c1 := subscribe(t, tr, "q", 2, "a")
	c2 := subscribe(t, tr, "q", 1, "a")
	for i := 1; i <= 5; i++ {
		if err := tr.Publish(ctx, msg("a", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Round robin while each has credit: c1 1, c2 2, c1 3; then 4 and 5 wait.
	d1, d3 := receive(t, c1), receive(t, c1)
	d2 := receive(t, c2)
	if got := n(d1) + n(d2) + n(d3); got != "123" {
		t.Errorf("deliveries = %s, want 1, 2, 3", got)
	}
	none(t, c1)
	none(t, c2)
	if s := tr.Stats("q"); s.Ready != 2 || s.Unacked != 3 {
		t.Errorf("Stats = %+v, want 2 ready, 3 unacked", s)
	}
	if err := d2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if got := n(receive(t, c2)); got != "4" {
		t.Errorf("after an ack c2 got %s, want 4", got)
	}
	if err := d2.Ack(ctx); !errors.Is(err, bus.ErrAlreadySettled) {
		t.Errorf("second Ack = %v, want ErrAlreadySettled", err)
	}
}

func TestRequeueAndConsumerCloseKeepOrder(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	c := subscribe(t, tr, "q", 3, "a")
	for i := 1; i <= 4; i++ {
		if err := tr.Publish(ctx, msg("a", i)); err != nil {
			t.Fatal(err)
		}
	}
	d1 := receive(t, c) // 2 and 3 are sent ahead, 4 is ready
	if d1.Redelivered() {
		t.Errorf("first delivery Redelivered = true")
	}
	if err := c.Close(); err != nil { // 2 and 3 go back to the head
		t.Fatal(err)
	}
	if err := d1.Requeue(ctx); err != nil { // received deliveries stay valid
		t.Fatal(err)
	}
	if _, err := c.Receive(ctx); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Receive after Close = %v, want ErrClosed", err)
	}
	c2 := subscribe(t, tr, "q", 10, "a")
	var got []string
	for range 4 {
		d := receive(t, c2)
		got = append(got, fmt.Sprintf("%s:%v", n(d), d.Redelivered()))
	}
	if want := "[1:true 2:false 3:false 4:false]"; fmt.Sprint(got) != want {
		t.Errorf("after hand-back = %v, want %s", got, want)
	}
}

func TestRedeliverAfterDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := memory.New()
		defer tr.Close()
		c := subscribe(t, tr, "q", 1, "a")
		if err := tr.Publish(ctx, msg("a", 1)); err != nil {
			t.Fatal(err)
		}
		d := receive(t, c)
		err := d.Redeliver(ctx, bus.Redelivery{Delay: 10 * time.Second, Attempt: 2, Headers: map[string]string{"x": "y", "n": ""}})
		if err != nil {
			t.Fatal(err)
		}
		if s := tr.Stats("q"); s.Delayed != 1 || s.Unacked != 0 || s.Ready != 0 {
			t.Errorf("Stats while delayed = %+v, want 1 delayed", s)
		}
		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		none(t, c)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		d2 := receive(t, c)
		h := d2.Message().Headers
		if h["x"] != "y" || h[bus.HeaderAttempt] != "2" || h["n"] != "" || d2.Redelivered() {
			t.Errorf("redelivered headers = %v (redelivered flag %v), want x=y, attempt 2, n removed, not flagged", h, d2.Redelivered())
		}
		if err := d2.Redeliver(ctx, bus.Redelivery{Delay: time.Hour}); err != nil {
			t.Fatal(err)
		}
		// Close stops the pending timer: the bubble would not end otherwise.
	})
}

func TestDeadLetter(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	c := subscribe(t, tr, "q", 1, "a")
	if err := tr.Publish(ctx, msg("a", 1)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	dl := bus.DeadLetter{Reason: bus.ReasonPermanent, Error: "bad", Subscription: "q", Attempts: 1, FirstFailure: now, LastFailure: now}
	if err := receive(t, c).DeadLetter(ctx, dl); err != nil {
		t.Fatal(err)
	}
	dead, err := tr.DeadLetters(ctx, "q", 0)
	if err != nil || len(dead) != 1 {
		t.Fatalf("DeadLetters = %v, %v; want 1", dead, err)
	}
	h := dead[0].Headers
	if h[bus.HeaderDLQReason] != "permanent-error" || h[bus.HeaderDLQOrigin] != "memory queue=q type=a" || h["n"] != "1" {
		t.Errorf("dead letter headers = %v, want the reason, the origin and the original headers", h)
	}
	if s := tr.Stats("q"); s != (memory.Stats{DeadLetters: 1, Consumers: 1}) {
		t.Errorf("Stats = %+v, want only the dead letter", s)
	}
	if got, _ := tr.DeadLetters(ctx, "nope", 0); got != nil {
		t.Errorf("DeadLetters(unknown) = %v, want none", got)
	}
}

func TestClose(t *testing.T) {
	tr := memory.New()
	c := subscribe(t, tr, "q", 1, "a")
	if err := tr.Publish(ctx, msg("a", 1)); err != nil {
		t.Fatal(err)
	}
	d := receive(t, c)
	for range 2 {
		if err := tr.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}
	checks := []struct {
		name string
		err  error
	}{
		{"Publish", tr.Publish(ctx, msg("a", 2))},
		{"Ack", d.Ack(ctx)},
		{"DeadLetters", func() error { _, err := tr.DeadLetters(ctx, "q", 0); return err }()},
		{"Subscribe", func() error { _, err := tr.Subscribe(ctx, bus.Subscription{Name: "q"}); return err }()},
		{"Receive", func() error { _, err := c.Receive(ctx); return err }()},
	}
	for _, c := range checks {
		if !errors.Is(c.err, bus.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", c.name, c.err)
		}
	}
}
