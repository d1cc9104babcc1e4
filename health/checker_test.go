package health_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/health"
	"github.com/rampart-go/rampart/internal/testenv"
)

// A storm of probes over real HTTP runs each check once per CacheFor.
func TestCacheUnderConcurrentRequests(t *testing.T) {
	var db, cache atomic.Int64
	slow := func(context.Context) (health.Result, error) {
		time.Sleep(20 * time.Millisecond)
		return health.Result{}, nil
	}
	c := newChecker(t, health.Config{
		CacheFor:  time.Hour,
		Readiness: []health.Source{counted("db", &db, slow), counted("cache", &cache, slow)},
	})
	srv := httptest.NewServer(c.Handler(health.Readiness))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	const n = 50
	var wg sync.WaitGroup
	codes := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Errorf("request %d = %d, want 200", i, code)
		}
	}
	if db.Load() != 1 || cache.Load() != 1 {
		t.Errorf("after %d concurrent requests the checks ran %d and %d times, want once each", n, db.Load(), cache.Load())
	}
}

// Requests that arrive while a check runs wait for that run (single flight), and
// every one of them gets its result.
func TestSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int64
		c := newChecker(t, health.Config{
			CacheFor: -1, // no reuse: only joining a run in flight saves work
			Readiness: []health.Source{counted("db", &runs, func(context.Context) (health.Result, error) {
				time.Sleep(time.Second)
				return health.Result{ObservedValue: 1}, nil
			})},
		})
		h := c.Handler(health.Readiness)
		start := time.Now()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				r := serve(t, h, "/")
				if r.code != 200 || time.Since(start) != time.Second {
					t.Errorf("GET = %d after %s, want 200 after 1s", r.code, time.Since(start))
				}
			})
		}
		synctest.Wait()
		if got := runs.Load(); got != 1 {
			t.Errorf("50 requests during one run started %d runs, want 1", got)
		}
		wg.Wait()

		// With no reuse, the next request runs the check again.
		serve(t, h, "/")
		if got := runs.Load(); got != 2 {
			t.Errorf("after the run, a new request made %d runs in all, want 2", got)
		}
	})
}

func TestCacheFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int64
		c := newChecker(t, health.Config{
			CacheFor:  10 * time.Second,
			Readiness: []health.Source{counted("db", &runs, nil)},
			Startup:   []health.Source{counted("db", &runs, nil)}, // the same key: shares the result
		})
		first := c.Evaluate(t.Context(), health.Readiness).Checks["db:status"][0].Time
		c.Evaluate(t.Context(), health.Startup)
		time.Sleep(10*time.Second - time.Nanosecond)
		again := c.Evaluate(t.Context(), health.Readiness).Checks["db:status"][0].Time
		if runs.Load() != 1 || !again.Equal(first) {
			t.Errorf("within CacheFor: %d runs, reading of %v, want 1 run and the reading of %v", runs.Load(), again, first)
		}
		time.Sleep(time.Nanosecond)
		later := c.Evaluate(t.Context(), health.Readiness).Checks["db:status"][0].Time
		if runs.Load() != 2 || !later.Equal(first.Add(10*time.Second)) {
			t.Errorf("after CacheFor: %d runs, reading of %v, want 2 runs and a reading of %v", runs.Load(), later, first.Add(10*time.Second))
		}
	})
}

func TestDefaultCacheFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int64
		c := newChecker(t, health.Config{Readiness: []health.Source{counted("db", &runs, nil)}})
		c.Evaluate(t.Context(), health.Readiness)
		time.Sleep(health.DefaultCacheFor - time.Nanosecond)
		c.Evaluate(t.Context(), health.Readiness)
		if runs.Load() != 1 {
			t.Errorf("within the default CacheFor: %d runs, want 1", runs.Load())
		}
		time.Sleep(time.Nanosecond)
		c.Evaluate(t.Context(), health.Readiness)
		if runs.Load() != 2 {
			t.Errorf("after the default CacheFor: %d runs, want 2", runs.Load())
		}
	})
}

