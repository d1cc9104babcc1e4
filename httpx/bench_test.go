package httpx_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-go/rampart/httpx"
)

// cannedTransport answers every request at once with the same small response,
// without I/O, so that a benchmark measures what the pipeline itself costs.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), ContentLength: 2, Request: r,
	}, nil
}

type nopObserver struct{}

func (nopObserver) ObserveAttempt(context.Context, httpx.AttemptInfo) {}

// BenchmarkPipeline measures the cost of the pipeline's stages per request over a
// transport that does no I/O; compare with lib=none, the transport alone.
func BenchmarkPipeline(b *testing.B) {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://api.example.com/v1/payments/pay_1", nil)
	cases := []struct {
		name string
		rt   func() http.RoundTripper
	}{
		{"none", func() http.RoundTripper { return cannedTransport{} }},
		{"retry+breaker", func() http.RoundTripper {
			return must(httpx.NewTransport(httpx.Options{Base: cannedTransport{}, TotalTimeout: -1, AttemptTimeout: -1}))
		}},
		{"+timeouts", func() http.RoundTripper {
			return must(httpx.NewTransport(httpx.Options{Base: cannedTransport{}}))
		}},
		{"+timeouts+observer", func() http.RoundTripper {
			return must(httpx.NewTransport(httpx.Options{Base: cannedTransport{}, Observer: nopObserver{}}))
		}},
		{"+timeouts+observer+log", func() http.RoundTripper {
			return must(httpx.NewTransport(httpx.Options{Base: cannedTransport{}, Observer: nopObserver{},
				Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}))
		}},
	}
	for _, tc := range cases {
		b.Run("stages="+tc.name, func(b *testing.B) {
			rt := tc.rt()
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the CPU time the process has used, user and system, all threads:
// unlike the wall time, it counts the threads the runtime wakes up, and not the time
// the process waits for a busy machine's CPUs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
