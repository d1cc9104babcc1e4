package idempotency

import (
	"context"
	"errors"
	"time"
)

// Status is the answer of [Store.Claim].
type Status uint8

const (
	// Claimed: the caller now holds the message for the lease and must call Done after
	// its handler succeeded, or Release after it failed.
	Claimed Status = iota + 1
	// AlreadyDone: the message was handled before; ack it without running the handler.
	AlreadyDone
	// InProgress: another worker holds a live lease on the message; do not run the
	// handler now (wait, or let the broker redeliver it later).
	InProgress
)

// String returns "claimed", "already-done" or "in-progress".
func (s Status) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case AlreadyDone:
		return "already-done"
	case InProgress:
		return "in-progress"
	}
	return "unknown"
}

// ErrNotClaimed is returned by Done and Release when the caller does not hold the
// claim (it expired and someone else took it, or it was never taken).
var ErrNotClaimed = errors.New("idempotency: message is not claimed by this caller")

// Key names one message for one consumer: the same event handled by two
// subscriptions is two keys.
type Key struct {
	Consumer  string // the subscription or handler name
	MessageID string // the producer's message ID (not a payload hash)
}

// Store is the inbox: it remembers which messages a consumer has handled, so that a
// redelivered or republished message runs its handler once. Implementations are safe
// for concurrent use by many workers and processes.
type Store interface {
	// Claim takes k for the lease duration, unless it is done or held by another
	// live claim. The returned token identifies this claim in Done and Release.
	Claim(ctx context.Context, k Key, lease time.Duration) (Status, Token, error)
	// Done marks k as handled; it is remembered for the store's retention period.
	Done(ctx context.Context, k Key, t Token) error
	// Release gives up the claim after a failed handler, leaving no mark, so that a
	// redelivery runs the handler again.
	Release(ctx context.Context, k Key, t Token) error
}

// Token identifies one claim, so that a worker whose lease expired cannot mark or
// release a claim that another worker has since taken.
type Token string