// Checks run concurrently: a probe takes as long as its slowest check.
func TestChecksRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sources []health.Source
		for i, d := range []time.Duration{300, 100, 200} {
			sources = append(sources, health.Check{
				Component: string(rune('a' + i)),
				Run: func(ctx context.Context) (health.Result, error) {
					time.Sleep(d * time.Millisecond)
					return health.Result{}, nil
				},
			})
		}
		c := newChecker(t, health.Config{Readiness: sources})
		start := time.Now()
		r := c.Evaluate(t.Context(), health.Readiness)
		if took := time.Since(start); took != 300*time.Millisecond || r.Status != health.StatusPass {
			t.Errorf("three checks of 300, 100 and 200ms = %q after %s, want pass after 300ms", r.Status, took)
		}
	})
}

func TestPanickingCheck(t *testing.T) {
	var logs syncBuffer
	var runs atomic.Int64
	c := newChecker(t, health.Config{
		CacheFor: -1,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Readiness: []health.Source{
			counted("boom", &runs, func(context.Context) (health.Result, error) { panic("nil map write") }),
			fixed("db", health.Result{}, nil),
		},
	})
	for i := range 2 { // the checker survives and runs the check again
		r := serve(t, c.Handler(health.Readiness), "/")
		if r.code != 503 || r.body.Status != health.StatusFail {
			t.Errorf("GET #%d with a panicking check = %d %q, want 503 fail", i, r.code, r.body.Status)
		}
		boom := r.one(t, "boom:status")
		if boom.Status != health.StatusFail || boom.Output != "health: check panicked: nil map write" {
			t.Errorf("checks[boom:status] = %q %q, want fail with the panic", boom.Status, boom.Output)
		}
		if got := r.one(t, "db:status").Status; got != health.StatusPass {
			t.Errorf("checks[db:status] = %q, want pass despite the other check's panic", got)
		}
	}
	if runs.Load() != 2 {
		t.Errorf("panicking check ran %d times, want 2", runs.Load())
	}
	if out := logs.String(); !strings.Contains(out, "health: check panicked") || !strings.Contains(out, "checker_test.go") {
		t.Errorf("log = %q, want the panic with its stack", out)
	}
}

func TestPanicNil(t *testing.T) {
	c := newChecker(t, health.Config{Readiness: []health.Source{
		fixed("x", health.Result{}, nil),
		health.Check{Component: "nil", Run: func(context.Context) (health.Result, error) { panic(nil) }},
	}})
	r := c.Evaluate(t.Context(), health.Readiness)
	if got := r.Checks["nil"][0]; got.Status != health.StatusFail || !strings.Contains(got.Output, "panicked") {
		t.Errorf("panic(nil) = %+v, want a fail", got)
	}
}

