package outbox

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrClosed is returned by [Relay.Start] after [Relay.Close].
	ErrClosed = errors.New("outbox: relay closed")
	// ErrStarted is returned by a second [Relay.Start].
	ErrStarted = errors.New("outbox: relay already started")
	// ErrLocked is matched by the error of [Relay.Start] on SQLite when another
	// relay holds the database file's relay lock. See [LockedError].
	ErrLocked = errors.New("outbox: another relay holds the SQLite relay lock")
)

// LockedError says which relay holds the SQLite relay lock, and until when unless
// it renews it. It matches [ErrLocked].
type LockedError struct {
	Table string    // the lock table, such as "rampart_outbox_relay"
	Owner string    // the ID of the relay that holds the lock
	Until time.Time // when the lock expires unless its owner renews it
}

// Error says who holds the lock and until when.
func (e *LockedError) Error() string {
	return fmt.Sprintf("outbox: relay %q holds the lock in %s until %s (one relay per SQLite database; set RelayOptions.Standby to wait for it)",
		e.Owner, e.Table, e.Until.Format(time.RFC3339Nano))
}

// Is reports whether target is [ErrLocked].
func (e *LockedError) Is(target error) bool { return target == ErrLocked }
