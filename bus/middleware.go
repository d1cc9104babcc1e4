package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/resilience"
)

// The consumer middleware, outermost first: recover → inbox → timeout → retry →
// handler. Decoding comes before it (process).

// recoverStage turns a panic in what it runs into a [*PanicError]. It is outside
// the inbox, which releases its claim while the panic unwinds.
func (s *subscription) recoverStage(next stage) stage {
	return func(ctx context.Context, j *job) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Value: r, Stack: debug.Stack()}
				s.b.log.Error("bus: handler panicked", "subscription", s.name, "type", j.meta.Type, "id", j.meta.ID,
					"panic", fmt.Sprint(r), "stack", string(err.(*PanicError).Stack))
			}
		}()
		return next(ctx, j)
	}
}

// inboxStage runs next only if the inbox grants a claim on the event ID for this
// subscription; it marks the event done after next succeeded and releases the
// claim (leaving no mark) after it failed or panicked. An event already done
// yields errAlreadyDone, one held by another worker errInProgress; neither runs
// next.
func (s *subscription) inboxStage(next stage) stage {
	store := s.b.opts.Inbox
	if store == nil {
		return next
	}
	lease := s.opts.InboxLease
	return func(ctx context.Context, j *job) (err error) {
		key := idempotency.Key{Consumer: s.name, MessageID: j.meta.ID}
		status, token, err := store.Claim(ctx, key, lease)
		if err != nil {
			return fmt.Errorf("bus: inbox claim: %w", err)
		}
		switch status {
		case idempotency.Claimed:
		case idempotency.AlreadyDone:
			return errAlreadyDone
		case idempotency.InProgress:
			return errInProgress
		default:
			return fmt.Errorf("bus: inbox claim: unexpected status %v", status)
		}
		finished := false
		defer func() {
			if finished {
				return
			}
			sctx := s.b.settleCtx(&j.settle)
			defer sctx.stop()
			if rerr := store.Release(sctx, key, token); rerr != nil {
				// The claim expires with its lease; the redelivery waits for it.
				s.b.log.Warn("bus: inbox release", "subscription", s.name, "id", key.MessageID, "err", rerr)
			}
		}()
		err = next(ctx, j)
		if err != nil {
			return err
		}
		finished = true
		sctx := s.b.settleCtx(&j.settle)
		defer sctx.stop()
		if derr := store.Done(sctx, key, token); derr != nil {
			// Handled: ack anyway. Without the mark a duplicate may run again once the
			// claim's lease expires, which is at-least-once, not loss.
			s.b.log.Error("bus: inbox done", "subscription", s.name, "id", key.MessageID, "err", derr)
		}
		return nil
	}
}

// timeoutStage bounds what it runs, in-process retries included. The handler runs
// on the worker's goroutine; only its context is cancelled.
func (s *subscription) timeoutStage(next stage) stage {
	d := s.opts.Timeout
	return func(ctx context.Context, j *job) error {
		tctx := j.timeout.init(ctx, time.Now(), d)
		defer tctx.stop()
		err := next(tctx, j)
		if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
			te := &resilience.TimeoutError{Policy: "bus:" + s.name, Timeout: d}
			if err != tctx.Err() { // keep what the handler said, unless it is the bare ctx error
				te.Err = err
			}
			return te
		}
		return err
	}
}

// retryStage runs what it runs through the subscription's retry pipeline, if any.
func (s *subscription) retryStage(next stage) stage {
	p := s.opts.Retry
	if p == nil {
		return next
	}
	return func(ctx context.Context, j *job) error {
		// resilience.Do rather than Pipeline.Run: one closure instead of two.
		_, err := resilience.Do(ctx, p, func(ctx context.Context) (struct{}, error) { return struct{}{}, next(ctx, j) })
		return err
	}
}
