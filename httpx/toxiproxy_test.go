package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// newProxy starts an in-process toxiproxy in front of upstream ("host:port") and
// returns it with its URL; it is stopped when the test ends.
func newProxy(t *testing.T, upstream string) (*toxiproxy.Proxy, string) {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, t.Name(), "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("starting toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return p, "http://" + p.Listen
}

// addToxic adds a toxic, described in toxiproxy's JSON, to p.
func addToxic(t *testing.T, p *toxiproxy.Proxy, spec string) {
	t.Helper()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
		t.Fatalf("adding toxic %s: %v", spec, err)
	}
}

func upstreamOf(s *server) string { return strings.TrimPrefix(s.URL, "http://") }

func TestConnectionResets(t *testing.T) {
	srv := newServer(t, failFirst(0, 200))
	proxy, url := newProxy(t, upstreamOf(srv))
	addToxic(t, proxy, `{"name":"reset","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`)
	c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client()

	// A GET is retried, and reported with its cause once retries are exhausted.
	_, _, err := get(t, c, t.Context(), url)
	var re *resilience.RetriesExhaustedError
	if !errors.As(err, &re) || re.Attempts != 1+httpx.DefaultMaxRetries {
		t.Fatalf("GET through resets: err = %v, want retries exhausted after %d attempts", err, 1+httpx.DefaultMaxRetries)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want the reset as its cause", err)
	}

	// A POST is not: the server may have processed it.
	srv.requests.Store(0)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{"amount":1}`))
	if _, err := c.Do(req); err == nil {
		t.Fatal("POST through resets succeeded")
	}
	if n := srv.requests.Load(); n > 1 {
		t.Errorf("the POST reached the server %d times, want at most once", n)
	}

	// Once the network heals, calls succeed again.
	if err := proxy.Toxics.RemoveToxic(context.Background(), "reset"); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := get(t, c, t.Context(), url); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET after the resets stopped: %v, %v", resp, err)
	}
}

func TestStallBeforeTheResponseIsCutByTheAttemptTimeout(t *testing.T) {
	srv := newServer(t, failFirst(0, 200))
	proxy, url := newProxy(t, upstreamOf(srv))
	addToxic(t, proxy, `{"name":"stall","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)
	c := newTransport(t, httpx.Options{
		AttemptTimeout: 100 * time.Millisecond,
		Retry:          httpx.RetryOptions{Backoff: fastBackoff, MaxRetries: 2},
	}).Client()
	_, _, err := get(t, c, t.Context(), url)
	if !errors.Is(err, resilience.ErrRetriesExhausted) || !errors.Is(err, resilience.ErrTimeout) {
		t.Fatalf("err = %v, want retries exhausted on attempt timeouts", err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("server got %d requests, want 3 (each attempt sent, each answer dropped)", n)
	}
}

func TestStallInTheMiddleOfTheBody(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "head ")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
			_, _ = io.WriteString(w, strings.Repeat("tail ", 1000))
		case <-r.Context().Done():
		}
	}))
	proxy, url := newProxy(t, upstreamOf(srv))
	c := newTransport(t, httpx.Options{AttemptTimeout: 300 * time.Millisecond}).Client()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	// From now on nothing gets through.
	addToxic(t, proxy, `{"name":"stall","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)
	close(release)
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, resilience.ErrTimeout) {
		t.Errorf("reading a body that stalled: err = %v, want the attempt timeout", err)
	}
}

func TestTypedCallCutInTheMiddleOfTheBody(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"`+strings.Repeat("x", 10000)+`"}`)
	}))
	proxy, url := newProxy(t, upstreamOf(srv))
	addToxic(t, proxy, `{"name":"cut","type":"limit_data","stream":"downstream","attributes":{"bytes":400}}`)
	c := &httpx.Client{
		HTTP:    newTransport(t, httpx.Options{Retry: httpx.RetryOptions{Backoff: fastBackoff, MaxRetries: 2}}).Client(),
		BaseURL: mustParse(t, url),
	}
	_, err := httpx.GetJSON[payment](t.Context(), c, "/p/1", nil)
	var be *httpx.BodyReadError
	if !errors.As(err, &be) || !errors.Is(err, resilience.ErrRetriesExhausted) {
		t.Fatalf("err = %v, want retries exhausted on a body read error", err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("server got %d requests, want 3", n)
	}
}
