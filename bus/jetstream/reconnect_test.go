package jetstream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/idempotency"
)

// TestReconnectUnderLoad cuts the connection twice while publishers and
// consumers run flat out — by restarting the embedded server on its data
// directory, and through a toxiproxy in front of the local server — and checks
// that publishing and consuming resume and that every confirmed message is
// handled exactly once (a failed publish is retried with the same ID; the inbox
// absorbs redeliveries).
func TestReconnectUnderLoad(t *testing.T) {
	t.Run("server=embedded", func(t *testing.T) {
		tr := newEmbedded(t, t.TempDir(), testOptions(""))
		runUnderCuts(t, tr, func() { restartEmbedded(t, tr, 300*time.Millisecond) })
	})
	t.Run("server=external", func(t *testing.T) {
		url := externalURL(t)
		p := newProxy(t, upstreamOf(t, url))
		prefix := uniquePrefix("load")
		t.Cleanup(func() { deleteStreams(t, url, prefix) })
		tr, err := connect(t, p.url(), testOptions(prefix))
		if err != nil {
			t.Fatal(err)
		}
		runUnderCuts(t, tr, func() { p.cut(t, 300*time.Millisecond) })
	})
}

type loadEvent struct {
	N int `json:"n"`
}

func runUnderCuts(t *testing.T, tr *Transport, cut func()) {
	const n, publishers = 2000, 4
	reg := bus.NewRegistry()
	if err := bus.Register[loadEvent](reg, "test.load.v1"); err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(tr, bus.Options{Source: "/load", Registry: reg, Inbox: idempotency.NewMemory(idempotency.MemoryOptions{}),
		Subscriptions: map[string]bus.SubscriptionOptions{"load": {Workers: 4, Prefetch: 32, Timeout: 10 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	var mu sync.Mutex
	changed := make(chan struct{}, 1)
	handled := map[int]int{}
	confirmed := 0
	if err := bus.Handle(b, "load", func(ctx context.Context, e loadEvent, m bus.Meta) error {
		mu.Lock()
		handled[e.N]++
		mu.Unlock()
		signal(changed)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}

	ids := make([]string, n)
	for i := range ids {
		if ids[i], err = bus.NewID(); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			for i := p; i < n; i += publishers {
				deadline := time.Now().Add(20 * time.Second)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := b.Publish(ctx, loadEvent{N: i}, bus.WithID(ids[i]))
					cancel()
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						errs <- fmt.Errorf("message %d: still failing after 20s: %w", i, err)
						return
					}
					time.Sleep(10 * time.Millisecond) // waiting for the reconnection, with a deadline
				}
				mu.Lock()
				confirmed++
				mu.Unlock()
				signal(changed)
			}
			errs <- nil
		}()
	}
	await := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		timeout := time.After(within)
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			select {
			case <-changed:
			case <-timeout:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("timed out after %s waiting for %s: %d confirmed, %d handled", within, what, confirmed, len(handled))
			}
		}
	}
	await("a third published", 20*time.Second, func() bool { return confirmed >= n/3 })
	cut()
	await("two thirds published", 20*time.Second, func() bool { return confirmed >= 2*n/3 })
	cut()
	for range publishers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	await(fmt.Sprintf("all %d messages handled", n), 30*time.Second, func() bool { return len(handled) == n })
	mu.Lock()
	defer mu.Unlock()
	for i, c := range handled {
		if c != 1 {
			t.Errorf("message %d handled %d times, want once", i, c)
		}
	}
}
