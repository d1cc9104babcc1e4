package rabbitmq

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestConflictErrorParsesTheBrokersText(t *testing.T) {
	cases := []struct {
		reason                      string
		kind, name, arg, have, want string
	}{
		// The texts of RabbitMQ 3.10 for the conflicts the transport can meet.
		{"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'p.q' in vhost '/': received 'quorum' but current is 'classic'",
			"queue", "p.q", "x-queue-type", "classic", "quorum"},
		{"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'p.q' in vhost '/': received 'quorum' but current is none",
			"queue", "p.q", "x-queue-type", "classic", "quorum"},
		{"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'p.q' in vhost '/': received none but current is the value 'quorum' of type 'longstr'",
			"queue", "p.q", "x-queue-type", "quorum", "classic"},
		{"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'p.q.retry.1s' in vhost 'v': received '60' but current is '50'",
			"queue", "p.q.retry.1s", "x-message-ttl", "50", "60"},
		{"PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'p.q' in vhost '/': received 'false' but current is 'true'",
			"queue", "p.q", "durable", "true", "false"},
		{"PRECONDITION_FAILED - inequivalent arg 'x-single-active-consumer' for queue 'p.q' in vhost '/': received the value 'true' of type 'bool' but current is none",
			"queue", "p.q", "x-single-active-consumer", "none", "true"},
		{"PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'p.events' in vhost '/': received 'topic' but current is 'fanout'",
			"exchange", "p.events", "type", "fanout", "topic"},
		// A text the transport does not know: the error still says which queue.
		{"PRECONDITION_FAILED - something new", "queue", "p.q", "", "", ""},
	}
	for _, tc := range cases {
		err := conflictError("queue", "p.q", &amqp.Error{Code: amqp.PreconditionFailed, Reason: tc.reason, Server: true})
		var ce *ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
			t.Errorf("conflictError(%q) = %v, want a *ConflictError", tc.reason, err)
			continue
		}
		got := fmt.Sprintf("%s %s %s %s %s", ce.Kind, ce.Name, ce.Argument, ce.Existing, ce.Wanted)
		if want := fmt.Sprintf("%s %s %s %s %s", tc.kind, tc.name, tc.arg, tc.have, tc.want); got != want {
			t.Errorf("conflictError(%q) = %s, want %s", tc.reason, got, want)
		}
		if tc.arg != "" && !strings.Contains(ce.Error(), tc.arg+": existing "+tc.have+", wanted "+tc.want) {
			t.Errorf("Error() = %q, want it to name %s and both values", ce.Error(), tc.arg)
		}
	}
	other := &amqp.Error{Code: amqp.NotFound, Reason: "NOT_FOUND"}
	if err := conflictError("queue", "q", other); err != other {
		t.Errorf("conflictError(404) = %v, want the error as it is", err)
	}
}

func FuzzConflictError(f *testing.F) {
	f.Add("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'p.q' in vhost '/': received 'quorum' but current is 'classic'")
	f.Add("PRECONDITION_FAILED - inequivalent arg 'a' for exchange '' in vhost '': received none but current is the value '' of type 'x'")
	f.Fuzz(func(t *testing.T, reason string) {
		err := conflictError("queue", "q", &amqp.Error{Code: amqp.PreconditionFailed, Reason: reason})
		var ce *ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("conflictError(%q) = %v, want a *ConflictError", reason, err)
		}
		if ce.Argument != "" && !strings.Contains(ce.Error(), ce.Argument+": existing ") {
			t.Errorf("conflictError(%q).Error() = %q, want it to name the argument %q and its values", reason, ce.Error(), ce.Argument)
		}
	})
}

func TestFormatDelay(t *testing.T) {
	for d, want := range map[time.Duration]string{
		50 * time.Millisecond: "50ms", time.Second: "1s", 10 * time.Second: "10s", time.Minute: "1m",
		90 * time.Second: "90s", 2 * time.Hour: "2h", 1500 * time.Microsecond: "1.5ms",
	} {
		if got := formatDelay(d); got != want {
			t.Errorf("formatDelay(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"amqp://guest:secret@host:5672/vh": "amqp://guest:xxxxx@host/vh",
		"amqp://guest:secret@host:5673/":   "amqp://guest:xxxxx@host:5673/",
		"http://user:secret@host/":         "http://xxxxx@host/",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
