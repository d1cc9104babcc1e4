package jetstream

import (
	"errors"
	"fmt"
)

// ErrConfigConflict is matched by the error of [Connect], [Embedded] or
// [Transport.Subscribe] when a stream or consumer exists with a configuration the
// transport cannot use. See [ConfigError].
var ErrConfigConflict = errors.New("jetstream: existing configuration conflicts")

// ConfigError says which field of an existing stream or consumer conflicts with
// what the transport declares. It matches [ErrConfigConflict]. The transport never
// changes an existing stream; it changes a subscription's consumer only to add
// event types (bindings accumulate) and to follow AckWait, MaxDeliver and
// MaxAckPending.
type ConfigError struct {
	Kind  string // "stream" or "consumer"
	Name  string // the stream's or the consumer's name
	Field string // the field of nats.go's StreamConfig or ConsumerConfig, such as "Retention"
	Have  string // the existing value
	Want  string // the value the transport needs
	Hint  string // what to do about it
}

// Error says what exists, what the transport needs, and what to do.
func (e *ConfigError) Error() string {
	s := fmt.Sprintf("jetstream: %s %q exists with %s = %s; the transport needs %s", e.Kind, e.Name, e.Field, e.Have, e.Want)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Is reports whether target is [ErrConfigConflict].
func (e *ConfigError) Is(target error) bool { return target == ErrConfigConflict }
