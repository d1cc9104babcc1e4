package bus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type lazyKey struct{}

// A lazyTimeout behaves as context.WithDeadline, watched or not: done at its
// deadline, with its parent, or when stopped, and Err agreeing with Done.
func TestLazyTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		watch   bool // call Done before anything happens
		event   func(parentCancel context.CancelFunc, c *lazyTimeout)
		wantErr error
	}{
		{"deadline, watched", true, func(context.CancelFunc, *lazyTimeout) { time.Sleep(2 * time.Second) }, context.DeadlineExceeded},
		{"deadline, unwatched", false, func(context.CancelFunc, *lazyTimeout) { time.Sleep(2 * time.Second) }, context.DeadlineExceeded},
		{"parent cancelled, watched", true, func(cancel context.CancelFunc, _ *lazyTimeout) { cancel() }, context.Canceled},
		{"parent cancelled, unwatched", false, func(cancel context.CancelFunc, _ *lazyTimeout) { cancel() }, context.Canceled},
		{"stopped, watched", true, func(_ context.CancelFunc, c *lazyTimeout) { c.stop() }, context.Canceled},
		{"stopped, unwatched", false, func(_ context.CancelFunc, c *lazyTimeout) { c.stop() }, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				parent, cancel := context.WithCancel(context.WithValue(context.Background(), lazyKey{}, "v"))
				defer cancel()
				c := newLazyTimeout(parent, time.Now(), time.Second)
				defer c.stop()
				if d, ok := c.Deadline(); !ok || !d.Equal(time.Now().Add(time.Second)) {
					t.Errorf("Deadline() = %v, %v; want now+1s, true", d, ok)
				}
				if got := c.Value(lazyKey{}); got != "v" {
					t.Errorf("Value(lazyKey) = %v, want the parent's v", got)
				}
				if err := c.Err(); err != nil {
					t.Fatalf("Err() before anything = %v, want nil", err)
				}
				if tt.watch {
					select {
					case <-c.Done():
						t.Fatal("Done closed before anything happened")
					default:
					}
				} else if c.armed.Load() != nil {
					t.Fatal("Err armed the context before anything happened")
				}
				tt.event(cancel, c)
				synctest.Wait()
				if err := c.Err(); !errors.Is(err, tt.wantErr) {
					t.Errorf("Err() = %v, want %v", err, tt.wantErr)
				}
				select {
				case <-c.Done():
				default:
					t.Error("Err reported an error while Done is open")
				}
				if err := context.Cause(c); !errors.Is(err, tt.wantErr) {
					t.Errorf("context.Cause = %v, want %v", err, tt.wantErr)
				}
				if got := c.Value(lazyKey{}); got != "v" {
					t.Errorf("Value(lazyKey) once armed = %v, want the parent's v", got)
				}
			})
		})
	}
}

// A context derived from a lazyTimeout is cancelled at its deadline, and
// context.AfterFunc runs then; neither needs a goroutine (goleak and synctest
// would see it).
func TestLazyTimeoutDerived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newLazyTimeout(context.Background(), time.Now(), time.Second)
		defer c.stop()
		child, cancel := context.WithCancel(c)
		defer cancel()
		ran := make(chan struct{})
		stop := context.AfterFunc(c, func() { close(ran) })
		defer stop()
		time.Sleep(time.Second)
		synctest.Wait()
		if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("child Err() = %v, want DeadlineExceeded", err)
		}
		select {
		case <-ran:
		default:
			t.Error("AfterFunc did not run at the deadline")
		}
	})
}

// The deadline is the parent's when that is earlier.
func TestLazyTimeoutParentDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c := newLazyTimeout(parent, time.Now(), time.Hour)
		defer c.stop()
		if d, _ := c.Deadline(); !d.Equal(time.Now().Add(time.Second)) {
			t.Errorf("Deadline() = %v, want the parent's, now+1s", d)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err() after the parent's deadline = %v, want DeadlineExceeded", err)
		}
	})
}

// Done, Err and stop may race (run with -race).
func TestLazyTimeoutConcurrent(t *testing.T) {
	for range 100 {
		c := newLazyTimeout(context.Background(), time.Now(), time.Hour)
		var wg sync.WaitGroup
		chans := make([]<-chan struct{}, 4)
		for i := range chans {
			wg.Go(func() { chans[i] = c.Done(); _ = c.Err() })
		}
		wg.Go(c.stop)
		wg.Wait()
		for i, ch := range chans {
			if ch != chans[0] {
				t.Fatalf("Done() %d returned another channel", i)
			}
			<-ch // stopped: closed
		}
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err() after stop = %v, want Canceled", err)
		}
	}
}

// A context stopped unwatched before its deadline reports Canceled after the
// deadline too, as a context.WithDeadline cancelled in time does.
func TestLazyTimeoutStoppedBeforeDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newLazyTimeout(context.Background(), time.Now(), time.Second)
		c.stop()
		time.Sleep(2 * time.Second)
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err() = %v, want Canceled", err)
		}
		if d, ok := c.Deadline(); !ok || !d.Before(time.Now()) {
			t.Errorf("Deadline() = %v, %t; want the passed deadline", d, ok)
		}
	})
}
