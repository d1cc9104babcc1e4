package bus

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// context.Cause of a lazyTimeout agrees with its Err, as for any
// context.WithDeadline, whether or not anyone watched it: Cause asks the context
// for the context package's own key, which an unarmed lazyTimeout must not answer
// with its parent's cancelCtx (whose cause is nil while the parent lives), or a
// handler checking context.Cause(ctx) would not see its timeout.
func TestLazyTimeoutCause(t *testing.T) {
	for _, tt := range []struct {
		name  string
		event func(c *lazyTimeout)
		want  error
	}{
		{"deadline", func(*lazyTimeout) { time.Sleep(2 * time.Second) }, context.DeadlineExceeded},
		{"stopped", func(c *lazyTimeout) { c.stop() }, context.Canceled},
		{"stopped after the deadline", func(c *lazyTimeout) { time.Sleep(2 * time.Second); c.stop() }, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// The parent is a cancelCtx, as the worker's context of the bus is.
				parent, cancel := context.WithCancel(context.Background())
				defer cancel()
				c := newLazyTimeout(parent, time.Now(), time.Second)
				defer c.stop()
				if err := context.Cause(c); err != nil {
					t.Fatalf("Cause before anything = %v, want nil", err)
				}
				tt.event(c)
				if err := context.Cause(c); !errors.Is(err, tt.want) {
					t.Errorf("Cause = %v, want %v (Err says %v)", err, tt.want, c.Err())
				}
				if err := context.Cause(c); !errors.Is(err, c.Err()) {
					t.Errorf("Cause = %v after Err = %v", err, c.Err())
				}
			})
		})
	}
	// A parent's cause is the lazyTimeout's, as with context.WithDeadline.
	synctest.Test(t, func(t *testing.T) {
		why := errors.New("shutting down")
		parent, cancel := context.WithCancelCause(context.Background())
		c := newLazyTimeout(parent, time.Now(), time.Second)
		defer c.stop()
		cancel(why)
		if err := context.Cause(c); !errors.Is(err, why) {
			t.Errorf("Cause after the parent's cancellation = %v, want %v", err, why)
		}
	})
}

// stop racing the first Done or Err leaves no armed context uncancelled (a timer
// that only its deadline would stop), and a CAS loser's context is not the one
// handed out.
func TestLazyTimeoutStopRace(t *testing.T) {
	for i := range 2000 {
		c := newLazyTimeout(context.Background(), time.Now(), time.Hour)
		done := make(chan (<-chan struct{}), 2)
		start := make(chan struct{})
		go func() { <-start; done <- c.Done() }()
		go func() {
			<-start
			if i%2 == 0 {
				_ = c.Err()
			}
			done <- c.Done()
		}()
		go func() { <-start; c.stop() }()
		close(start)
		a, b := <-done, <-done
		if a != b {
			t.Fatalf("run %d: Done returned two channels", i)
		}
		select {
		case <-a:
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d: stopped context not cancelled", i)
		}
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: Err = %v after stop, want Canceled", i, err)
		}
	}
}
