package bustest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

func testRedelivery(t *testing.T, e *env) {
	sub := e.sub("redeliver")
	type call struct {
		at time.Time
		m  bus.Meta
	}
	var calls []call
	b := e.newBus(bus.Options{}, map[string]bus.SubscriptionOptions{"redeliver": {MaxAttempts: 5}})
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { calls = append(calls, call{time.Now(), m}) })
		if m.Attempt < 3 {
			return errors.New("try again")
		}
		return nil
	}))
	e.start(b)
	e.publish(b, context.Background(), Order{N: 1})
	e.p.awaitSettled(sub, bus.ActionAck, 1)

	e.p.mu.Lock()
	got := append([]call(nil), calls...)
	e.p.mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("handler called %d times, want 3 (fail, fail, succeed)", len(got))
	}
	delays := e.f.RedeliveryDelays
	for i, c := range got {
		if c.m.Attempt != i+1 {
			t.Errorf("call %d: Attempt = %d, want %d", i+1, c.m.Attempt, i+1)
		}
		if c.m.ID != got[0].m.ID {
			t.Errorf("call %d: ID = %s, want %s (the same event)", i+1, c.m.ID, got[0].m.ID)
		}
		if i == 0 {
			continue
		}
		want := delays[min(i, len(delays))-1]
		if gap := c.at.Sub(got[i-1].at); gap < want {
			t.Errorf("call %d came %s after call %d, want at least the redelivery delay %s", i+1, gap, i, want)
		}
		check(t, fmt.Sprintf("call %d", i+1),
			"Headers[rampart-last-error]", c.m.Headers[bus.HeaderLastError], "try again",
			"Headers[rampart-attempt]", c.m.Headers[bus.HeaderAttempt], fmt.Sprint(i+1))
		if _, err := time.Parse(time.RFC3339Nano, c.m.Headers[bus.HeaderFirstFailure]); err != nil {
			t.Errorf("call %d: Headers[rampart-first-failure] = %q, want an RFC 3339 time", i+1, c.m.Headers[bus.HeaderFirstFailure])
		}
	}
	if ff1, ff2 := got[1].m.Headers[bus.HeaderFirstFailure], got[2].m.Headers[bus.HeaderFirstFailure]; ff1 != ff2 {
		t.Errorf("first failure changed between redeliveries: %q, then %q", ff1, ff2)
	}
	var actions []string
	for _, s := range e.p.settledWith(sub) {
		actions = append(actions, fmt.Sprintf("%s/%d/%s", s.Action, s.Attempt, s.Delay))
	}
	want := []string{
		fmt.Sprintf("redeliver/1/%s", delays[0]),
		fmt.Sprintf("redeliver/2/%s", delays[min(2, len(delays))-1]),
		"ack/3/0s",
	}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Errorf("settlements (action/attempt/delay) = %v, want %v", actions, want)
	}
}

// deadLetterCase is a message the consumer must dead-letter, and what the dead
// letter must say.
type deadLetterCase struct {
	name   string
	msg    bus.Message
	reason bus.DeadLetterReason
	field  string // the error must name it (quoted)
	typ    string // the error's Go type
}

// runDeadLetterCases publishes the raw messages of cases with the transport, then
// a valid order, and checks that the valid order is handled (the consumer goes on)
// and that every case is in the dead-letter queue with its reason.
func runDeadLetterCases(t *testing.T, e *env, cases []deadLetterCase, maxBody int) {
	sub := e.sub("dlq")
	handled := 0
	b := e.newBus(bus.Options{MaxBodySize: maxBody}, only("dlq"))
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { handled++ })
		return nil
	}))
	e.start(b)
	for _, c := range cases {
		m := c.msg.WithHeaders(map[string]string{"bustest-case": c.name})
		ctx, cancel := context.WithTimeout(context.Background(), e.f.Timeout)
		err := e.tr.Publish(ctx, m)
		cancel()
		if err != nil {
			t.Fatalf("case %s: publishing the raw message: %v", c.name, err)
		}
	}
	e.publish(b, context.Background(), Order{N: 1})
	e.p.await("the valid order after the bad messages", func() bool { return handled == 1 })
	e.p.awaitSettled(sub, bus.ActionDeadLetter, len(cases))

	byCase := map[string]bus.Message{}
	for _, m := range e.deadLetters(sub, len(cases)) {
		byCase[m.Headers["bustest-case"]] = m
	}
	for _, c := range cases {
		m, ok := byCase[c.name]
		if !ok {
			t.Errorf("case %s: not in the dead-letter queue", c.name)
			continue
		}
		h := m.Headers
		check(t, "case "+c.name,
			"rampart-dlq-reason", h[bus.HeaderDLQReason], string(c.reason),
			"rampart-dlq-error-type", h[bus.HeaderDLQErrorType], c.typ,
			"rampart-dlq-subscription", h[bus.HeaderDLQSubscription], sub,
			"rampart-dlq-attempts", h[bus.HeaderDLQAttempts], "1",
			"body", string(m.Body), string(c.msg.Body),
			"ce-id", h[bus.HeaderID], c.msg.Headers[bus.HeaderID],
		)
		if want := fmt.Sprintf("%q", c.field); !strings.Contains(h[bus.HeaderDLQError], want) {
			t.Errorf("case %s: rampart-dlq-error = %q, want it to name %s", c.name, h[bus.HeaderDLQError], want)
		}
		checkDeadLetterHeaders(t, "case "+c.name, h)
	}
}

