package health_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rampart-go/rampart/health"
)

// dependency is a real HTTP server standing for a dependency's probe URL.
func dependency(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// evaluateOnce runs check alone in a fresh Checker, closes it, and returns the
// readiness response and its one result.
func evaluateOnce(t *testing.T, check health.Check) (health.Response, health.CheckResult) {
	t.Helper()
	c, err := health.New(health.Config{Readiness: []health.Source{check}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	r := c.Evaluate(t.Context(), health.Readiness)
	list := r.Checks[check.Key()]
	if len(list) != 1 {
		t.Fatalf("checks[%q] = %v, want one result", check.Key(), list)
	}
	return r, list[0]
}

func TestHTTPCheck(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the servers are closed
	var mu sync.Mutex
	var method, apiKey string
	srv := dependency(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		method, apiKey = r.Method, r.Header.Get("X-Api-Key")
		mu.Unlock()
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"pass"}`))
		case "/broken":
			http.Error(w, "database down", 500)
		case "/missing":
			http.NotFound(w, r)
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		case "/big":
			w.Write(make([]byte, 1<<20))
		}
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name   string
		path   string
		opts   health.HTTPOptions
		status health.Status
		output string
	}{
		{"healthy", "/healthz", health.HTTPOptions{}, "pass", ""},
		{"500", "/broken", health.HTTPOptions{}, "fail", "status 500 Internal Server Error, want 200-299"},
		{"404 outside the range", "/missing", health.HTTPOptions{}, "fail", "status 404 Not Found, want 200-299"},
		{"404 inside a wider range", "/missing", health.HTTPOptions{MaxStatus: 499}, "pass", ""},
		{"redirect not followed", "/moved", health.HTTPOptions{}, "fail", "status 302 Found, want 200-299"},
		{"redirect accepted", "/moved", health.HTTPOptions{MaxStatus: 399}, "pass", ""},
		{"large body", "/big", health.HTTPOptions{}, "pass", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := evaluateOnce(t, health.HTTP("payments", srv.URL+tt.path, tt.opts))
			if got.Status != tt.status || got.Output != tt.output {
				t.Errorf("HTTP %s = %q %q, want %q %q", tt.path, got.Status, got.Output, tt.status, tt.output)
			}
			if ms, ok := got.ObservedValue.(float64); !ok || ms <= 0 || got.ObservedUnit != "ms" {
				t.Errorf("observed %v %q, want a positive response time in ms", got.ObservedValue, got.ObservedUnit)
			}
			if got.ComponentID != host || got.ComponentType != "system" {
				t.Errorf("componentId, componentType = %q, %q; want %q, system", got.ComponentID, got.ComponentType, host)
			}
		})
	}

	_, got := evaluateOnce(t, health.HTTP("payments", srv.URL+"/healthz", health.HTTPOptions{
		Method: http.MethodHead,
		Header: http.Header{"X-Api-Key": {"k1"}},
	}))
	mu.Lock()
	defer mu.Unlock()
	if got.Status != health.StatusPass || method != http.MethodHead || apiKey != "k1" {
		t.Errorf("HEAD with a header = %q, server saw %s with key %q; want pass, HEAD, k1", got.Status, method, apiKey)
	}
}

// A dependency slower than the check's timeout fails at the timeout, and the
// request is cancelled rather than left running.
func TestHTTPCheckSlow(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the servers are closed
	cancelled := make(chan struct{})
	srv := dependency(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	})
	check := health.HTTP("payments", srv.URL, health.HTTPOptions{})
	check.Timeout = 100 * time.Millisecond
	start := time.Now()
	r, got := evaluateOnce(t, check)
	took := time.Since(start)
	if r.Status != health.StatusFail || got.Output != "health: timed out after 100ms" {
		t.Errorf("slow dependency = %q %q, want fail, timed out after 100ms", got.Status, got.Output)
	}
	if took < 100*time.Millisecond || took > 5*time.Second {
		t.Errorf("slow dependency reported after %s, want about 100ms", took)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the server never saw the probe cancelled")
	}
}

func TestHTTPCheckConnectionRefused(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the servers are closed
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens on the port any more

	_, got := evaluateOnce(t, health.HTTP("payments", addr+"/healthz?token=secret", health.HTTPOptions{}))
	if got.Status != health.StatusFail || !strings.HasPrefix(got.Output, "GET: dial tcp") || !strings.Contains(got.Output, "connection refused") {
		t.Errorf("closed port = %q %q, want fail GET: dial tcp ... connection refused", got.Status, got.Output)
	}
	if strings.Contains(got.Output, "secret") {
		t.Errorf("output %q shows the URL's query", got.Output)
	}
}

// A client of the caller's own is used as given.
func TestHTTPCheckOwnClient(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the servers are closed
	srv := dependency(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/healthz", http.StatusFound)
		}
	})
	var used bool
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	_, got := evaluateOnce(t, health.HTTP("payments", srv.URL+"/moved", health.HTTPOptions{Client: client}))
	if got.Status != health.StatusPass || !used {
		t.Errorf("with a client that follows redirects = %q (client used %v), want pass", got.Status, used)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
