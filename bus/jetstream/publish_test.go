package jetstream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// rejected returns a message of testType that the server refuses (it expects a
// stream that does not exist), so that one message of many fails.
func rejected(t testing.TB, n int) bus.Message {
	t.Helper()
	return testMessage(t, n).WithHeaders(map[string]string{"Nats-Expected-Stream": "no-such-stream"})
}

// forEachPublisher runs fn on a transport of an embedded server and on one
// connected to the local server (skipped if there is none): the publish pump
// waits for messages differently with each (see pumpYields).
func forEachPublisher(t *testing.T, opts Options, fn func(t *testing.T, tr *Transport)) {
	t.Run("embedded", func(t *testing.T) { fn(t, newEmbedded(t, t.TempDir(), opts)) })
	t.Run("external", func(t *testing.T) {
		url := externalURL(t)
		o := opts
		o.Prefix = uniquePrefix("pub")
		t.Cleanup(func() { deleteStreams(t, url, o.Prefix) })
		tr, err := connect(t, url, o)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, tr)
	})
}

// storedEvents returns how many messages the events stream of tr holds.
func storedEvents(t testing.TB, tr *Transport) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := tr.js.Stream(ctx, tr.names.events)
	if err != nil {
		t.Fatalf("Stream(%s): %v", tr.names.events, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("Info(%s): %v", tr.names.events, err)
	}
	return info.State.Msgs
}

// Concurrent callers share the publish pump, and each gets the outcome of its
// own message: the ones the server refuses fail, naming their message, and the
// others succeed and are stored.
func TestConcurrentPublishesGetTheirOwnOutcome(t *testing.T) {
	forEachPublisher(t, testOptions(""), func(t *testing.T, tr *Transport) {
		subscribe(t, tr, bus.Subscription{Name: "own"}) // the stream keeps what it binds
		const n = 300
		msgs := make([]bus.Message, n)
		bad := func(i int) bool { return i%10 == 3 }
		for i := range msgs {
			if bad(i) {
				msgs[i] = rejected(t, i)
			} else {
				msgs[i] = testMessage(t, i)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range msgs {
			wg.Go(func() { errs[i] = tr.Publish(ctx, msgs[i]) })
		}
		wg.Wait()
		good := 0
		for i, err := range errs {
			switch {
			case bad(i) && err == nil:
				t.Errorf("Publish(message %d, refused by the server) = nil, want an error", i)
			case bad(i) && !strings.Contains(err.Error(), msgs[i].ID):
				t.Errorf("Publish(message %d) = %v, want an error naming its ID %s", i, err, msgs[i].ID)
			case !bad(i) && err != nil:
				t.Errorf("Publish(message %d) = %v, want nil", i, err)
			case !bad(i):
				good++
			}
		}
		if got := storedEvents(t, tr); got != uint64(good) {
			t.Errorf("events stored = %d, want %d", got, good)
		}
	})
}

// A message the server refuses fails the batch with its own error; the others
// of the batch are stored all the same.
func TestPublishBatchWithARefusedMessage(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	subscribe(t, tr, bus.Subscription{Name: "batch"})
	msgs := []bus.Message{testMessage(t, 1), rejected(t, 2), testMessage(t, 3)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := tr.Publish(ctx, msgs...)
	if err == nil || !strings.Contains(err.Error(), msgs[1].ID) {
		t.Fatalf("Publish(good, refused, good) = %v, want the error of message %s", err, msgs[1].ID)
	}
	deadline := time.Now().Add(5 * time.Second)
	for storedEvents(t, tr) != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the last message's ack may come after the error
	}
	if got := storedEvents(t, tr); got != 2 {
		t.Errorf("events stored = %d, want 2", got)
	}
}

// A caller whose context is cancelled while its messages wait gives up alone:
// the others' publishes go on and succeed.
func TestPublishCancelledCallerLeavesOthersAlone(t *testing.T) {
	forEachPublisher(t, testOptions(""), func(t *testing.T, tr *Transport) {
		subscribe(t, tr, bus.Subscription{Name: "cancel"})
		for round := range 10 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cctx, ccancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			errs := make([]error, 32)
			for i := range errs {
				wg.Go(func() {
					for j := range 10 {
						if err := tr.Publish(ctx, testMessage(t, i*10+j)); err != nil {
							errs[i] = err
							return
						}
					}
				})
			}
			var cerr error
			wg.Go(func() {
				batch := make([]bus.Message, 100)
				for i := range batch {
					batch[i] = testMessage(t, i)
				}
				cerr = tr.Publish(cctx, batch...)
			})
			time.Sleep(time.Duration(round) * 200 * time.Microsecond)
			ccancel()
			wg.Wait()
			cancel()
			if cerr != nil && !errors.Is(cerr, context.Canceled) {
				t.Errorf("round %d: Publish with a cancelled context = %v, want nil or context.Canceled", round, cerr)
			}
			for i, err := range errs {
				if err != nil {
					t.Errorf("round %d: publisher %d: Publish = %v, want nil", round, i, err)
				}
			}
		}
	})
}

// Close while callers publish ends every call: with nil (acknowledged) or
// bus.ErrClosed, never hanging or with another error; also when callers wait
// for room (more messages than MaxInFlight).
func TestCloseWhilePublishing(t *testing.T) {
	o := testOptions("")
	o.MaxInFlight = 8
	forEachPublisher(t, o, func(t *testing.T, tr *Transport) {
		subscribe(t, tr, bus.Subscription{Name: "closing"})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, 64)
		for i := range errs {
			wg.Go(func() {
				for j := 0; ; j++ {
					var err error
					if j%4 == 0 {
						err = tr.Publish(ctx, testMessage(t, j), testMessage(t, j+1))
					} else {
						err = tr.Publish(ctx, testMessage(t, j))
					}
					if err != nil {
						errs[i] = err
						return
					}
				}
			})
		}
		time.Sleep(100 * time.Millisecond)
		tr.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("publishers still running 10s after Close")
		}
		for i, err := range errs {
			if !errors.Is(err, bus.ErrClosed) {
				t.Errorf("publisher %d: last Publish = %v, want bus.ErrClosed", i, err)
			}
		}
	})
}

// A message with a header named like one of the transport's envelope forms
// would be read back as that form (or lose the header): Publish refuses it,
// naming the header, in either form and before it sends any message of the
// call.
func TestPublishRefusesReservedHeaders(t *testing.T) {
	for _, full := range []bool{false, true} {
		opts := testOptions("")
		opts.FullHeaders = full
		tr := newEmbedded(t, t.TempDir(), opts)
		subscribe(t, tr, bus.Subscription{Name: "reserved"}) // the stream keeps what it binds
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, h := range []string{ceHeader, compactHeader} {
			bad := testMessage(t, 2).WithHeaders(map[string]string{h: "source=/x"})
			err := tr.Publish(ctx, testMessage(t, 1), bad)
			if err == nil || !strings.Contains(err.Error(), h) || !strings.Contains(err.Error(), "reserved") {
				t.Errorf("FullHeaders %v: Publish(with %s) = %v, want an error naming the reserved header", full, h, err)
			}
		}
		if n := storedEvents(t, tr); n != 0 {
			t.Errorf("FullHeaders %v: %d messages stored after refused calls, want 0", full, n)
		}
		if err := tr.Publish(ctx, testMessage(t, 3)); err != nil {
			t.Fatalf("FullHeaders %v: Publish(plain) = %v", full, err)
		}
		if n := storedEvents(t, tr); n != 1 {
			t.Errorf("FullHeaders %v: %d messages stored, want 1", full, n)
		}
	}
}