// checkDeadLetterHeaders checks the headers every dead letter has.
func checkDeadLetterHeaders(t *testing.T, what string, h map[string]string) {
	t.Helper()
	dl, err := bus.ParseDeadLetter(h)
	if err != nil {
		t.Errorf("%s: ParseDeadLetter: %v", what, err)
		return
	}
	if dl.FirstFailure.IsZero() || dl.LastFailure.IsZero() || dl.LastFailure.Before(dl.FirstFailure) {
		t.Errorf("%s: first failure %s, last failure %s: want both set, in order", what, dl.FirstFailure, dl.LastFailure)
	}
	if h[bus.HeaderDLQOrigin] == "" {
		t.Errorf("%s: no %s header (the transport must say where the message came from)", what, bus.HeaderDLQOrigin)
	}
	if dl.Error == "" {
		t.Errorf("%s: no %s header", what, bus.HeaderDLQError)
	}
}

func testDeadLetterUndecodable(t *testing.T, e *env) {
	const maxBody = 4096
	valid := []byte(`{"n":1}`)
	big := []byte(`{"text":"` + strings.Repeat("x", maxBody) + `"}`)
	const decodeErr = "*bus.DecodeError"
	cases := []deadLetterCase{
		{"bad-json", e.raw(e.orderType, []byte(`{"n": 1,`), nil), bus.ReasonUndecodable, "data", decodeErr},
		{"wrong-field-type", e.raw(e.orderType, []byte(`{"n":"one"}`), nil), bus.ReasonUndecodable, "n", decodeErr},
		{"bad-id", e.raw(e.orderType, valid, map[string]string{bus.HeaderID: "not-a-uuid"}), bus.ReasonUndecodable, bus.HeaderID, decodeErr},
		{"upper-case-id", e.raw(e.orderType, valid, map[string]string{bus.HeaderID: "0190A6E8-7D6F-7B3A-9C55-3A4D6B1E9F00"}), bus.ReasonUndecodable, bus.HeaderID, decodeErr},
		{"no-id", e.raw(e.orderType, valid, map[string]string{bus.HeaderID: ""}), bus.ReasonUndecodable, bus.HeaderID, decodeErr},
		{"no-source", e.raw(e.orderType, valid, map[string]string{bus.HeaderSource: ""}), bus.ReasonUndecodable, bus.HeaderSource, decodeErr},
		{"no-type", e.raw(e.orderType, valid, map[string]string{bus.HeaderType: ""}), bus.ReasonUndecodable, bus.HeaderType, decodeErr},
		{"bad-time", e.raw(e.orderType, valid, map[string]string{bus.HeaderTime: "yesterday"}), bus.ReasonUndecodable, bus.HeaderTime, decodeErr},
		{"bad-specversion", e.raw(e.orderType, valid, map[string]string{bus.HeaderSpecVersion: "0.3"}), bus.ReasonUndecodable, bus.HeaderSpecVersion, decodeErr},
		{"zero-attempt", e.raw(e.orderType, valid, map[string]string{bus.HeaderAttempt: "0"}), bus.ReasonUndecodable, bus.HeaderAttempt, decodeErr},
		{"text-attempt", e.raw(e.orderType, valid, map[string]string{bus.HeaderAttempt: "two"}), bus.ReasonUndecodable, bus.HeaderAttempt, decodeErr},
		{"header-of-wrong-type", e.raw(e.orderType, valid, map[string]string{bus.HeaderInvalid: bus.HeaderSubject + ":amqp091.Table"}), bus.ReasonUndecodable, bus.HeaderSubject, decodeErr},
		{"unknown-content-type", e.raw(e.orderType, valid, map[string]string{bus.HeaderContentType: "application/x-unknown"}), bus.ReasonUndecodable, bus.HeaderContentType, decodeErr},
		{"oversized-body", e.raw(e.orderType, big, nil), bus.ReasonUndecodable, "data", decodeErr},
	}
	runDeadLetterCases(t, e, cases, maxBody)
}

