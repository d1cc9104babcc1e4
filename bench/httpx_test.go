package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/rampart-go/rampart/httpx"
)

// The same configuration for every library that has it: 3 retries with exponential
// backoff, a breaker that opens at 50% failures over at least 10 calls in 30s and
// stays open 5s, a 10s timeout per attempt (and, for Rampart, a 30s total timeout).
// Every request is a GET on a loopback server that answers 200 with a small JSON
// body, read to the end and closed, over a keep-alive connection.

const benchBody = `{"id":"pay_123","status":"succeeded","amount":1999,"currency":"EUR"}`

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchBody)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// newBaseTransport is the base transport of every library but Rampart, which brings
// its own: net/http's defaults.
func newBaseTransport() *http.Transport { return http.DefaultTransport.(*http.Transport).Clone() }

// benchGet sends one GET through c and reads the response.
func benchGet(b *testing.B, c *http.Client, url string) {
	benchGetCtx(b, context.Background(), c, url)
}

// benchGetCtx is benchGet under ctx.
func benchGetCtx(b *testing.B, ctx context.Context, c *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		b.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// metrics is what a metrics Observer does per attempt: count by status class and
// add the duration to a histogram, without allocating.
type metrics struct {
	byClass [6]atomic.Int64
	buckets [16]atomic.Int64
}

func (m *metrics) ObserveAttempt(_ context.Context, a httpx.AttemptInfo) {
	class := 0
	if a.Response != nil {
		class = min(a.Response.StatusCode/100, 5)
	}
	m.byClass[class].Add(1)
	i := 0
	for d := a.Duration / (50 * time.Microsecond); d > 0 && i < len(m.buckets)-1; d /= 2 {
		i++
	}
	m.buckets[i].Add(1)
}

// cpuTime returns the CPU time the process has used, user and system, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerOp holds the CPU time per operation of each sub-benchmark of the run, by name.
var cpuPerOp sync.Map

// logCPU logs the CPU time per operation (client and server: the process), which a
// busy machine disturbs less than the wall time, and its ratio to net/http's. It is
// logged rather than reported as a metric so that bench/cmd/benchtable still reads
// the lines.
func logCPU(b *testing.B, cpu time.Duration) {
	if b.N < 1000 {
		return // the calibration runs of b.Loop
	}
	per := float64(cpu.Nanoseconds()) / float64(b.N)
	name := b.Name()
	cpuPerOp.Store(name, per)
	base := name[:strings.LastIndex(name, "lib=")] + "lib=net-http"
	if v, ok := cpuPerOp.Load(base); ok && base != name {
		b.Logf("CPU %.0f ns/op (process, client and server), %.2f× net/http's %.0f", per, per/v.(float64), v.(float64))
	} else {
		b.Logf("CPU %.0f ns/op (process, client and server)", per)
	}
}

// BenchmarkHTTPGet: one successful GET per iteration.
func BenchmarkHTTPGet(b *testing.B) {
	srv := benchServer(b)
	run := func(b *testing.B, c *http.Client) {
		b.Cleanup(c.CloseIdleConnections)
		benchGet(b, c, srv.URL) // open the connection
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			benchGet(b, c, srv.URL)
		}
		logCPU(b, cpuTime()-cpu0)
	}

	b.Run("lib=net-http", func(b *testing.B) {
		run(b, &http.Client{Transport: newBaseTransport()})
	})
	// net/http as a real caller uses it: each request under a context with a
	// deadline, which costs the transport more than context.Background().
	b.Run("lib=net-http-ctx", func(b *testing.B) {
		c := &http.Client{Transport: newBaseTransport()}
		b.Cleanup(c.CloseIdleConnections)
		benchGet(b, c, srv.URL)
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			benchGetCtx(b, ctx, c, srv.URL)
			cancel()
		}
		logCPU(b, cpuTime()-cpu0)
	})
	b.Run("lib=rampart", func(b *testing.B) {
		c, err := httpx.NewHTTPClient(httpx.Options{
			Name:     "bench",
			Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)), // enabled at Info
			Observer: &metrics{},
		})
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
	b.Run("lib=failsafehttp", func(b *testing.B) {
		rp := failsafehttp.NewRetryPolicyBuilder().
			WithMaxRetries(3).
			WithBackoff(100*time.Millisecond, 30*time.Second).
			Build()
		cb := circuitbreaker.NewBuilder[*http.Response]().
			WithFailureRateThreshold(0.5, 10, 30*time.Second).
			WithDelay(5 * time.Second).
			Build()
		to := timeout.New[*http.Response](10 * time.Second)
		run(b, &http.Client{Transport: failsafehttp.NewRoundTripper(newBaseTransport(), rp, cb, to)})
	})
	b.Run("lib=retryablehttp", func(b *testing.B) {
		rc := retryablehttp.NewClient()
		rc.Logger = nil
		rc.RetryMax = 3
		rc.HTTPClient = &http.Client{Transport: newBaseTransport()}
		run(b, rc.StandardClient())
	})
}

