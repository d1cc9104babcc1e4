package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

func TestRedeliveryDelay(t *testing.T) {
	tiers := []time.Duration{time.Second, 10 * time.Second, time.Minute}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, time.Second}, // before any attempt: the first tier
		{1, time.Second},
		{2, 10 * time.Second},
		{3, time.Minute},
		{4, time.Minute},
		{100, time.Minute},
	}
	for _, tt := range tests {
		if got := redeliveryDelay(tiers, tt.attempt); got != tt.want {
			t.Errorf("redeliveryDelay(1s/10s/1m, %d) = %s, want %s", tt.attempt, got, tt.want)
		}
	}
	if got := redeliveryDelay([]time.Duration{5 * time.Millisecond}, 7); got != 5*time.Millisecond {
		t.Errorf("redeliveryDelay(one tier, 7) = %s, want 5ms", got)
	}
}

func TestDecide(t *testing.T) {
	o, err := SubscriptionOptions{}.normalize("s")
	if err != nil {
		t.Fatal(err)
	}
	plain := errors.New("down")
	tests := []struct {
		attempt int
		err     error
		want    decision
	}{
		{1, plain, decision{action: ActionRedeliver, delay: time.Second}},
		{2, plain, decision{action: ActionRedeliver, delay: 10 * time.Second}},
		{3, plain, decision{action: ActionRedeliver, delay: time.Minute}},
		{4, plain, decision{action: ActionRedeliver, delay: time.Minute}},
		{5, plain, decision{action: ActionDeadLetter, reason: ReasonMaxAttempts}},
		{9, plain, decision{action: ActionDeadLetter, reason: ReasonMaxAttempts}}, // MaxAttempts lowered since
		{1, Permanent(plain), decision{action: ActionDeadLetter, reason: ReasonPermanent}},
		{1, fmt.Errorf("wrapped: %w", Permanent(plain)), decision{action: ActionDeadLetter, reason: ReasonPermanent}},
		{1, &resilience.RetriesExhaustedError{Attempts: 3, Err: Permanent(plain)}, decision{action: ActionDeadLetter, reason: ReasonPermanent}},
		{1, &PanicError{Value: "boom"}, decision{action: ActionRedeliver, delay: time.Second}},
		{5, Permanent(plain), decision{action: ActionDeadLetter, reason: ReasonPermanent}},
	}
	for _, tt := range tests {
		if got := decide(o, tt.attempt, tt.err); got != tt.want {
			t.Errorf("decide(attempt %d, %v) = %+v, want %+v", tt.attempt, tt.err, got, tt.want)
		}
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprint("status ", e.code) }

func TestErrorType(t *testing.T) {
	se := &statusError{503}
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("x"), "*errors.errorString"},
		{se, "*bus.statusError"},
		{fmt.Errorf("charge: %w", se), "*bus.statusError"},
		{fmt.Errorf("charge: %w", Permanent(se)), "*bus.statusError"},
		{&resilience.RetriesExhaustedError{Attempts: 3, Err: fmt.Errorf("a: %w", se)}, "*bus.statusError"},
		{fmt.Errorf("a: %w, b: %w", se, errors.New("y")), "*bus.statusError"},
		{fmt.Errorf("no cause"), "*errors.errorString"},
		{&PanicError{Value: "boom"}, "*bus.PanicError"},
		{&resilience.TimeoutError{Timeout: time.Second}, "*resilience.TimeoutError"},
		{context.Canceled, "*errors.errorString"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := errorType(tt.err); got != tt.want {
			t.Errorf("errorType(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestSubscriptionOptionsDefaults(t *testing.T) {
	o, err := SubscriptionOptions{}.normalize("s")
	if err != nil {
		t.Fatal(err)
	}
	want := SubscriptionOptions{Workers: 1, Prefetch: 4, Timeout: 30 * time.Second, MaxAttempts: 5,
		RedeliveryDelays: []time.Duration{time.Second, 10 * time.Second, time.Minute},
		InProgressDelay:  time.Second, InboxLease: time.Minute}
	if fmt.Sprint(o) != fmt.Sprint(want) {
		t.Errorf("normalize(zero) = %+v, want %+v", o, want)
	}
	o, _ = SubscriptionOptions{Workers: 8, Prefetch: 2}.normalize("s")
	if o.Prefetch != 8 {
		t.Errorf("normalize(Workers 8, Prefetch 2).Prefetch = %d, want 8 (at least Workers)", o.Prefetch)
	}
	o, _ = SubscriptionOptions{RedeliveryDelays: []time.Duration{time.Second}, InProgressDelay: 3 * time.Second}.normalize("s")
	if got := o.redeliveryDelays(); fmt.Sprint(got) != "[1s 3s]" {
		t.Errorf("redeliveryDelays() = %v, want [1s 3s] (tiers and the in-progress delay)", got)
	}
	for _, tt := range []struct {
		o     SubscriptionOptions
		field string
	}{
		{SubscriptionOptions{Workers: -1}, "Workers"},
		{SubscriptionOptions{Prefetch: -1}, "Prefetch"},
		{SubscriptionOptions{Timeout: -time.Second}, "Timeout"},
		{SubscriptionOptions{MaxAttempts: -1}, "MaxAttempts"},
		{SubscriptionOptions{RedeliveryDelays: []time.Duration{}}, "RedeliveryDelays"},
		{SubscriptionOptions{RedeliveryDelays: []time.Duration{time.Second, 0}}, "RedeliveryDelays[1]"},
		{SubscriptionOptions{InProgressDelay: -1}, "InProgressDelay"},
		{SubscriptionOptions{InboxLease: -1}, "InboxLease"},
	} {
		_, err := tt.o.normalize("welcome-email")
		if err == nil || !strings.Contains(err.Error(), "SubscriptionOptions."+tt.field+" ") || !strings.Contains(err.Error(), `"welcome-email"`) {
			t.Errorf("normalize(%+v) = %v, want an error naming SubscriptionOptions.%s and the subscription", tt.o, err, tt.field)
		}
	}
}

type xmlCodec struct{}

func (xmlCodec) ContentType() string                { return "application/xml" }
func (xmlCodec) Marshal(v any) ([]byte, error)      { return nil, nil }
func (xmlCodec) Unmarshal(data []byte, v any) error { return nil }

func TestCodecLookup(t *testing.T) {
	cs, err := newCodecs([]Codec{JSON{}, xmlCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		contentType string
		want        string // content type of the codec found; "" for none
	}{
		{"", "application/json"},
		{"application/json", "application/json"},
		{"application/json; charset=utf-8", "application/json"},
		{"Application/JSON", "application/json"},
		{"application/xml", "application/xml"},
		{"text/plain", ""},
		{"json;;", ""},
	}
	for _, tt := range tests {
		c, ok := cs.lookup(tt.contentType)
		got := ""
		if ok {
			got = c.ContentType()
		}
		if got != tt.want {
			t.Errorf("lookup(%q) = %q, want %q", tt.contentType, got, tt.want)
		}
	}
	if cs.publish.ContentType() != "application/json" {
		t.Errorf("publishing codec = %s, want the first", cs.publish.ContentType())
	}
	if _, err := newCodecs([]Codec{nil}); err == nil {
		t.Errorf("newCodecs(nil codec) error = nil")
	}
	if cs, _ := newCodecs(nil); cs.publish == nil {
		t.Errorf("newCodecs(nil) has no publishing codec, want JSON")
	}
}

func TestHeaderSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          "plain",
		"line\nbreak\r!": "line break !",
		"tab\there":      "tab here",
	} {
		if got := headerSafe(in); got != want {
			t.Errorf("headerSafe(%q) = %q, want %q", in, got, want)
		}
	}
	if got := headerSafe(strings.Repeat("x", 5000)); len(got) != 1024 {
		t.Errorf("len(headerSafe(5000 bytes)) = %d, want 1024", len(got))
	}
}