func testDeadLetterUnknownType(t *testing.T, e *env) {
	valid := []byte(`{"n":1}`)
	const unknownErr = "*bus.UnknownEventTypeError"
	cases := []deadLetterCase{
		// Routed as an order (a stale binding, a wildcard), but of a type nobody knows.
		{"unregistered-type", e.raw(e.orderType, valid, map[string]string{bus.HeaderType: "bustest." + e.id + ".unknown.v1"}),
			bus.ReasonUnknownType, "bustest." + e.id + ".unknown.v1", unknownErr},
		// Known to the registry, but this subscription has no handler for it.
		{"type-without-handler", e.raw(e.orderType, []byte(`{"text":"x"}`), map[string]string{bus.HeaderType: e.noteType}),
			bus.ReasonUnknownType, e.noteType, unknownErr},
	}
	runDeadLetterCases(t, e, cases, 0)
}

// orderError is the error type a handler returns in the suite.
type orderError struct{ n int }

func (e *orderError) Error() string { return fmt.Sprintf("order %d is invalid", e.n) }

func testDeadLetterPermanent(t *testing.T, e *env) {
	sub := e.sub("permanent")
	calls := 0
	b := e.newBus(bus.Options{}, map[string]bus.SubscriptionOptions{"permanent": {MaxAttempts: 5}})
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { calls++ })
		return fmt.Errorf("charging: %w", bus.Permanent(&orderError{o.N}))
	}))
	e.start(b)
	e.publish(b, context.Background(), Order{N: 5, Text: "broken"}, bus.WithSubject("customer-5"))
	e.p.awaitSettled(sub, bus.ActionDeadLetter, 1)

	msgs := e.deadLetters(sub, 1)
	h := msgs[0].Headers
	check(t, "dead letter",
		"rampart-dlq-reason", h[bus.HeaderDLQReason], string(bus.ReasonPermanent),
		"rampart-dlq-error", h[bus.HeaderDLQError], "charging: order 5 is invalid",
		"rampart-dlq-error-type", h[bus.HeaderDLQErrorType], "*bustest.orderError",
		"rampart-dlq-subscription", h[bus.HeaderDLQSubscription], sub,
		"rampart-dlq-attempts", h[bus.HeaderDLQAttempts], "1",
		"ce-type", h[bus.HeaderType], e.orderType,
		"ce-subject", h[bus.HeaderSubject], "customer-5",
		"body", string(msgs[0].Body), `{"n":5,"text":"broken"}`,
	)
	checkDeadLetterHeaders(t, "dead letter", h)
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	if calls != 1 {
		t.Errorf("handler called %d times, want 1 (a permanent error is not retried)", calls)
	}
	for _, s := range e.p.settlements {
		if s.Action != bus.ActionDeadLetter || s.Reason != bus.ReasonPermanent || s.Attempt != 1 || !bus.IsPermanent(s.Err) {
			t.Errorf("settlement = %+v, want a dead letter of attempt 1 for a permanent error", s)
		}
	}
}

func testDeadLetterMaxAttempts(t *testing.T, e *env) {
	sub := e.sub("exhausted")
	var attempts []int
	b := e.newBus(bus.Options{}, map[string]bus.SubscriptionOptions{"exhausted": {MaxAttempts: 3}})
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		e.p.update(func() { attempts = append(attempts, m.Attempt) })
		return errors.New("still broken")
	}))
	e.start(b)
	e.publish(b, context.Background(), Order{N: 7})
	e.p.awaitSettled(sub, bus.ActionDeadLetter, 1)

	msgs := e.deadLetters(sub, 1)
	h := msgs[0].Headers
	check(t, "dead letter",
		"rampart-dlq-reason", h[bus.HeaderDLQReason], string(bus.ReasonMaxAttempts),
		"rampart-dlq-error", h[bus.HeaderDLQError], "still broken",
		"rampart-dlq-error-type", h[bus.HeaderDLQErrorType], "*errors.errorString",
		"rampart-dlq-subscription", h[bus.HeaderDLQSubscription], sub,
		"rampart-dlq-attempts", h[bus.HeaderDLQAttempts], "3",
	)
	checkDeadLetterHeaders(t, "dead letter", h)
	if dl, err := bus.ParseDeadLetter(h); err == nil {
		if gap, want := dl.LastFailure.Sub(dl.FirstFailure), e.f.RedeliveryDelays[0]; gap < want {
			t.Errorf("last failure %s after the first, want at least the first redelivery delay %s", gap, want)
		}
	}
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	if fmt.Sprint(attempts) != "[1 2 3]" {
		t.Errorf("attempts = %v, want [1 2 3]", attempts)
	}
}
