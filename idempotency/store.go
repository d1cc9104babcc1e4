package idempotency

import (
	"context"
	"errors"
	"fmt"
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

// DefaultRetention is how long the stores of this package remember a done message
// when their options do not say.
const DefaultRetention = 24 * time.Hour

// ErrNotClaimed is returned by Done and Release when the caller does not hold the
// claim: its lease ended (whether or not someone else has claimed the message since),
// it was released or marked done already, or the token was never issued for the key.
var ErrNotClaimed = errors.New("idempotency: message is not claimed by this caller")

// ErrInvalidKey is returned (wrapped, with the name of the empty field) by every
// method of every Store when a [Key] field is empty.
var ErrInvalidKey = errors.New("idempotency: invalid key")

// Key names one message for one consumer: the same event handled by two
// subscriptions is two keys.
type Key struct {
	Consumer  string // the subscription or handler name
	MessageID string // the producer's message ID (not a payload hash)
}

// Validate reports an error wrapping [ErrInvalidKey] that names the empty field when
// Consumer or MessageID is empty. Stores call it first in every method.
func (k Key) Validate() error {
	switch {
	case k.Consumer == "" && k.MessageID == "":
		return fmt.Errorf("%w: Consumer and MessageID are empty", ErrInvalidKey)
	case k.Consumer == "":
		return fmt.Errorf("%w: Consumer is empty (MessageID %q)", ErrInvalidKey, k.MessageID)
	case k.MessageID == "":
		return fmt.Errorf("%w: MessageID is empty (Consumer %q)", ErrInvalidKey, k.Consumer)
	}
	return nil
}

// Store is the inbox: it remembers which messages a consumer has handled, so that a
// redelivered or republished message runs its handler once. Implementations are safe
// for concurrent use by many workers and processes.
//
// The contract, which package idempotencytest checks for every implementation:
//   - A claim lasts for its lease and no longer. When the lease has ended the claim is
//     gone, whether or not anyone else has claimed the key since: another Claim gets
//     Claimed with a new token, and Done or Release with the old token return
//     [ErrNotClaimed]. A handler that may outlive its lease should be given a longer one.
//   - Done and Release with a token that is not the current live claim's token (stale,
//     empty, never issued, or the key is already done) return [ErrNotClaimed] and
//     change nothing.
//   - Every method returns an error wrapping [ErrInvalidKey] when a Key field is empty.
//   - Claim rejects a lease that is not positive.
type Store interface {
	// Claim takes k for the lease duration, unless it is done or held by another
	// live claim. The returned token identifies this claim in Done and Release; it is
	// empty unless the status is Claimed. On error the status is zero.
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
