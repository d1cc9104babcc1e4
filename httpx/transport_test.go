package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// failFirst returns a handler that answers status to the first n requests (with a
// body, so that dropping it must drain it) and 200 "ok" afterwards.
func failFirst(n int64, status int) http.Handler {
	var count atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if count.Add(1) <= n {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, strings.Repeat("e", 1000))
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

func TestRetriesTransientStatusesOfIdempotentRequests(t *testing.T) {
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		srv := newServer(t, failFirst(2, status))
		c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client()
		resp, body, err := get(t, c, t.Context(), srv.URL)
		if err != nil {
			t.Fatalf("status %d: GET: %v", status, err)
		}
		if resp.StatusCode != 200 || body != "ok" {
			t.Errorf("status %d: GET = %d %q, want 200 \"ok\"", status, resp.StatusCode, body)
		}
		if got := srv.requests.Load(); got != 3 {
			t.Errorf("status %d: server got %d requests, want 3", status, got)
		}
		// The dropped responses were drained: one connection served everything.
		if got := srv.newConns.Load(); got != 1 {
			t.Errorf("status %d: server accepted %d connections, want 1 (keep-alive reuse)", status, got)
		}
	}
}

func TestDoesNotRetryOtherStatuses(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409, 422, 501} {
		srv := newServer(t, failFirst(1, status))
		c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client()
		resp, _, err := get(t, c, t.Context(), srv.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		if resp.StatusCode != status || srv.requests.Load() != 1 {
			t.Errorf("status %d: got %d after %d request(s), want it once", status, resp.StatusCode, srv.requests.Load())
		}
	}
}

func TestGivesUpAfterMaxRetriesWithLastResponse(t *testing.T) {
	bin := newServer(t, httpbin.New())
	c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client()
	resp, _, err := get(t, c, t.Context(), bin.URL+"/status/500")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	if resp.StatusCode != 500 {
		t.Errorf("status = %d, want 500 (the last response)", resp.StatusCode)
	}
	if got := bin.requests.Load(); got != 1+httpx.DefaultMaxRetries {
		t.Errorf("requests = %d, want %d", got, 1+httpx.DefaultMaxRetries)
	}
}

func TestUnstableUpstreamThroughRetries(t *testing.T) {
	bin := newServer(t, httpbin.New())
	c := newTransport(t, httpx.Options{
		Retry:   httpx.RetryOptions{Backoff: fastBackoff, MaxRetries: 10},
		Breaker: httpx.BreakerOptions{Disabled: true}, // half the attempts fail: it would open
	}).Client()
	ok := 0
	for range 20 {
		resp, _, err := get(t, c, t.Context(), bin.URL+"/unstable?failure_rate=0.5")
		if err != nil {
			t.Fatalf("GET /unstable: %v", err)
		}
		if resp.StatusCode == 200 {
			ok++
		}
	}
	if ok < 19 { // 0.5^11 per call of still failing
		t.Errorf("%d of 20 calls to /unstable succeeded through 10 retries, want ≥ 19", ok)
	}
}

func TestPOSTWithoutIdempotencyKeyIsNeverSentTwice(t *testing.T) {
	srv := newServer(t, failFirst(10, http.StatusServiceUnavailable))
	c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client()
	for _, method := range []string{http.MethodPost, http.MethodPatch} {
		srv.requests.Store(0)
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL, strings.NewReader(`{"amount":1}`))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("%s: status = %d, want 503", method, resp.StatusCode)
		}
		if got := srv.requests.Load(); got != 1 {
			t.Errorf("%s without Idempotency-Key: server got it %d times, want 1", method, got)
		}
	}
}

func TestPOSTIsNotResentAfterATransportError(t *testing.T) {
	// The server reads the request, then drops the connection without answering:
	// the client cannot know whether the payment was made.
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(`{}`))
	if _, err := c.Do(req); err == nil {
		t.Fatal("POST to a server that drops the connection succeeded")
	}
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("server got the POST %d times, want 1", got)
	}
}