// A check that exits its goroutine (runtime.Goexit, as t.FailNow does) is a fail,
// and does not keep the Checker from closing.
func TestGoexitCheck(t *testing.T) {
	c, err := health.New(health.Config{Readiness: []health.Source{health.Check{
		Component: "goexit",
		Run: func(context.Context) (health.Result, error) {
			runtime.Goexit()
			return health.Result{}, nil
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Evaluate(t.Context(), health.Readiness)
	if got := r.Checks["goexit"][0]; got.Status != health.StatusFail || got.Output != "health: check exited its goroutine without returning" {
		t.Errorf("a check that calls Goexit = %+v, want a fail that says so", got)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}

// A check that ignores its context is a fail at its timeout; the request does not
// wait for it, and it is not started again while it runs.
func TestHangingCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		var runs atomic.Int64
		release := make(chan struct{})
		c := newChecker(t, health.Config{
			CacheFor: time.Second,
			Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
			Readiness: []health.Source{
				health.Check{
					Component: "stuck",
					Timeout:   100 * time.Millisecond,
					Run: func(context.Context) (health.Result, error) {
						runs.Add(1)
						<-release // ignores its context
						return health.Result{}, nil
					},
				},
				fixed("db", health.Result{}, nil),
			},
		})
		h := c.Handler(health.Readiness)
		start := time.Now()
		r := serve(t, h, "/")
		stuck := r.one(t, "stuck")
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Errorf("a hanging check held the request for %s, want its 100ms timeout", took)
		}
		if r.code != 503 || stuck.Status != health.StatusFail || stuck.Output != "health: timed out after 100ms" {
			t.Errorf("GET with a hanging check = %d, stuck %q %q; want 503, fail, timed out after 100ms", r.code, stuck.Status, stuck.Output)
		}

		// After CacheFor the check still hangs: reported at once, not started again.
		time.Sleep(2 * time.Second)
		start = time.Now()
		r = serve(t, h, "/")
		stuck = r.one(t, "stuck")
		if time.Since(start) != 0 || runs.Load() != 1 {
			t.Errorf("while the check hangs: waited %s, %d runs; want no wait and 1 run", time.Since(start), runs.Load())
		}
		want := "health: timed out after 100ms, still running since 2000-01-01T00:00:00Z: a check must return when its context is done"
		if stuck.Status != health.StatusFail || stuck.Output != want {
			t.Errorf("stuck = %q %q, want fail %q", stuck.Status, stuck.Output, want)
		}
		if !strings.Contains(logs.String(), "health: check still running after its timeout") {
			t.Errorf("log = %q, want a warning about the hanging check", logs.String())
		}

		// Once it returns, the next evaluation after CacheFor runs it again.
		close(release)
		synctest.Wait()
		time.Sleep(time.Second)
		r = serve(t, h, "/")
		if runs.Load() != 2 || r.code != 200 {
			t.Errorf("after the hang: %d runs, GET = %d; want 2 runs and 200", runs.Load(), r.code)
		}
	})
}

// A check that honours its context ends at its timeout with the same report.
func TestSlowCheckHonouringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var returned atomic.Bool
		c := newChecker(t, health.Config{
			Timeout: 250 * time.Millisecond,
			Readiness: []health.Source{health.Check{
				Component: "slow",
				Run: func(ctx context.Context) (health.Result, error) {
					defer returned.Store(true)
					select {
					case <-time.After(time.Hour):
						return health.Result{}, nil
					case <-ctx.Done():
						return health.Result{}, ctx.Err()
					}
				},
			}},
		})
		start := time.Now()
		r := c.Evaluate(t.Context(), health.Readiness)
		got := r.Checks["slow"][0]
		if time.Since(start) != 250*time.Millisecond || got.Output != "health: timed out after 250ms" {
			t.Errorf("slow check = %q after %s, want %q after 250ms", got.Output, time.Since(start), "health: timed out after 250ms")
		}
		synctest.Wait()
		if !returned.Load() {
			t.Error("the check has not returned after its context was cancelled")
		}
	})
}

func TestDefaultTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, health.Config{Readiness: []health.Source{health.Check{
			Component: "slow",
			Run: func(ctx context.Context) (health.Result, error) {
				<-ctx.Done()
				return health.Result{}, ctx.Err()
			},
		}}})
		start := time.Now()
		c.Evaluate(t.Context(), health.Readiness)
		if took := time.Since(start); took != health.DefaultTimeout {
			t.Errorf("a check with no timeout set was cut after %s, want %s", took, health.DefaultTimeout)
		}
	})
}

// A request that goes away gets failures for the checks still running; the run
// goes on, and the next request gets its result.
func TestRequestCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int64
		c := newChecker(t, health.Config{
			CacheFor: time.Minute,
			Readiness: []health.Source{counted("db", &runs, func(ctx context.Context) (health.Result, error) {
				time.Sleep(time.Second)
				return health.Result{ObservedValue: "ok"}, ctx.Err()
			})},
		})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		r := c.Evaluate(ctx, health.Readiness)
		got := r.Checks["db:status"][0]
		if r.Status != health.StatusFail || got.Output != "health: no result before the request ended: context deadline exceeded" {
			t.Errorf("Evaluate with a short deadline = %q, %q; want fail, no result before the request ended", r.Status, got.Output)
		}
		time.Sleep(time.Second)
		r = c.Evaluate(t.Context(), health.Readiness)
		if r.Status != health.StatusPass || runs.Load() != 1 {
			t.Errorf("next Evaluate = %q after %d runs, want pass from the one run", r.Status, runs.Load())
		}
	})
}

