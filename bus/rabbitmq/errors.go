package rabbitmq

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Sentinel errors that callers branch on with [errors.Is]. The errors of
// [New] are [*DialError]s that match one of the first four.
var (
	// ErrInvalidURL: the broker URL cannot be parsed as an AMQP URI
	// (amqp://user:password@host:port/vhost or amqps://...).
	ErrInvalidURL = errors.New("rabbitmq: invalid broker URL")
	// ErrAccessRefused: the broker refused the user name or password (403
	// ACCESS_REFUSED).
	ErrAccessRefused = errors.New("rabbitmq: access refused: wrong user name or password")
	// ErrVhost: the virtual host does not exist, or the user may not use it (530
	// NOT_ALLOWED).
	ErrVhost = errors.New("rabbitmq: virtual host not found or not allowed")
	// ErrUnreachable: no TCP connection to the broker (refused, timed out, name not
	// resolved).
	ErrUnreachable = errors.New("rabbitmq: broker unreachable")

	// ErrConflict is matched by a [*ConflictError]: a queue or exchange exists with
	// other arguments than the transport declares.
	ErrConflict = errors.New("rabbitmq: topology conflicts with what exists on the broker")
	// ErrBlocked is matched by a [*BlockedError]: the broker blocked publishing
	// (memory or disk alarm) until the publisher's deadline.
	ErrBlocked = errors.New("rabbitmq: the broker blocked publishing")
	// ErrNacked: the broker refused to take responsibility for a message
	// (basic.nack), which it does only on an internal error.
	ErrNacked = errors.New("rabbitmq: the broker nacked the message")
	// ErrNotConnected is matched when an operation's context ended while the
	// transport was reconnecting.
	ErrNotConnected = errors.New("rabbitmq: not connected to the broker")
)

// DialError is the error of a connection attempt that failed: it says which of
// [ErrInvalidURL], [ErrAccessRefused], [ErrVhost] or [ErrUnreachable] it is
// (Reason, nil if none fits), and carries the underlying error. The URL's password
// is redacted.
type DialError struct {
	URL    string // the broker URL, password redacted
	Reason error  // one of the sentinels, or nil
	Err    error  // the underlying error (amqp091's, the network's, the URL parser's)
}

