package bus

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/rampart-go/rampart/resilience"
)

// Sentinel errors that callers branch on with [errors.Is]. Each has a struct type
// that carries the details where there are any.
var (
	// ErrClosed is returned by a [Bus], a [Transport] or a [Consumer] that was closed.
	ErrClosed = errors.New("bus: closed")
	// ErrDecode is matched by every error about a message that cannot be decoded: a
	// malformed envelope, a body over the size limit, a body the codec rejects. See
	// [DecodeError].
	ErrDecode = errors.New("bus: cannot decode message")
	// ErrUnknownEventType is matched when an event type has no registered Go type, or
	// a subscription has no handler for it. See [UnknownEventTypeError].
	ErrUnknownEventType = errors.New("bus: unknown event type")
	// ErrUnroutable is returned by Publish when no subscription is bound to a
	// message's event type, for transports that can tell (RabbitMQ's mandatory flag,
	// the memory transport): the message would otherwise be silently dropped.
	ErrUnroutable = errors.New("bus: no subscription is bound to the event type")
	// ErrAlreadySettled is returned by a [Delivery] that was already acked, handed
	// back, redelivered or dead-lettered.
	ErrAlreadySettled = errors.New("bus: delivery already settled")
	// ErrPanic is matched by the error a handler's panic is turned into. See
	// [PanicError].
	ErrPanic = errors.New("bus: handler panicked")
	// ErrStarted is returned when a bus is changed or started after [Bus.Start].
	ErrStarted = errors.New("bus: already started")
)

// DecodeError says which field of a message could not be decoded, and why. It
// matches [ErrDecode].
type DecodeError struct {
	Field  string // the header name (such as "ce-id") or "data" for the body
	Value  string // the offending value, truncated; empty when absent or binary
	Reason string // what is wrong with it
	Err    error  // the underlying error, if any (a codec's, say)
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("bus: decode: field ")
	b.WriteString(fmt.Sprintf("%q: ", e.Field))
	b.WriteString(e.Reason)
	if e.Value != "" {
		b.WriteString(fmt.Sprintf(" (got %q)", e.Value))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is [ErrDecode].
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

// UnknownEventTypeError is the error for an event type that has no Go type or no
// handler. It matches [ErrUnknownEventType].
type UnknownEventTypeError struct {
	Type         string // the event type name as received or asked for
	Subscription string // the subscription that had no handler, if any
	GoType       string // the Go type that has no event type name, if any
}

func (e *UnknownEventTypeError) Error() string {
	switch {
	case e.GoType != "":
		return fmt.Sprintf("bus: Go type %s has no event type name", e.GoType)
	case e.Subscription != "":
		return fmt.Sprintf("bus: subscription %q has no handler for event type %q", e.Subscription, e.Type)
	}
	return fmt.Sprintf("bus: unknown event type %q", e.Type)
}

// Is reports whether target is [ErrUnknownEventType].
func (e *UnknownEventTypeError) Is(target error) bool { return target == ErrUnknownEventType }

// PanicError is a handler's panic turned into an error. It matches [ErrPanic]. A
// panic counts as a failed attempt: the message is redelivered, and dead-lettered
// after the last attempt.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("bus: handler panicked: %v", e.Value) }

// Is reports whether target is [ErrPanic].
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic value if it was an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Permanent marks err as permanent: the consumer dead-letters the message at once
// instead of redelivering it, and in-process retries stop. It is
// [resilience.Permanent]; Permanent(nil) is nil.
func Permanent(err error) error { return resilience.Permanent(err) }

// IsPermanent reports whether err, or any error it wraps, was marked with
// [Permanent].
func IsPermanent(err error) bool { return resilience.IsPermanent(err) }

// wrapperTypes are error types that only add context or a marker; errorType looks
// through them for the type that says what went wrong.
var wrapperTypes = map[string]bool{
	"*fmt.wrapError":                    true,
	"*fmt.wrapErrors":                   true,
	"*resilience.permanentError":        true,
	"*resilience.RetriesExhaustedError": true,
}

// errorType names the Go type of the error that says what went wrong, looking
// through wrappers (fmt.Errorf's %w, Permanent, retries exhausted): for
// fmt.Errorf("charge: %w", Permanent(&StatusError{})) it is "*httpx.StatusError".
func errorType(err error) string {
	if err == nil {
		return ""
	}
	for {
		name := reflect.TypeOf(err).String()
		if !wrapperTypes[name] {
			return name
		}
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		}
		if next == nil {
			return name
		}
		err = next
	}
}