// BenchmarkHTTPGetPaired measures the CPU time per request of each client
// relative to bare net/http's, in a way a busy machine disturbs less than
// BenchmarkHTTPGet's sequential sub-benchmarks: every iteration is one round in
// which each client in turn sends the same number of GETs (the order rotating
// from round to round), and the process CPU time of each client's share is
// divided by net/http's in the same round. It reports the median of those
// per-round ratios as "<lib>/net-http" metrics.
//
//	go test -run '^$' -bench HTTPGetPaired -benchtime 60x .
func BenchmarkHTTPGetPaired(b *testing.B) {
	const perRound = 500
	srv := benchServer(b)
	rampart, err := httpx.NewHTTPClient(httpx.Options{
		Name:     "bench",
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)), // enabled at Info
		Observer: &metrics{},
	})
	if err != nil {
		b.Fatal(err)
	}
	type lib struct {
		name   string
		c      *http.Client
		ctx    bool // each request under its own context.WithTimeout
		ratios []float64
	}
	// The same pipeline with logging switched off (slog.DiscardHandler is never
	// enabled), to tell the cost of the Info record from the rest.
	quiet, err := httpx.NewHTTPClient(httpx.Options{
		Name:     "bench",
		Logger:   slog.New(slog.DiscardHandler),
		Observer: &metrics{},
	})
	if err != nil {
		b.Fatal(err)
	}
	libs := []*lib{
		{name: "net-http", c: &http.Client{Transport: newBaseTransport()}},
		{name: "net-http-ctx", c: &http.Client{Transport: newBaseTransport()}, ctx: true},
		{name: "rampart", c: rampart},
		{name: "rampart-nolog", c: quiet},
	}
	for _, l := range libs {
		b.Cleanup(l.c.CloseIdleConnections)
		benchGet(b, l.c, srv.URL) // open the connection
	}
	share := func(l *lib) time.Duration {
		cpu0 := cpuTime()
		for range perRound {
			if l.ctx {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				benchGetCtx(b, ctx, l.c, srv.URL)
				cancel()
			} else {
				benchGet(b, l.c, srv.URL)
			}
		}
		return cpuTime() - cpu0
	}
	round := 0
	for b.Loop() {
		cpu := make([]time.Duration, len(libs))
		for k := range libs {
			i := (round + k) % len(libs)
			cpu[i] = share(libs[i])
		}
		round++
		for i, l := range libs[1:] {
			l.ratios = append(l.ratios, float64(cpu[i+1])/float64(cpu[0]))
		}
	}
	for _, l := range libs[1:] {
		if len(l.ratios) == 0 {
			continue
		}
		r := slices.Clone(l.ratios)
		slices.Sort(r)
		b.ReportMetric(r[len(r)/2], l.name+"/net-http")
	}
}
