package health_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/health"
	"github.com/rampart-go/rampart/resilience"
)

func newBreaker(t *testing.T, name string) *resilience.Breaker {
	t.Helper()
	b, err := resilience.NewBreaker(resilience.BreakerOptions{
		Name:                name,
		Mode:                resilience.TripConsecutiveFailures,
		ConsecutiveFailures: 1,
		BreakDuration:       5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trip opens b by failing one call through a pipeline.
func trip(t *testing.T, b *resilience.Breaker) {
	t.Helper()
	p, err := resilience.NewPipeline(resilience.PipelineOptions{Name: b.Name()}, b)
	if err != nil {
		t.Fatal(err)
	}
	p.Run(t.Context(), func(context.Context) error { return errors.New("503 from payments") })
	if b.State() != resilience.StateOpen {
		t.Fatalf("breaker %s is %s after a failure, want open", b.Name(), b.State())
	}
}

func TestBreakerStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, "payments")
		c := newChecker(t, health.Config{CacheFor: -1, Readiness: []health.Source{health.Breaker(b, health.BreakerCheckOptions{})}})
		h := c.Handler(health.Readiness)
		check := func(wantCode int, wantValue, wantStatus, wantOutput string) {
			t.Helper()
			r := serve(t, h, "/")
			got := r.one(t, "payments-breaker:state")
			if r.code != wantCode || got.ObservedValue != wantValue || string(got.Status) != wantStatus || got.Output != wantOutput {
				t.Errorf("GET = %d, check %v %q %q; want %d, %v %q %q", r.code, got.ObservedValue, got.Status, got.Output, wantCode, wantValue, wantStatus, wantOutput)
			}
			if got.ComponentID != "payments" || got.ComponentType != "component" {
				t.Errorf("componentId, componentType = %q, %q; want payments, component", got.ComponentID, got.ComponentType)
			}
		}
		check(200, "closed", "pass", "")

		time.Sleep(time.Second)
		trip(t, b) // at 00:00:01, half-opens at 00:00:06
		time.Sleep(2 * time.Second)
		check(200, "open", "warn", "open since 2000-01-01T00:00:01Z, half-opens at 2000-01-01T00:00:06Z (in 3s)")

		time.Sleep(4 * time.Second)
		check(200, "open", "warn", "open since 2000-01-01T00:00:01Z, half-open since 2000-01-01T00:00:06Z: the next call probes")

		permit, err := b.Allow() // the probe
		if err != nil {
			t.Fatal(err)
		}
		check(200, "half-open", "warn", "half-open: probing")
		permit.Done(false)
		check(200, "closed", "pass", "")

		b.Isolate()
		check(200, "isolated", "warn", "isolated: open until reset by hand")
		b.Reset()
		check(200, "closed", "pass", "")
	})
}

func TestBreakerOpenStatusFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, "payments")
		c := newChecker(t, health.Config{CacheFor: -1, Readiness: []health.Source{
			health.Breaker(b, health.BreakerCheckOptions{OpenStatus: health.StatusFail}),
		}})
		h := c.Handler(health.Readiness)
		trip(t, b)
		r := serve(t, h, "/")
		got := r.one(t, "payments-breaker:state")
		want := "open since 2000-01-01T00:00:00Z, half-opens at 2000-01-01T00:00:05Z (in 5s)"
		if r.code != 503 || got.Status != health.StatusFail || got.Output != want {
			t.Errorf("GET with an open breaker configured to fail = %d %q %q, want 503 fail %q", r.code, got.Status, got.Output, want)
		}
		b.Reset()
		b.Isolate()
		if r := serve(t, h, "/"); r.code != 503 {
			t.Errorf("GET with an isolated breaker configured to fail = %d, want 503", r.code)
		}
	})
}

