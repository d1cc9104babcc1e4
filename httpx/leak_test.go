package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// TestBodiesAreClosedOnEveryPath sends calls down every path a response can take,
// then checks at the server that every connection was given back: reused while
// the test runs, and closed once the client closes its idle connections.
func TestBodiesAreClosedOnEveryPath(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, `{"ok":true}`)
		case "/flaky": // 503 with a body for the first attempts of a call
			if r.Header.Get("X-Attempt") != "3" {
				w.WriteHeader(503)
				_, _ = io.WriteString(w, strings.Repeat("x", 2000))
				return
			}
			_, _ = io.WriteString(w, `{"ok":true}`)
		case "/down":
			w.WriteHeader(500)
			_, _ = io.WriteString(w, strings.Repeat("x", 3000))
		case "/notjson":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html></html>")
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("x", 64<<10))
		case "/slow":
			_, _ = io.WriteString(w, "head")
			http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
	}))
	obs := &attemptHeader{}
	tr := newTransport(t, httpx.Options{
		Retry:          fastRetry(),
		AttemptTimeout: time.Second,
		Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{
			Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 8, BreakDuration: time.Hour,
		}},
		Observer: obs,
	})
	hc := tr.Client()
	c := &httpx.Client{HTTP: hc, BaseURL: mustParse(t, srv.URL), MaxResponseBytes: 1 << 10}
	ctx := t.Context()

	for range 5 {
		if _, err := httpx.GetJSON[map[string]bool](ctx, c, "/ok", nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := get(t, hc, ctx, srv.URL+"/ok"); err != nil { // raw, read and closed
			t.Fatal(err)
		}
		if _, err := httpx.GetJSON[map[string]bool](ctx, c, "/flaky", nil); err != nil { // retried twice
			t.Fatal(err)
		}
		if _, err := httpx.PutJSON[map[string]bool](ctx, c, "/flaky", map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := httpx.GetJSON[map[string]bool](ctx, c, "/notjson", nil); !errors.Is(err, httpx.ErrDecode) {
			t.Fatalf("/notjson: %v", err)
		}
	}
	if n := srv.newConns.Load(); n != 1 {
		t.Errorf("the server accepted %d connections for sequential calls, want 1: responses were not drained for reuse", n)
	}

	// Paths that cost the connection, but must not leak it.
	for range 3 {
		if _, err := httpx.GetJSON[map[string]bool](ctx, c, "/big", nil); !errors.Is(err, httpx.ErrBodyTooLarge) {
			t.Fatalf("/big: %v", err)
		}
		// A response closed without being read.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ok", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// The caller gives up in the middle of a body.
	cctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, srv.URL+"/slow", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()

	// 4 attempts that end in a 500: a StatusError, then the breaker rejects.
	for range 3 {
		_, err := httpx.GetJSON[map[string]bool](ctx, c, "/down", nil)
		if httpx.StatusCode(err) != 500 && !errors.Is(err, resilience.ErrBreakerOpen) {
			t.Fatalf("/down: %v", err)
		}
	}
	hc.CloseIdleConnections()
	srv.waitNoOpenConns(t)
}

// attemptHeader is an Observer that starts each attempt by numbering it in a
// header, for servers that fail first attempts.
type attemptHeader struct{}

func (attemptHeader) ObserveAttempt(context.Context, httpx.AttemptInfo) {}

func (attemptHeader) StartAttempt(ctx context.Context, req *http.Request) context.Context {
	req.Header.Set("X-Attempt", itoa(resilience.AttemptFromContext(ctx)))
	return ctx
}

func itoa(n int) string { return string(rune('0' + n)) }