func TestDraining(t *testing.T) {
	var runs atomic.Int64
	c := newChecker(t, health.Config{
		CacheFor:  -1,
		Liveness:  []health.Source{fixed("loop", health.Result{}, nil)},
		Readiness: []health.Source{counted("db", &runs, nil)},
		Startup:   []health.Source{fixed("migrations", health.Result{}, nil)},
	})
	live, ready, started := c.Handler(health.Liveness), c.Handler(health.Readiness), c.Handler(health.Startup)
	if r := serve(t, ready, "/"); r.code != 200 {
		t.Fatalf("GET ready before draining = %d, want 200", r.code)
	}
	c.SetDraining(true)
	if !c.Draining() {
		t.Error("Draining() = false after SetDraining(true)")
	}
	r := serve(t, ready, "/")
	if r.code != 503 || r.body.Status != health.StatusFail || r.body.Output != "draining" || len(r.body.Checks) != 0 {
		t.Errorf("GET ready while draining = %d %q %q with %d checks, want 503 fail \"draining\" and no checks", r.code, r.body.Status, r.body.Output, len(r.body.Checks))
	}
	if runs.Load() != 1 {
		t.Errorf("readiness checks ran %d times, want 1: draining runs none", runs.Load())
	}
	if r := serve(t, live, "/"); r.code != 200 || r.body.Status != health.StatusPass {
		t.Errorf("GET live while draining = %d %q, want 200 pass", r.code, r.body.Status)
	}
	if r := serve(t, started, "/"); r.code != 200 {
		t.Errorf("GET startup while draining = %d, want 200", r.code)
	}
	c.SetDraining(false)
	if r := serve(t, ready, "/"); r.code != 200 || runs.Load() != 2 {
		t.Errorf("GET ready after SetDraining(false) = %d after %d runs, want 200 after 2", r.code, runs.Load())
	}
}

func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, health.Config{DrainDelay: 5 * time.Second})
		ready := c.Handler(health.Readiness)
		start := time.Now()
		done := make(chan error)
		go func() { done <- c.Shutdown(t.Context()) }()
		synctest.Wait()
		if r := serve(t, ready, "/"); r.code != 503 || r.body.Output != "draining" {
			t.Errorf("GET ready during Shutdown = %d %q, want 503 draining at once", r.code, r.body.Output)
		}
		if err := <-done; err != nil || time.Since(start) != 5*time.Second {
			t.Errorf("Shutdown = %v after %s, want nil after the 5s DrainDelay", err, time.Since(start))
		}
		if r := serve(t, c.Handler(health.Liveness), "/"); r.code != 200 {
			t.Errorf("GET live after Shutdown = %d, want 200", r.code)
		}

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 6*time.Second {
			t.Errorf("Shutdown with a 1s context = %v, want DeadlineExceeded after 1s", err)
		}
	})
}

func TestShutdownWithoutDelay(t *testing.T) {
	c := newChecker(t, health.Config{})
	if err := c.Shutdown(t.Context()); err != nil || !c.Draining() {
		t.Errorf("Shutdown = %v, draining %v; want nil and draining", err, c.Draining())
	}
}

func TestStartupPassesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var migrations, cache atomic.Int64
		c := newChecker(t, health.Config{
			CacheFor: -1,
			Startup: []health.Source{
				counted("migrations", &migrations, func(context.Context) (health.Result, error) {
					if migrations.Load() < 3 {
						return health.Result{}, errors.New("pending")
					}
					return health.Result{}, nil
				}),
				counted("cache", &cache, nil), // passes at once
			},
		})
		h := c.Handler(health.Startup)
		for i, want := range []int{503, 503, 200, 200, 200} {
			r := serve(t, h, "/")
			if r.code != want {
				t.Errorf("GET startup #%d = %d, want %d; body %s", i+1, r.code, want, r.raw)
			}
			time.Sleep(time.Minute)
		}
		if migrations.Load() != 3 || cache.Load() != 1 {
			t.Errorf("runs: migrations %d, cache %d; want 3 and 1: a check that passed is not run again", migrations.Load(), cache.Load())
		}
	})
}

// A non-critical startup check that fails makes startup a warn (HTTP 200) but does
// not latch it: it keeps being tried.
func TestStartupNonCritical(t *testing.T) {
	var runs atomic.Int64
	optional := counted("warmup", &runs, func(context.Context) (health.Result, error) { return health.Result{}, errDown })
	optional.NonCritical = true
	c := newChecker(t, health.Config{CacheFor: -1, Startup: []health.Source{optional}})
	for range 2 {
		if r := serve(t, c.Handler(health.Startup), "/"); r.code != 200 || r.body.Status != health.StatusWarn {
			t.Errorf("GET startup = %d %q, want 200 warn", r.code, r.body.Status)
		}
	}
	if runs.Load() != 2 {
		t.Errorf("failing non-critical startup check ran %d times, want 2", runs.Load())
	}
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cancelled atomic.Bool
		c, err := health.New(health.Config{Readiness: []health.Source{health.Check{
			Component: "db",
			Timeout:   time.Hour,
			Run: func(ctx context.Context) (health.Result, error) {
				<-ctx.Done()
				cancelled.Store(true)
				return health.Result{}, ctx.Err()
			},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		go c.Evaluate(t.Context(), health.Readiness)
		synctest.Wait()
		if err := c.Close(t.Context()); err != nil || !cancelled.Load() {
			t.Errorf("Close = %v, check cancelled %v; want nil, true", err, cancelled.Load())
		}
		if err := c.Close(t.Context()); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		for _, p := range []health.Probe{health.Liveness, health.Readiness, health.Startup} {
			if r := serve(t, c.Handler(p), "/"); r.code != 503 || r.body.Output != "closed" {
				t.Errorf("GET %s after Close = %d %q, want 503 closed", p, r.code, r.body.Output)
			}
		}
	})
}

// Close gives up on a check that ignores its context when ctx is done, and
// succeeds once the check returns.
func TestCloseWithHangingCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c, err := health.New(health.Config{Readiness: []health.Source{health.Check{
			Component: "stuck",
			Run: func(context.Context) (health.Result, error) {
				<-release
				return health.Result{}, nil
			},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		c.Evaluate(t.Context(), health.Readiness)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err = c.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 checks still running") {
			t.Errorf("Close with a hanging check = %v, want DeadlineExceeded naming 1 running check", err)
		}
		close(release)
		if err := c.Close(t.Context()); err != nil {
			t.Errorf("Close after the check returned = %v, want nil", err)
		}
	})
}

func TestNewErrors(t *testing.T) {
	ok := fixed("ok", health.Result{}, nil)
	tests := []struct {
		name string
		cfg  health.Config
		want string
	}{
		{"negative timeout", health.Config{Timeout: -1}, "health: Config.Timeout: must not be negative, got -1ns"},
		{"negative drain delay", health.Config{DrainDelay: -time.Second}, "health: Config.DrainDelay: must not be negative, got -1s"},
		{"unknown details", health.Config{Details: 9}, "health: Config.Details: must be DetailsAlways, DetailsOnRequest or DetailsNever, got 9"},
		{"nil source", health.Config{Readiness: []health.Source{ok, nil}}, "health: Config.Readiness[1]: is nil"},
		{"nil *Check", health.Config{Startup: []health.Source{(*health.Check)(nil)}}, "health: Config.Startup[0]: is nil"},
		{"no component", health.Config{Liveness: []health.Source{health.Check{Run: ok.Run}}}, "health: Config.Liveness[0]: : Component is empty"},
		{"colon in component", health.Config{Readiness: []health.Source{health.Check{Component: "a:b", Run: ok.Run}}}, `health: Config.Readiness[0]: a:b: Component "a:b" contains a colon`},
		{"colon in measurement", health.Config{Readiness: []health.Source{health.Check{Component: "a", Measurement: "b:c", Run: ok.Run}}}, `health: Config.Readiness[0]: a:b:c: Measurement "b:c" contains a colon`},
		{"no run", health.Config{Readiness: []health.Source{health.Check{Component: "a"}}}, "health: Config.Readiness[0]: a: Run is nil"},
		{"negative check timeout", health.Config{Readiness: []health.Source{health.Check{Component: "a", Run: ok.Run, Timeout: -1}}}, "health: Config.Readiness[0]: a: Timeout must not be negative, got -1ns"},
		{"duplicate", health.Config{Readiness: []health.Source{ok, &ok}}, "health: Config.Readiness[1]: ok:status: the same key and ComponentID as Readiness[0]"},
		{"nil ping", health.Config{Readiness: []health.Source{health.Ping("redis", nil)}}, "health: Config.Readiness[0]: redis:responseTime: Ping: the ping function is nil"},
		{"bad URL scheme", health.Config{Readiness: []health.Source{health.HTTP("api", "ftp://x", health.HTTPOptions{})}}, `health: Config.Readiness[0]: api:responseTime: HTTP: URL scheme must be http or https, got "ftp"`},
		{"URL without host", health.Config{Readiness: []health.Source{health.HTTP("api", "http:///x", health.HTTPOptions{})}}, "health: Config.Readiness[0]: api:responseTime: HTTP: URL has no host"},
		{"bad status range", health.Config{Readiness: []health.Source{health.HTTP("api", "http://x", health.HTTPOptions{MinStatus: 500, MaxStatus: 400})}}, "health: Config.Readiness[0]: api:responseTime: HTTPOptions: status range 500-400: want 100 <= MinStatus <= MaxStatus <= 599"},
		{"nil connection", health.Config{Readiness: []health.Source{health.RabbitMQ(nil, health.ConnectionOptions{})}}, "health: Config.Readiness[0]: rabbitmq:connection: Connection: the connection state is nil"},
		{"negative consumers", health.Config{Readiness: []health.Source{health.NATS(&fakeConn{}, health.ConnectionOptions{MinConsumers: -1})}}, "health: Config.Readiness[0]: nats:connection: ConnectionOptions.MinConsumers: must not be negative, got -1"},
		{"bad blocked status", health.Config{Readiness: []health.Source{health.NATS(&fakeConn{}, health.ConnectionOptions{BlockedStatus: "down"})}}, `health: Config.Readiness[0]: nats:connection: ConnectionOptions.BlockedStatus: must be pass, warn or fail, got "down"`},
		{"nil breaker", health.Config{Readiness: []health.Source{health.Breaker(nil, health.BreakerCheckOptions{})}}, "health: Config.Readiness[0]: breaker:state: Breaker: the breaker is nil"},
		{"nil breaker source", health.Config{Readiness: []health.Source{health.Breakers(nil, health.BreakerCheckOptions{})}}, "health: Config.Readiness[0]: Breakers: the breaker source is nil"},
		{"bad open status", health.Config{Readiness: []health.Source{health.Breakers(health.BreakerList{}, health.BreakerCheckOptions{OpenStatus: "open"})}}, `health: Config.Readiness[0]: BreakerCheckOptions.OpenStatus: must be pass, warn or fail, got "open"`},
	}
	for _, tt := range tests {
		c, err := health.New(tt.cfg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: New = %v, want error %q", tt.name, err, tt.want)
		}
		if c != nil {
			t.Errorf("%s: New returned a Checker with its error", tt.name)
		}
	}

	_, err := health.New(health.Config{Timeout: -1, DrainDelay: -1})
	if err == nil || !strings.Contains(err.Error(), "Config.Timeout") || !strings.Contains(err.Error(), "Config.DrainDelay") {
		t.Errorf("New with two bad fields = %v, want both named", err)
	}

	// The same check in two probes is fine.
	if _, err := health.New(health.Config{Readiness: []health.Source{ok}, Startup: []health.Source{ok}}); err != nil {
		t.Errorf("New with a check in two probes = %v, want nil", err)
	}
}

type sourceFunc func() []health.Check

func (f sourceFunc) Checks() []health.Check { return f() }

// A Source is asked for its checks at each evaluation; one that panics or yields an
// invalid check is reported, not fatal, and duplicates are skipped.
func TestDynamicSources(t *testing.T) {
	var mu sync.Mutex
	var extra []health.Check
	dynamic := sourceFunc(func() []health.Check {
		mu.Lock()
		defer mu.Unlock()
		return extra
	})
	c := newChecker(t, health.Config{CacheFor: -1, Readiness: []health.Source{
		fixed("db", health.Result{}, nil),
		dynamic,
		sourceFunc(func() []health.Check { panic("registry gone") }),
	}})
	r := c.Evaluate(t.Context(), health.Readiness)
	src := r.Checks["health:sources"]
	if r.Status != health.StatusFail || len(src) != 1 || src[0].Output != "health: source panicked: registry gone" || src[0].ComponentID != "readiness[2]" {
		t.Errorf("a panicking source = %q, %+v; want fail with one entry naming readiness[2]", r.Status, src)
	}
	if len(r.Checks) != 2 {
		t.Errorf("checks = %v, want db and health:sources", sortedKeys(r.Checks))
	}

	mu.Lock()
	extra = []health.Check{fixed("queue", health.Result{}, nil), fixed("db", health.Result{}, errDown), {Component: "bad"}}
	mu.Unlock()
	r = c.Evaluate(t.Context(), health.Readiness)
	if got := r.Checks["db:status"]; len(got) != 1 || got[0].Status != health.StatusPass {
		t.Errorf("db:status = %+v, want the first check of that key only", got)
	}
	if got := r.Checks["queue:status"]; len(got) != 1 || got[0].Status != health.StatusPass {
		t.Errorf("queue:status = %+v, want the check added to the source", got)
	}
	if got := r.Checks["bad"]; len(got) != 1 || got[0].Output != "health: invalid check: Run is nil" {
		t.Errorf("bad = %+v, want a fail that says why", got)
	}
}

func TestLogStatusChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		var down atomic.Bool
		c := newChecker(t, health.Config{
			CacheFor: -1,
			Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime})),
			Readiness: []health.Source{health.Check{Component: "db", Run: func(context.Context) (health.Result, error) {
				if down.Load() {
					return health.Result{}, errDown
				}
				return health.Result{}, nil
			}}},
		})
		c.Evaluate(t.Context(), health.Readiness)
		c.Evaluate(t.Context(), health.Readiness)
		if logs.String() != "" {
			t.Errorf("log after two passes = %q, want nothing", logs.String())
		}
		down.Store(true)
		c.Evaluate(t.Context(), health.Readiness)
		c.Evaluate(t.Context(), health.Readiness)
		down.Store(false)
		c.Evaluate(t.Context(), health.Readiness)
		want := "level=WARN msg=\"health: check status changed\" check=db componentId=\"\" from=pass to=fail output=\"connection refused\"\n" +
			"level=INFO msg=\"health: check status changed\" check=db componentId=\"\" from=fail to=pass output=\"\"\n"
		if got := logs.String(); got != want {
			t.Errorf("log =\n%s\nwant\n%s", got, want)
		}
	})
}

// dropTime removes the time from log records.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

type syncBuffer = testenv.LogBuffer