func TestPOSTWithIdempotencyKeysIsRetriedWithOneKey(t *testing.T) {
	var mu sync.Mutex
	var keys, bodies []string
	inner := failFirst(2, http.StatusServiceUnavailable)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		bodies = append(bodies, string(b))
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		inner.ServeHTTP(w, r)
	}))
	c := newTransport(t, httpx.Options{Retry: fastRetry(), IdempotencyKeys: true}).Client()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(`{"amount":1}`))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(keys) != 3 {
		t.Fatalf("POST = %d after %d attempts, want 200 after 3", resp.StatusCode, len(keys))
	}
	for i := range keys {
		if keys[i] == "" || keys[i] != keys[0] {
			t.Errorf("Idempotency-Key of attempt %d = %q, want %q on every attempt", i+1, keys[i], keys[0])
		}
		if bodies[i] != `{"amount":1}` {
			t.Errorf("body of attempt %d = %q, want the original replayed", i+1, bodies[i])
		}
	}
	if req.Header.Get("Idempotency-Key") != "" {
		t.Error("the caller's request was modified: it has an Idempotency-Key")
	}

	// A key from the context is used as it is, and a new call gets a new key.
	keys = nil
	ctx := httpx.WithIdempotencyKey(t.Context(), "order-42")
	for range 2 {
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(`{}`))
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if len(keys) != 2 || keys[0] != "order-42" || keys[1] != "order-42" {
		t.Errorf("keys with WithIdempotencyKey = %q, want [order-42 order-42]", keys)
	}
}

func TestBodyWithoutGetBodyIsNotRetried(t *testing.T) {
	srv := newServer(t, failFirst(10, http.StatusServiceUnavailable))
	c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client()
	body := &trackedBody{Reader: strings.NewReader("data")}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL, body)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("PUT with an unreplayable body sent %d times, want 1", got)
	}
	if !body.closed.Load() {
		t.Error("request body not closed")
	}
}

func TestRequestBodyIsClosedWhenNothingIsSent(t *testing.T) {
	srv := newServer(t, failFirst(0, 200))
	lim := resilience.Must(resilience.NewRateLimiter(resilience.RateLimiterOptions{Rate: 0.001, Burst: 1}))
	c := newTransport(t, httpx.Options{RateLimiter: lim}).Client()
	send := func() error {
		body := &trackedBody{Reader: strings.NewReader("x")}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL, body)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if !body.closed.Load() {
			t.Error("request body not closed")
		}
		return err
	}
	if err := send(); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := send(); !errors.Is(err, resilience.ErrRateLimited) {
		t.Errorf("second call: err = %v, want ErrRateLimited", err)
	}
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("server got %d requests, want 1", got)
	}

	// An authenticator that fails stops the attempt before anything is sent.
	boom := errors.New("no token today")
	c = newTransport(t, httpx.Options{
		AuthHosts: []string{"*"},
		Auth:      httpx.AuthenticatorFunc(func(context.Context, *http.Request) error { return boom }),
		Retry:     httpx.RetryOptions{Disabled: true},
	}).Client()
	var ae *httpx.AuthError
	if err := send(); !errors.As(err, &ae) || !errors.Is(err, boom) {
		t.Errorf("with a failing authenticator: err = %v, want an *AuthError wrapping it", err)
	}
}

func TestResponseBodyIsReadableAfterRoundTripAndBoundToTheTimeouts(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "head ")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
			_, _ = io.WriteString(w, "tail")
		case <-r.Context().Done():
		}
	}))
	c := newTransport(t, httpx.Options{TotalTimeout: 10 * time.Second, AttemptTimeout: 5 * time.Second}).Client()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	close(release) // the body is completed after RoundTrip returned
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "head tail" {
		t.Errorf("body = %q, %v; want \"head tail\", nil", b, err)
	}

	// A body that stalls is cut by the attempt timeout, not read forever.
	srv2 := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "head ")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	c = newTransport(t, httpx.Options{TotalTimeout: 10 * time.Second, AttemptTimeout: 50 * time.Millisecond}).Client()
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, srv2.URL, nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, resilience.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("reading a stalled body: err = %v, want the attempt timeout", err)
	}
	srv2.waitNoOpenConns(t)
}

