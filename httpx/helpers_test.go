package httpx_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/internal/testenv"
)

// server is an httptest server that counts its requests and connections.
type server struct {
	*httptest.Server
	requests atomic.Int64 // requests received
	newConns atomic.Int64 // connections accepted
	open     atomic.Int64 // connections not yet closed
}

// newServer starts a server for h; it is closed when the test ends, after
// checking that it holds no connection open.
func newServer(t testing.TB, h http.Handler) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.newConns.Add(1)
			s.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// waitNoOpenConns waits, boundedly, until the server has no connection open, and
// fails the test otherwise: a connection left open is a body left unclosed.
func (s *server) waitNoOpenConns(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("server still has %d connection(s) open: a body was not closed", s.open.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newTransport builds a Transport for a test, and closes its idle connections when
// the test ends.
func newTransport(t testing.TB, opts httpx.Options) *httpx.Transport {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "test"
	}
	tr, err := httpx.NewTransport(opts)
	if err != nil {
		t.Fatalf("NewTransport: %v", err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// fastRetry is a retry configuration with waits short enough for tests on real
// servers.
func fastRetry() httpx.RetryOptions {
	return httpx.RetryOptions{Backoff: fastBackoff}
}

// get sends a GET through c and returns the response, with its body read and
// closed.
func get(t testing.TB, c *http.Client, ctx context.Context, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

type logBuffer struct{ testenv.LogBuffer }

// lines returns the log's lines.
func (b *logBuffer) lines() []string {
	return strings.Split(strings.TrimSpace(b.String()), "\n")
}

// newLogger returns a JSON logger at level writing to a new buffer.
func newLogger(level slog.Level) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: level})), b
}

// trackedBody is a request body that records whether it was closed.
type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error {
	b.closed.Store(true)
	return nil
}

// handlerTransport is a RoundTripper that serves requests with an http.Handler in
// memory: a real handler without network I/O, so that tests of time can run in a
// synctest bubble.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, context.Cause(r.Context())
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}
