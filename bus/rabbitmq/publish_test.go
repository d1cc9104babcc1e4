package rabbitmq_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
)

func TestUnroutable(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.bound.v1", rand.Uint32())
	subscribe(t, tr, bus.Subscription{Name: "bound", EventTypes: []string{typ}, RedeliveryDelays: []time.Duration{time.Second}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	nobody := rawMessage(t, "rt.nobody.v1", nil)
	err := tr.Publish(ctx, nobody)
	if !errors.Is(err, bus.ErrUnroutable) {
		t.Fatalf("Publish(a type no queue is bound to) = %v, want bus.ErrUnroutable", err)
	}
	if want := `routing key "rt.nobody.v1"`; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "NO_ROUTE") {
		t.Errorf("error = %q, want it to name the %s and the broker's NO_ROUTE", err, want)
	}
	// Many at once, routable and not, on the same channels: each publisher gets
	// its own answer.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := 0
	for i := range 200 {
		wg.Go(func() {
			routable := i%3 != 0
			m := rawMessage(t, typ, nil)
			if !routable {
				m = rawMessage(t, "rt.nobody.v1", nil)
			}
			err := tr.Publish(ctx, m)
			if routable != (err == nil) || (!routable && !errors.Is(err, bus.ErrUnroutable)) {
				mu.Lock()
				wrong++
				mu.Unlock()
				t.Errorf("Publish(routable=%t) = %v", routable, err)
			}
		})
	}
	wg.Wait()
	// Several messages in one call: the routable one is confirmed, the error
	// names the other.
	err = tr.Publish(ctx, rawMessage(t, typ, nil), nobody)
	if !errors.Is(err, bus.ErrUnroutable) {
		t.Errorf("Publish(routable, unroutable) = %v, want bus.ErrUnroutable", err)
	}
	if err := tr.Publish(ctx, rawMessage(t, typ, nil), rawMessage(t, typ, nil)); err != nil {
		t.Errorf("Publish(routable, routable) = %v, want nil", err)
	}
}

func TestPublishAfterClose(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	for i := range 2 {
		if err := tr.Close(); err != nil {
			t.Errorf("Close #%d = %v", i+1, err)
		}
	}
	if err := tr.Publish(context.Background(), rawMessage(t, "rt.x.v1", nil)); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close = %v, want bus.ErrClosed", err)
	}
	if _, err := tr.Subscribe(context.Background(), bus.Subscription{Name: "x"}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want bus.ErrClosed", err)
	}
	if _, err := tr.DeadLetters(context.Background(), "x", 0); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("DeadLetters after Close = %v, want bus.ErrClosed", err)
	}
}

// TestBlocked raises a memory alarm on the broker (which blocks every publishing
// connection for a moment), and checks that a publisher waits up to its deadline
// and then fails saying why, and that publishing resumes after the alarm.
func TestBlocked(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	subscribe(t, tr, bus.Subscription{Name: "blocked", EventTypes: []string{typ}, RedeliveryDelays: []time.Duration{time.Second}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Publish(ctx, rawMessage(t, typ, nil)); err != nil {
		t.Fatal(err)
	}

	watermark := "0.4"
	for _, l := range strings.Split(rabbitmqctl(t, "environment"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "{vm_memory_high_watermark,"); ok {
			watermark = strings.TrimSuffix(strings.TrimSuffix(v, ","), "}")
		}
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if out, err := exec.Command("rabbitmqctl", "set_vm_memory_high_watermark", watermark).CombinedOutput(); err != nil {
				t.Errorf("restoring the memory watermark to %s: %v: %s", watermark, err, out)
			}
		}
	}
	t.Cleanup(restore)
	rabbitmqctl(t, "set_vm_memory_high_watermark", "0") // a memory alarm: every publisher is blocked

	// The broker blocks a connection when it next publishes: publish until one
	// waits for its deadline.
	var err error
	eventually(t, 10*time.Second, "a publish to fail with ErrBlocked", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err = tr.Publish(ctx, rawMessage(t, typ, nil))
		return errors.Is(err, rabbitmq.ErrBlocked)
	})
	var be *rabbitmq.BlockedError
	if !errors.As(err, &be) || !errors.Is(err, context.DeadlineExceeded) || be.Reason == "" {
		t.Errorf("Publish while blocked = %v, want a *BlockedError with the reason, matching context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "blocked publishing (low on memory)") {
		t.Errorf("error = %q, want it to say the broker blocked publishing and why", err)
	}
	t.Logf("while blocked: %v", err)

	// A publisher waiting when the alarm clears goes through.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- tr.Publish(ctx, rawMessage(t, typ, nil))
	}()
	restore()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Publish waiting through the end of the alarm = %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Publish did not return within 15s after the alarm cleared")
	}
}