func TestBreakerPerAuthority(t *testing.T) {
	down := newServer(t, httpbin.New())
	up := newServer(t, httpbin.New())
	tr := newTransport(t, httpx.Options{
		Retry: httpx.RetryOptions{Disabled: true},
		Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{
			Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 3, BreakDuration: time.Hour,
		}},
	})
	c := tr.Client()
	for range 3 {
		resp, _, err := get(t, c, t.Context(), down.URL+"/status/503")
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("GET /status/503 = %v, %v", resp, err)
		}
	}
	_, _, err := get(t, c, t.Context(), down.URL+"/get")
	if !errors.Is(err, resilience.ErrBreakerOpen) {
		t.Fatalf("4th call to the failing host: err = %v, want ErrBreakerOpen", err)
	}
	if got := down.requests.Load(); got != 3 {
		t.Errorf("failing host got %d requests, want 3 (the 4th rejected without sending)", got)
	}
	for range 5 {
		resp, _, err := get(t, c, t.Context(), up.URL+"/get")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("call to the healthy host: %v, %v; want 200: its breaker is its own", resp, err)
		}
	}

	names := map[string]resilience.BreakerState{}
	for _, b := range tr.Breakers() {
		names[b.Name()] = b.State()
	}
	downName := "test/" + strings.TrimPrefix(down.URL, "http://")
	upName := "test/" + strings.TrimPrefix(up.URL, "http://")
	if names[downName] != resilience.StateOpen || names[upName] != resilience.StateClosed || len(names) != 2 {
		t.Errorf("breakers = %v, want %s open and %s closed", names, downName, upName)
	}
}

func TestBreakerOpenIsNotRetried(t *testing.T) {
	srv := newServer(t, failFirst(100, 500))
	c := newTransport(t, httpx.Options{
		Retry: httpx.RetryOptions{Backoff: fastBackoff, MaxRetries: 10},
		Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{
			Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 2, BreakDuration: time.Hour,
		}},
	}).Client()
	_, _, err := get(t, c, t.Context(), srv.URL)
	if !errors.Is(err, resilience.ErrBreakerOpen) {
		t.Fatalf("err = %v, want ErrBreakerOpen once the breaker opened", err)
	}
	if got := srv.requests.Load(); got != 2 {
		t.Errorf("server got %d requests, want 2", got)
	}
}

func TestHostsAreCaseAndDefaultPortInsensitive(t *testing.T) {
	srv := newServer(t, failFirst(0, 200))
	tr := newTransport(t, httpx.Options{})
	c := tr.Client()
	hostport := strings.TrimPrefix(srv.URL, "http://")
	for _, u := range []string{srv.URL, "http://" + strings.ToUpper(hostport)} {
		if _, _, err := get(t, c, t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tr.Breakers()); n != 1 {
		t.Errorf("%d breakers for one authority written two ways, want 1", n)
	}
}

func TestRequestIDAndTraceparentArePropagated(t *testing.T) {
	var got http.Header
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	c := newTransport(t, httpx.Options{}).Client()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := httpx.WithTraceparent(httpx.WithRequestID(t.Context(), "req-1"), tp)
	if _, _, err := get(t, c, ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Request-ID") != "req-1" || got.Get("traceparent") != tp {
		t.Errorf("server saw X-Request-ID %q, traceparent %q; want req-1, %s", got.Get("X-Request-ID"), got.Get("traceparent"), tp)
	}

	// A header the caller set wins over the context.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Request-ID", "mine")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Get("X-Request-ID") != "mine" {
		t.Errorf("X-Request-ID = %q, want the request's own", got.Get("X-Request-ID"))
	}
}

// attempts records the attempts an Observer sees.
type attempts struct {
	mu      sync.Mutex
	numbers []int
	status  []int
	started int
}

func (a *attempts) ObserveAttempt(_ context.Context, i httpx.AttemptInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.numbers = append(a.numbers, i.Attempt)
	if i.Response != nil {
		a.status = append(a.status, i.Response.StatusCode)
	}
}

// tracer is an Observer that also starts each attempt, and sets a header.
type tracer struct{ attempts }

func (tr *tracer) StartAttempt(ctx context.Context, req *http.Request) context.Context {
	tr.mu.Lock()
	tr.started++
	tr.mu.Unlock()
	req.Header.Set("X-Span", "span")
	return ctx
}

