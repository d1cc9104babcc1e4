package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Headers a replayed message carries: when it was last replayed from a
// dead-letter queue, and how often it was.
const (
	HeaderReplayedAt  = "rampart-replayed-at"  // RFC 3339 time of the last replay
	HeaderReplayCount = "rampart-replay-count" // replays so far, in decimal
)

// ErrNoDeadLetterQueue is matched by a [*NoDeadLetterQueueError].
var ErrNoDeadLetterQueue = errors.New("bus: no dead-letter queue")

// NoDeadLetterQueueError says that a subscription has no dead-letter queue (or
// stream) on the broker, and where the transport looked. It matches
// [ErrNoDeadLetterQueue].
type NoDeadLetterQueueError struct {
	Subscription string
	Looked       string // such as `queue "rampart.welcome-email.dlq"`
}

func (e *NoDeadLetterQueueError) Error() string {
	return fmt.Sprintf("bus: no dead-letter queue for subscription %q (looked for %s)", e.Subscription, e.Looked)
}

// Is reports whether target is [ErrNoDeadLetterQueue].
func (e *NoDeadLetterQueueError) Is(target error) bool { return target == ErrNoDeadLetterQueue }

// DeadLetterManager is implemented by transports whose dead-letter queues can be
// managed: replayed, purged, and filled from an export. It is what the "rampart
// dlq" tool uses. Every method returns a [*NoDeadLetterQueueError] for a
// subscription without a dead-letter queue, and is safe for concurrent use;
// messages a method is working on are invisible to other readers meanwhile.
type DeadLetterManager interface {
	DeadLetterReader
	// DeadLetterQueue returns the name and size of the subscription's dead-letter
	// queue, as the broker's tools show them.
	DeadLetterQueue(ctx context.Context, subscription string) (DeadLetterQueueInfo, error)
	// ReplayDeadLetters sends the dead letters that opts selects back to the
	// subscription's work queue only (not to the other subscriptions of their
	// event type), as [ReplayMessage] makes them, oldest first. Each is removed
	// from the dead-letter queue only once the broker confirmed its copy: a
	// message whose copy could not be published stays, and the error says so.
	ReplayDeadLetters(ctx context.Context, subscription string, opts ReplayOptions) (ReplayResult, error)
	// PurgeDeadLetters removes the dead letters that match selects (all if match
	// is nil) and returns how many it removed.
	PurgeDeadLetters(ctx context.Context, subscription string, match func(Message) bool) (int, error)
	// ImportDeadLetters stores msgs in the subscription's dead-letter queue as
	// they are (headers included), confirmed, in order.
	ImportDeadLetters(ctx context.Context, subscription string, msgs []Message) error
}

// DeadLetterQueueInfo describes a dead-letter queue at one moment.
type DeadLetterQueueInfo struct {
	Name     string // the queue or stream (and subject), such as "rampart.welcome-email.dlq"
	Messages int    // messages in it
}

// ReplayOptions select the dead letters to replay. The zero value replays all of
// them.
type ReplayOptions struct {
	// Match selects the messages to replay; nil selects all. It is called on the
	// caller's goroutine, with no lock held.
	Match func(Message) bool
	// Limit is the most messages to replay; <= 0 means no limit.
	Limit int
	// DryRun selects the messages and reports them, changing nothing.
	DryRun bool
	// Progress, if not nil, is called after each replayed message with how many
	// are done and how many were selected, on the caller's goroutine.
	Progress func(done, total int)
}

// ReplayResult says what a replay did.
type ReplayResult struct {
	// Replayed are the messages replayed (in a dry run: that would be), as they
	// were in the dead-letter queue, oldest first.
	Replayed []Message
	// Kept is how many messages stayed in the dead-letter queue because they did
	// not match, or were over the limit.
	Kept int
}

// ReplayMessage returns the copy of a dead letter m that a replay publishes at
// now: without the dead-letter headers (rampart-dlq-*) and the attempt headers
// ([HeaderAttempt], [HeaderFirstFailure], [HeaderLastError]), so that the bus
// counts attempts from 1 again, and with [HeaderReplayedAt] now and
// [HeaderReplayCount] one more than m had.
func ReplayMessage(m Message, now time.Time) Message {
	count, _ := strconv.Atoi(m.Headers[HeaderReplayCount])
	return m.WithHeaders(map[string]string{
		HeaderDLQReason:       "",
		HeaderDLQError:        "",
		HeaderDLQErrorType:    "",
		HeaderDLQSubscription: "",
		HeaderDLQAttempts:     "",
		HeaderDLQFirstFailure: "",
		HeaderDLQLastFailure:  "",
		HeaderDLQOrigin:       "",
		HeaderAttempt:         "",
		HeaderFirstFailure:    "",
		HeaderLastError:       "",
		HeaderReplayedAt:      now.UTC().Format(time.RFC3339Nano),
		HeaderReplayCount:     strconv.Itoa(max(0, count) + 1),
	})
}