// Error says what failed, which of the sentinels it is, and the underlying error.
func (e *DialError) Error() string {
	var b strings.Builder
	b.WriteString("rabbitmq: connecting to ")
	b.WriteString(e.URL)
	if e.Reason != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Reason.Error(), "rabbitmq: "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is e's Reason.
func (e *DialError) Is(target error) bool { return e.Reason != nil && target == e.Reason }

// Unwrap returns the underlying error.
func (e *DialError) Unwrap() error { return e.Err }

// newDialError classifies err, from amqp.ParseURI or amqp.DialConfig.
func newDialError(url string, err error) *DialError {
	e := &DialError{URL: redact(url), Err: err}
	var aerr *amqp.Error
	var nerr net.Error
	var oerr *net.OpError
	switch {
	case errors.Is(err, amqp.ErrVhost):
		e.Reason = ErrVhost
	case errors.As(err, &aerr) && aerr.Code == amqp.NotAllowed && strings.Contains(aerr.Reason, "vhost"):
		e.Reason = ErrVhost
	case errors.As(err, &aerr) && aerr.Code == amqp.AccessRefused:
		e.Reason = ErrAccessRefused
	case errors.As(err, &oerr) && oerr.Op == "dial", errors.As(err, &nerr) && nerr.Timeout():
		e.Reason = ErrUnreachable
	case errors.As(err, &aerr) && !aerr.Server && aerr.Code == amqp.FrameError && strings.Contains(aerr.Reason, "timeout"):
		// The handshake timed out: the broker did not answer.
		e.Reason = ErrUnreachable
	}
	return e
}

// redact hides the password of an AMQP URL.
func redact(url string) string {
	uri, err := amqp.ParseURI(url)
	if err != nil {
		// Not a URL we can read: hide everything between "://" and "@".
		if i := strings.Index(url, "://"); i >= 0 {
			if j := strings.LastIndex(url, "@"); j > i {
				return url[:i+3] + "xxxxx" + url[j:]
			}
		}
		return url
	}
	if uri.Password != "" {
		uri.Password = "xxxxx"
	}
	return uri.String()
}

// ConflictError says that a queue or exchange exists on the broker with an
// argument other than the transport declares (RabbitMQ's 406
// PRECONDITION_FAILED "inequivalent arg"), and which. RabbitMQ cannot change a
// queue's arguments: delete the queue (losing its messages) or declare what
// exists. It matches [ErrConflict].
type ConflictError struct {
	Kind     string // "queue" or "exchange"
	Name     string // the queue or exchange
	Argument string // such as "x-queue-type", "x-message-ttl", "durable" or "type"; empty if the broker's text could not be read
	Existing string // the value on the broker as it writes it, "none" if unset (an unset x-queue-type is "classic")
	Wanted   string // the value the transport declared, "none" if unset
	Err      error  // the broker's error
}

// Error names the queue or exchange, the argument, and both values.
func (e *ConflictError) Error() string {
	if e.Argument == "" {
		return fmt.Sprintf("rabbitmq: %s %q exists with other arguments: %v", e.Kind, e.Name, e.Err)
	}
	msg := fmt.Sprintf("rabbitmq: %s %q exists with other arguments: %s: existing %s, wanted %s", e.Kind, e.Name, e.Argument, showValue(e.Existing), showValue(e.Wanted))
	if hint := conflictHints[e.Argument]; hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

var conflictHints = map[string]string{
	"x-queue-type":             "see Options.QueueType; a queue's type cannot change: delete the queue or keep its type",
	"x-single-active-consumer": "an ordered subscription declares single active consumer; a queue cannot change it",
	"x-message-ttl":            "a retry queue's TTL is its redelivery delay",
}

// showValue shows an argument's value; the empty string (the default exchange
// as dead-letter exchange, say) as "".
func showValue(v string) string {
	if v == "" {
		return `""`
	}
	return v
}

// Is reports whether target is [ErrConflict].
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Unwrap returns the broker's error.
func (e *ConflictError) Unwrap() error { return e.Err }

// inequivalent matches RabbitMQ's text for a declaration that conflicts with an
// existing queue or exchange, such as "PRECONDITION_FAILED - inequivalent arg
// 'x-queue-type' for queue 'q' in vhost '/': received 'quorum' but current is
// 'classic'".
var inequivalent = regexp.MustCompile(`inequivalent arg '([^']*)' for (queue|exchange) '(.*)' in vhost '.*': received (.*) but current is (.*)$`)

// argValue matches one value in that text: 'v', "the value 'v' of type 't'", or none.
var argValue = regexp.MustCompile(`^(?:'(.*)'|the value '(.*)' of type '[^']*'|none)$`)

// conflictError turns a 406 PRECONDITION_FAILED from declaring the named queue or
// exchange into a *ConflictError naming the argument; other errors are returned
// as they are.
func conflictError(kind, name string, err error) error {
	var aerr *amqp.Error
	if !errors.As(err, &aerr) || aerr.Code != amqp.PreconditionFailed {
		return err
	}
	ce := &ConflictError{Kind: kind, Name: name, Err: err}
	m := inequivalent.FindStringSubmatch(aerr.Reason)
	if m == nil {
		return ce
	}
	wanted, ok1 := parseArgValue(m[4])
	existing, ok2 := parseArgValue(m[5])
	if !ok1 || !ok2 {
		return ce
	}
	ce.Argument, ce.Kind, ce.Name, ce.Wanted, ce.Existing = m[1], m[2], m[3], wanted, existing
	if ce.Argument == "x-queue-type" {
		// A queue declared without a type is classic.
		if ce.Existing == "none" {
			ce.Existing = string(QueueClassic)
		}
		if ce.Wanted == "none" {
			ce.Wanted = string(QueueClassic)
		}
	}
	return ce
}

// parseArgValue reads one value of RabbitMQ's "inequivalent arg" text.
func parseArgValue(s string) (string, bool) {
	m := argValue.FindStringSubmatch(s)
	switch {
	case m == nil:
		return "", false
	case strings.HasPrefix(s, "'"):
		return m[1], true
	case strings.HasPrefix(s, "the value"):
		return m[2], true
	}
	return "none", true
}

// BlockedError is the error of a publish that waited for the broker to unblock
// publishing (a memory or disk alarm: connection.blocked) until its context
// ended. It matches [ErrBlocked] and the context's error.
type BlockedError struct {
	Reason string        // the broker's reason, such as "low on memory"
	For    time.Duration // how long publishing had been blocked
	Err    error         // the context's error
}

// Error says that the broker blocked publishing, why, and for how long.
func (e *BlockedError) Error() string {
	return fmt.Sprintf("rabbitmq: the broker blocked publishing (%s) %s ago and has not unblocked it: %v",
		e.Reason, e.For.Round(time.Millisecond), e.Err)
}

// Is reports whether target is [ErrBlocked].
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Unwrap returns the context's error.
func (e *BlockedError) Unwrap() error { return e.Err }