func TestObserverSeesEveryAttemptWithItsNumber(t *testing.T) {
	var spans []string
	inner := failFirst(2, 502)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		spans = append(spans, r.Header.Get("X-Span"))
		inner.ServeHTTP(w, r)
	}))
	obs := &tracer{}
	c := newTransport(t, httpx.Options{Retry: fastRetry(), Observer: obs}).Client()
	if _, _, err := get(t, c, t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3}; !equal(obs.numbers, want) {
		t.Errorf("attempt numbers = %v, want %v", obs.numbers, want)
	}
	if want := []int{502, 502, 200}; !equal(obs.status, want) {
		t.Errorf("statuses = %v, want %v", obs.status, want)
	}
	if obs.started != 3 || len(spans) != 3 || spans[2] != "span" {
		t.Errorf("StartAttempt called %d times, server saw spans %q; want 3 and the header on each", obs.started, spans)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCallerCancellationIsNotRetriedNorCounted(t *testing.T) {
	started := make(chan struct{}, 10)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	}))
	tr := newTransport(t, httpx.Options{
		Retry: fastRetry(),
		Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{
			Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 1,
		}},
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	_, _, err := get(t, tr.Client(), ctx, srv.URL)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("server got %d requests, want 1: a cancelled call is not retried", got)
	}
	if st := tr.Breakers()[0].State(); st != resilience.StateClosed {
		t.Errorf("breaker is %s after the caller cancelled, want closed", st)
	}
}

func TestNilBaseAndDirectRoundTrip(t *testing.T) {
	srv := newServer(t, failFirst(0, 200))
	tr := newTransport(t, httpx.Options{})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("body = %q", b)
	}
	// Another RoundTripper as the base, and nothing enabled: a plain pass-through.
	tr = newTransport(t, httpx.Options{
		Base:           http.DefaultTransport,
		TotalTimeout:   -1,
		AttemptTimeout: -1,
		Retry:          httpx.RetryOptions{Disabled: true},
		Breaker:        httpx.BreakerOptions{Disabled: true},
	})
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodHead, srv.URL, nil)
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD status = %d", resp.StatusCode)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func TestBreakerWithACustomClassifier(t *testing.T) {
	srv := newServer(t, failFirst(100, http.StatusNotFound))
	tr := newTransport(t, httpx.Options{
		Retry: httpx.RetryOptions{Disabled: true},
		Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{
			Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 2, BreakDuration: time.Hour,
			ShouldHandle: func(o resilience.Outcome) bool {
				resp, _ := o.Value.(*http.Response)
				return o.Err != nil || resp != nil && resp.StatusCode == http.StatusNotFound
			},
		}},
	})
	c := tr.Client()
	for range 2 {
		if resp, _, err := get(t, c, t.Context(), srv.URL); err != nil || resp.StatusCode != 404 {
			t.Fatalf("GET = %v, %v", resp, err)
		}
	}
	if _, _, err := get(t, c, t.Context(), srv.URL); !errors.Is(err, resilience.ErrBreakerOpen) {
		t.Errorf("after two 404s counted as failures: err = %v, want ErrBreakerOpen", err)
	}
}

func TestPolicyEventsReachThePolicyObserver(t *testing.T) {
	srv := newServer(t, failFirst(1, http.StatusServiceUnavailable))
	var mu sync.Mutex
	kinds := map[resilience.EventKind]int{}
	c := newTransport(t, httpx.Options{
		Name:  "payments",
		Retry: fastRetry(),
		PolicyObserver: resilience.ObserverFunc(func(_ context.Context, e resilience.Event) {
			mu.Lock()
			defer mu.Unlock()
			kinds[e.Kind]++
			if e.Pipeline != "payments" {
				t.Errorf("event of pipeline %q, want payments", e.Pipeline)
			}
		}),
	}).Client()
	if _, _, err := get(t, c, t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if kinds[resilience.EventRetry] != 1 || kinds[resilience.EventAttempt] != 2 {
		t.Errorf("events = %v, want 2 attempts and 1 retry", kinds)
	}
}

func TestPOSTWithTheCallersIdempotencyKeyIsRetried(t *testing.T) {
	srv := newServer(t, failFirst(1, http.StatusBadGateway))
	c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client() // no IdempotencyKeys option
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "k-1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || srv.requests.Load() != 2 {
		t.Errorf("POST with an Idempotency-Key = %d after %d requests, want 200 after 2", resp.StatusCode, srv.requests.Load())
	}
}
