package health_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/health"
)

func TestPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down bool
		ping := func(ctx context.Context) error {
			time.Sleep(42 * time.Millisecond)
			if down {
				return errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
			}
			return nil
		}
		c := newChecker(t, health.Config{CacheFor: -1, Readiness: []health.Source{health.Ping("redis", ping)}})
		r := c.Evaluate(t.Context(), health.Readiness)
		got := r.Checks["redis:responseTime"][0]
		if r.Status != health.StatusPass || got.ObservedValue != 42.0 || got.ObservedUnit != "ms" || got.ComponentType != "datastore" {
			t.Errorf("Ping up = %q %+v, want pass, 42 ms, datastore", r.Status, got)
		}
		down = true
		r = c.Evaluate(t.Context(), health.Readiness)
		got = r.Checks["redis:responseTime"][0]
		if r.Status != health.StatusFail || got.Output != "dial tcp 127.0.0.1:6379: connect: connection refused" || got.ObservedValue != 42.0 {
			t.Errorf("Ping down = %q %+v, want fail with the error and the time it took", r.Status, got)
		}
	})
}

// A ping that honours its context (as database/sql's PingContext does) is cut at the
// check's timeout.
func TestPingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		check := health.Ping("postgres", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		check.Timeout = 300 * time.Millisecond
		c := newChecker(t, health.Config{Readiness: []health.Source{check}})
		start := time.Now()
		r := c.Evaluate(t.Context(), health.Readiness)
		got := r.Checks["postgres:responseTime"][0]
		if time.Since(start) != 300*time.Millisecond || got.Status != health.StatusFail || got.Output != "health: timed out after 300ms" {
			t.Errorf("Ping past its timeout = %q %q after %s, want fail, timed out after 300ms", got.Status, got.Output, time.Since(start))
		}
	})
}

// A cache is non-critical: its failure leaves the service ready, with a warn.
func TestPingNonCritical(t *testing.T) {
	cache := health.Ping("redis", func(context.Context) error { return errors.New("refused") })
	cache.NonCritical = true
	c := newChecker(t, health.Config{Readiness: []health.Source{
		health.Ping("postgres", func(context.Context) error { return nil }),
		cache,
	}})
	r := serve(t, c.Handler(health.Readiness), "/")
	if r.code != 200 || r.body.Status != health.StatusWarn || r.one(t, "redis:responseTime").Status != health.StatusFail {
		t.Errorf("GET with a failing non-critical cache = %d %q; want 200 warn with the cache's own fail; body %s", r.code, r.body.Status, r.raw)
	}
}
