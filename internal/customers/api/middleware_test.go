package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/internal/customers/api"
)

func TestRequestID(t *testing.T) {
	var seen, correlation string
	h := api.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = httpx.RequestIDFromContext(r.Context())
		// The correlation ID reaches the events: encode one and look.
		b, err := bus.New(nopTransport{}, bus.Options{Source: "/test"})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := b.Encode(r.Context(), testEvent{A: 1})
		if err != nil {
			t.Fatal(err)
		}
		correlation = msg.Headers[bus.HeaderCorrelationID]
	}))
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"abc-123:x.y_z", true},
		{"", false},
		{"has space", false},
		{strings.Repeat("a", 129), false},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if tc.in != "" {
			req.Header.Set("X-Request-ID", tc.in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-Id")
		if tc.keep && got != tc.in || !tc.keep && (got == tc.in || got == "") {
			t.Errorf("X-Request-ID %q answered %q; keep = %v", tc.in, got, tc.keep)
		}
		if seen != got || correlation != got {
			t.Errorf("X-Request-ID %q: context has %q, event correlation %q; want both %q", tc.in, seen, correlation, got)
		}
	}
}

func TestLoggedRecoversPanics(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := api.RequestID(api.Logged(logger, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("a panicking handler answered %d %q; want 500 problem+json", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{`"msg":"handler panicked"`, `"panic":"boom"`, `"msg":"http request"`, `"status":500`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

type nopTransport struct{}

func (nopTransport) Publish(context.Context, ...bus.Message) error { return nil }
func (nopTransport) Subscribe(context.Context, bus.Subscription) (bus.Consumer, error) {
	return nil, bus.ErrClosed
}
func (nopTransport) Close() error { return nil }

type testEvent struct{ A int }
