package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
	"github.com/rampart-go/rampart/telemetry"
)

// fastBackoff keeps retries against real servers quick.
var fastBackoff = resilience.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond, Jitter: resilience.JitterNone}

// tracedServer is an httptest server that continues the trace of each request in a
// server span, and answers with the statuses of plan in turn (then 200).
type tracedServer struct {
	*httptest.Server
	hits         atomic.Int32
	mu           sync.Mutex
	traceparents []string // as received
}

func newTracedServer(t *testing.T, tp trace.TracerProvider, plan ...int) *tracedServer {
	t.Helper()
	s := &tracedServer{}
	tracer := tp.Tracer("server")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		s.traceparents = append(s.traceparents, req.Header.Get("Traceparent"))
		s.mu.Unlock()
		ctx := propagation.TraceContext{}.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		_, span := tracer.Start(ctx, "GET /stock", trace.WithSpanKind(trace.SpanKindServer))
		span.End() // before answering, so that the client sees it ended
		status := http.StatusOK
		if n := int(s.hits.Add(1)); n <= len(plan) {
			status = plan[n-1]
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "body")
	}))
	t.Cleanup(s.Close)
	return s
}

// newClient returns an httpx client observed by tel, with its own base transport.
func newClient(t *testing.T, tel *telemetry.Telemetry, opts httpx.Options) *http.Client {
	t.Helper()
	base := httpx.NewBaseTransport()
	t.Cleanup(base.CloseIdleConnections)
	opts.Base = base
	opts.Observer = tel
	opts.PolicyObserver = tel
	if opts.Retry.Backoff == (resilience.Backoff{}) {
		opts.Retry.Backoff = fastBackoff
	}
	tr, err := httpx.NewTransport(opts)
	if err != nil {
		t.Fatalf("httpx.NewTransport: %v", err)
	}
	return tr.Client()
}

// get sends a GET and reads the whole response.
func get(t *testing.T, ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// portOf returns the port of a URL.
func portOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Port()
}

// A call that is retried twice: one client span per attempt, each the parent of
// the server's span, with http.request.resend_count from the second on; one
// http.client.request.duration point per attempt; the retries as events of the
// caller's span and in resilience.events.
func TestHTTPAttemptsTracedAndMeasured(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	srv := newTracedServer(t, r.tp, 503, 503)
	client := newClient(t, r.tel, httpx.Options{Name: "inventory"})

	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "checkout")
	resp, err := get(t, ctx, client, srv.URL+"/stock?sku=42")
	parent.End()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET = %v, %v; want 200", resp, err)
	}

	var clients, servers []sdktrace.ReadOnlySpan
	var checkout sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindClient:
			clients = append(clients, s)
		case trace.SpanKindServer:
			servers = append(servers, s)
		default:
			checkout = s
		}
	}
	if len(clients) != 3 || len(servers) != 3 || checkout == nil {
		t.Fatalf("spans: %d client, %d server, checkout %v; want 3, 3, one", len(clients), len(servers), checkout != nil)
	}
	port := portOf(t, srv.URL)
	for i, c := range clients {
		wantAttrs := "http.request.method=GET,"
		if i > 0 {
			wantAttrs += fmt.Sprintf("http.request.resend_count=%d,", i)
		}
		status := []int{503, 503, 200}[i]
		if status >= 400 {
			wantAttrs = "error.type=503," + wantAttrs
		}
		wantAttrs += fmt.Sprintf("http.response.status_code=%d,server.address=127.0.0.1,server.port=%s", status, port)
		if got := kvs(without(c.Attributes(), "url.full")); got != wantAttrs {
			t.Errorf("attempt %d: attributes = %s\nwant %s", i+1, got, wantAttrs)
		}
		if got, want := valueOf(c.Attributes(), "url.full"), srv.URL+"/stock?sku=42"; got != want {
			t.Errorf("attempt %d: url.full = %q, want %q", i+1, got, want)
		}
		if c.Name() != "GET" {
			t.Errorf("attempt %d: name = %q, want GET", i+1, c.Name())
		}
		if c.Parent().SpanID() != checkout.SpanContext().SpanID() || c.SpanContext().TraceID() != checkout.SpanContext().TraceID() {
			t.Errorf("attempt %d: parent = %v, want the checkout span %v", i+1, c.Parent().SpanID(), checkout.SpanContext().SpanID())
		}
		wantCode := codes.Unset
		if status >= 400 {
			wantCode = codes.Error
		}
		if c.Status().Code != wantCode {
			t.Errorf("attempt %d: status = %v, want %v", i+1, c.Status().Code, wantCode)
		}
		// The server span of this attempt continues it.
		s := servers[i]
		if s.Parent().SpanID() != c.SpanContext().SpanID() || s.SpanContext().TraceID() != c.SpanContext().TraceID() {
			t.Errorf("server span %d: parent = %v in trace %v, want the client attempt %v in trace %v",
				i+1, s.Parent().SpanID(), s.SpanContext().TraceID(), c.SpanContext().SpanID(), c.SpanContext().TraceID())
		}
		if !s.Parent().IsRemote() {
			t.Errorf("server span %d: parent is not remote", i+1)
		}
	}

	// The retries are events of the caller's span.
	var retries int
	for _, ev := range checkout.Events() {
		if ev.Name == "resilience.retry" {
			retries++
		}
	}
	if retries != 2 {
		t.Errorf("checkout span has %d resilience.retry events, want 2", retries)
	}

	h := histograms(t, r.metric(t, telemetry.MetricHTTPClientDuration))
	want := []string{
		"error.type=503,http.request.method=GET,http.response.status_code=503,server.address=127.0.0.1,server.port=" + port,
		"error.type=503,http.request.method=GET,http.request.resend_count=1,http.response.status_code=503,server.address=127.0.0.1,server.port=" + port,
		"http.request.method=GET,http.request.resend_count=2,http.response.status_code=200,server.address=127.0.0.1,server.port=" + port,
	}
	if len(h) != len(want) {
		t.Errorf("http.client.request.duration points:\n  %s\nwant %d", keys(h), len(want))
	}
	for _, k := range want {
		if dp, ok := h[k]; !ok || dp.Count != 1 || dp.Sum <= 0 {
			t.Errorf("http.client.request.duration{%s} = count %d sum %v, want count 1 and a duration", k, dp.Count, dp.Sum)
		}
	}

	events := sums(t, r.metric(t, telemetry.MetricResilienceEvents))
	if k := "resilience.event.name=retry,resilience.pipeline.name=inventory,resilience.policy.name=inventory/retry"; events[k] != 2 {
		t.Errorf("resilience.events{%s} = %d, want 2; have:\n  %s", k, events[k], keys(events))
	}
}