func TestBreakerNonCritical(t *testing.T) {
	b := newBreaker(t, "recommendations")
	b.Isolate()
	c := newChecker(t, health.Config{Readiness: []health.Source{
		health.Breaker(b, health.BreakerCheckOptions{OpenStatus: health.StatusFail, NonCritical: true}),
	}})
	r := serve(t, c.Handler(health.Readiness), "/")
	if r.code != 200 || r.body.Status != health.StatusWarn || r.one(t, "recommendations-breaker:state").Status != health.StatusFail {
		t.Errorf("GET with a non-critical isolated breaker = %d %q, want 200 warn; body %s", r.code, r.body.Status, r.raw)
	}
}

// Breakers(registry) checks every breaker of the registry's pipelines, including
// those registered after the Checker was built.
func TestBreakersFromRegistry(t *testing.T) {
	var reg resilience.Registry
	payments, inventory := newBreaker(t, "payments"), newBreaker(t, "inventory.internal:443")
	for _, b := range []*resilience.Breaker{payments, inventory} {
		p, err := resilience.NewPipeline(resilience.PipelineOptions{Name: b.Name()}, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	c := newChecker(t, health.Config{CacheFor: -1, Readiness: []health.Source{health.Breakers(&reg, health.BreakerCheckOptions{})}})
	payments.Isolate()
	r := serve(t, c.Handler(health.Readiness), "/")
	if r.code != 200 || r.body.Status != health.StatusWarn {
		t.Errorf("GET with one isolated breaker = %d %q, want 200 warn", r.code, r.body.Status)
	}
	if got := sortedKeys(r.body.Checks); len(got) != 2 {
		t.Errorf("checks = %v, want one per breaker", got)
	}
	if got := r.one(t, "payments-breaker:state"); got.ObservedValue != "isolated" {
		t.Errorf("payments-breaker:state = %v, want isolated", got.ObservedValue)
	}
	if got := r.one(t, "inventory.internal-443-breaker:state"); got.ObservedValue != "closed" || got.ComponentID != "inventory.internal:443" {
		t.Errorf("inventory breaker = %v %q, want closed with its name as componentId", got.ObservedValue, got.ComponentID)
	}

	// A pipeline registered later, reusing a breaker and adding one.
	orders := newBreaker(t, "orders")
	p, err := resilience.NewPipeline(resilience.PipelineOptions{Name: "orders"}, orders, payments)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(p); err != nil {
		t.Fatal(err)
	}
	orders.Isolate()
	r = serve(t, c.Handler(health.Readiness), "/")
	if got := sortedKeys(r.body.Checks); len(got) != 3 || r.one(t, "orders-breaker:state").ObservedValue != "isolated" {
		t.Errorf("checks after registering orders = %v, want 3 with orders isolated", got)
	}
}

func TestBreakerList(t *testing.T) {
	a, b := newBreaker(t, "a"), newBreaker(t, "b")
	b.Isolate()
	c := newChecker(t, health.Config{Readiness: []health.Source{
		health.Breakers(health.BreakerList{a, b}, health.BreakerCheckOptions{OpenStatus: health.StatusFail}),
	}})
	r := serve(t, c.Handler(health.Readiness), "/")
	if r.code != 503 || r.one(t, "a-breaker:state").Status != health.StatusPass || r.one(t, "b-breaker:state").Status != health.StatusFail {
		t.Errorf("GET with breakers a closed, b isolated = %d; body %s; want 503 with a pass, b fail", r.code, r.raw)
	}
}

// A nil breaker in a dynamic list is reported, not a crash.
func TestBreakerListWithNil(t *testing.T) {
	c := newChecker(t, health.Config{Readiness: []health.Source{health.Breakers(health.BreakerList{nil}, health.BreakerCheckOptions{})}})
	r := c.Evaluate(t.Context(), health.Readiness)
	if got := r.Checks["breaker:state"]; r.Status != health.StatusFail || len(got) != 1 || got[0].Output != "health: invalid check: Breaker: the breaker is nil" {
		t.Errorf("Evaluate with a nil breaker = %q %+v, want a fail that says why", r.Status, got)
	}
}
