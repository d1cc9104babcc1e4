package stats_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/internal/customers/stats"
	"github.com/rampart-go/rampart/outbox"
)

type countingObserver struct{ n int }

func (c *countingObserver) ObserveAttempt(context.Context, httpx.AttemptInfo) { c.n++ }

func TestHTTPObserver(t *testing.T) {
	r := stats.New()
	next := &countingObserver{}
	o := r.HTTPObserver("payments", next)
	if _, ok := o.(httpx.AttemptStarter); ok {
		t.Error("HTTPObserver(next without StartAttempt) starts attempts; want a plain Observer")
	}
	ctx := context.Background()
	for i, a := range []httpx.AttemptInfo{
		{Attempt: 1, Response: &http.Response{StatusCode: 503}, Duration: 30 * time.Millisecond},
		{Attempt: 2, Err: errors.New("reset"), Duration: 10 * time.Millisecond},
		{Attempt: 3, Response: &http.Response{StatusCode: 201}, Duration: 20 * time.Millisecond},
	} {
		o.ObserveAttempt(ctx, a)
		if next.n != i+1 {
			t.Fatalf("after %d attempts the next observer saw %d", i+1, next.n)
		}
	}
	got := r.Snapshot().Dependencies["payments"]
	if got.Attempts != 3 || got.Successes != 1 || got.Failures != 2 || got.Retries != 2 || got.Errors != 1 ||
		got.ByStatus[503] != 1 || got.ByStatus[201] != 1 {
		t.Errorf("Snapshot() = %+v; want 3 attempts, 1 success, 2 failures (1 without a response), 2 retries", got)
	}
	if got.Latency.P50 != 20 || got.Latency.Max != 30 {
		t.Errorf("latency = %+v; want p50 20ms, max 30ms", got.Latency)
	}
}

func TestOnSettleAndPublisher(t *testing.T) {
	r := stats.New()
	r.Subscription("welcome-email")
	for _, s := range []bus.Settlement{
		{Subscription: "welcome-email", Action: bus.ActionAck},
		{Subscription: "welcome-email", Action: bus.ActionSkip},
		{Subscription: "welcome-email", Action: bus.ActionRedeliver, Err: errors.New("503")},
		{Subscription: "welcome-email", Action: bus.ActionDeadLetter, Reason: bus.ReasonPermanent, Err: errors.New("invalid recipient")},
	} {
		r.OnSettle(s)
	}
	pub := r.Publisher(publishFunc(func(msgs ...bus.Message) error { return nil }))
	if err := pub.Publish(context.Background(), bus.Message{Type: "a.v1"}, bus.Message{Type: "a.v1"}); err != nil {
		t.Fatal(err)
	}
	failing := r.Publisher(publishFunc(func(msgs ...bus.Message) error { return errors.New("down") }))
	if err := failing.Publish(context.Background(), bus.Message{Type: "a.v1"}); err == nil {
		t.Fatal("Publish() through a failing publisher = nil; want its error")
	}
	snap := r.Snapshot()
	s := snap.Subscriptions["welcome-email"]
	if s.Acked != 1 || s.Skipped != 1 || s.Redelivered != 1 || s.DeadLettered != 1 || s.DeadByReason["permanent-error"] != 1 || s.LastError != "invalid recipient" {
		t.Errorf("subscription stats = %+v", s)
	}
	if snap.Published["a.v1"] != 2 || snap.PublishErrors != 1 {
		t.Errorf("published = %v, errors %d; want 2 of a.v1 and 1 error", snap.Published, snap.PublishErrors)
	}
}

type publishFunc func(msgs ...bus.Message) error

func (f publishFunc) Publish(_ context.Context, msgs ...bus.Message) error { return f(msgs...) }

func TestOnPark(t *testing.T) {
	r := stats.New()
	if got := r.Snapshot().Parked; got == nil || len(got) != 0 {
		t.Errorf("Parked before any park = %v; want an empty map", got)
	}
	for _, reason := range []outbox.ParkReason{outbox.ParkUnroutable, outbox.ParkUnroutable, outbox.ParkMaxAttempts} {
		r.OnPark(outbox.Parked{ID: "e", Type: "a.v1", Reason: reason, Attempts: 1, Err: bus.ErrUnroutable})
	}
	snap := r.Snapshot()
	if snap.Parked["unroutable"] != 2 || snap.Parked["max-attempts"] != 1 || len(snap.Parked) != 2 {
		t.Errorf("Parked = %v; want unroutable 2, max-attempts 1", snap.Parked)
	}
	snap.Parked["unroutable"] = 100 // a copy
	if got := r.Snapshot().Parked["unroutable"]; got != 2 {
		t.Errorf("Parked[unroutable] after changing a snapshot = %d; want 2", got)
	}
}