// An attempt that fails without a response has error.type and no status code.
func TestHTTPTransportError(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	client := newClient(t, r.tel, httpx.Options{Retry: httpx.RetryOptions{Disabled: true}})

	if _, err := get(t, context.Background(), client, "http://"+addr+"/"); err == nil {
		t.Fatal("GET to a closed port succeeded")
	}
	_, port, _ := net.SplitHostPort(addr)
	h := histograms(t, r.metric(t, telemetry.MetricHTTPClientDuration))
	want := "error.type=*net.OpError,http.request.method=GET,server.address=127.0.0.1,server.port=" + port
	if _, ok := h[want]; !ok || len(h) != 1 {
		t.Errorf("http.client.request.duration points:\n  %s\nwant %s", keys(h), want)
	}
	spans := r.spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Status().Code != codes.Error || len(s.Events()) != 1 || s.Events()[0].Name != "exception" {
		t.Errorf("span: status %v, events %v; want Error and one exception event", s.Status(), s.Events())
	}
}

// Without a span in ctx, an attempt continues the trace of a traceparent the
// request carries (here from httpx.WithTraceparent).
func TestHTTPContinuesTraceparent(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	srv := newTracedServer(t, r.tp)
	client := newClient(t, r.tel, httpx.Options{})

	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx := httpx.WithTraceparent(context.Background(), "00-"+traceID+"-"+spanID+"-01")
	if _, err := get(t, ctx, client, srv.URL); err != nil {
		t.Fatal(err)
	}
	var attempt sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			attempt = s
		}
	}
	if attempt == nil {
		t.Fatal("no client span")
	}
	if got := attempt.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace ID = %s, want %s", got, traceID)
	}
	if got := attempt.Parent().SpanID().String(); got != spanID {
		t.Errorf("parent = %s, want %s", got, spanID)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	want := "00-" + traceID + "-" + attempt.SpanContext().SpanID().String() + "-01"
	if len(srv.traceparents) != 1 || srv.traceparents[0] != want {
		t.Errorf("server received traceparent %q, want %q", srv.traceparents, want)
	}
}

// url.full has no credentials, and the values of sensitive parameters are
// redacted; headers are never recorded.
func TestHTTPURLRedacted(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	srv := newTracedServer(t, r.tp)
	client := newClient(t, r.tel, httpx.Options{})
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("alice", "hunter2")
	u.Path = "/v1/payments"
	u.RawQuery = "api_key=s3cr3t&page=2&Token=abc"
	u.Fragment = "frag"
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	req.Header.Set("Authorization", "Bearer tok3n")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	for _, s := range r.spans.Ended() {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		all := kvs(s.Attributes())
		for _, secret := range []string{"hunter2", "alice", "s3cr3t", "abc", "tok3n", "frag"} {
			if strings.Contains(all, secret) {
				t.Errorf("span attributes contain %q: %s", secret, all)
			}
		}
		want := srv.URL + "/v1/payments?api_key=REDACTED&page=2&Token=REDACTED"
		if got := valueOf(s.Attributes(), "url.full"); got != want {
			t.Errorf("url.full = %q, want %q", got, want)
		}
	}
}

// Made-up methods are "_OTHER" in metrics, with the original on the span.
func TestHTTPUnknownMethod(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	srv := newTracedServer(t, r.tp)
	client := newClient(t, r.tel, httpx.Options{})
	req, _ := http.NewRequest("PURGE", srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := histograms(t, r.metric(t, telemetry.MetricHTTPClientDuration))
	want := "http.request.method=_OTHER,http.response.status_code=200,server.address=127.0.0.1,server.port=" + portOf(t, srv.URL)
	if _, ok := h[want]; !ok {
		t.Errorf("points:\n  %s\nwant %s", keys(h), want)
	}
	for _, s := range r.spans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			if s.Name() != "HTTP" || !strings.Contains(kvs(s.Attributes()), "http.request.method_original=PURGE") {
				t.Errorf("span %q: %s; want HTTP with http.request.method_original=PURGE", s.Name(), kvs(s.Attributes()))
			}
		}
	}
}
