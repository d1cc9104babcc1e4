package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/rampart-go/rampart/resilience"
)

// typedError names its own error.type.
type typedError struct{}

func (typedError) Error() string     { return "typed" }
func (typedError) ErrorType() string { return "quota_exceeded" }

func TestErrorType(t *testing.T) {
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("boom"), "_OTHER"},
		{fmt.Errorf("no wrap: %v", 1), "_OTHER"},
		{opErr, "*net.OpError"},
		{fmt.Errorf("get: %w", fmt.Errorf("dial: %w", opErr)), "*net.OpError"},
		{&url.Error{Op: "Get", URL: "http://x", Err: opErr}, "*net.OpError"},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("waiting: %w", context.DeadlineExceeded), "timeout"},
		{context.Canceled, "canceled"},
		{&resilience.BreakerOpenError{Breaker: "b"}, "*resilience.BreakerOpenError"},
		{&resilience.TimeoutError{Policy: "attempt"}, "*resilience.TimeoutError"},
		{fmt.Errorf("call: %w", typedError{}), "quota_exceeded"},
		{errors.Join(errors.New("a"), errors.New("b")), "*errors.joinError"},
		{resilience.Permanent(opErr), "*net.OpError"},
		{fmt.Errorf("handler: %w", resilience.Permanent(errors.New("bad input"))), "_OTHER"},
	}
	for _, tt := range tests {
		if got := errorType(tt.err); got != tt.want {
			t.Errorf("errorType(%#v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestNormalizeMethod(t *testing.T) {
	tests := []struct {
		in        string
		want      string
		wantKnown bool
	}{
		{"", "GET", true},
		{"GET", "GET", true},
		{"PATCH", "PATCH", true},
		{"QUERY", "QUERY", true},
		{"get", "_OTHER", false},
		{"PURGE", "_OTHER", false},
	}
	for _, tt := range tests {
		if got, known := normalizeMethod(tt.in); got != tt.want || known != tt.wantKnown {
			t.Errorf("normalizeMethod(%q) = %q, %v; want %q, %v", tt.in, got, known, tt.want, tt.wantKnown)
		}
	}
}

func TestServerOf(t *testing.T) {
	tests := []struct {
		in       string
		wantHost string
		wantPort int
	}{
		{"http://example.com/x", "example.com", 80},
		{"https://example.com/x", "example.com", 443},
		{"https://example.com:8443/x", "example.com", 8443},
		{"http://[::1]:8080/", "::1", 8080},
		{"http://user:pw@10.0.0.1/", "10.0.0.1", 80},
		{"unix:///var/run/x.sock", "", 0},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if host, port := serverOf(u); host != tt.wantHost || port != tt.wantPort {
			t.Errorf("serverOf(%q) = %q, %d; want %q, %d", tt.in, host, port, tt.wantHost, tt.wantPort)
		}
	}
	if host, port := serverOf(nil); host != "" || port != 0 {
		t.Errorf("serverOf(nil) = %q, %d; want \"\", 0", host, port)
	}
}

func TestRedactedURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://api.example.com/v1/pay", "https://api.example.com/v1/pay"},
		{"https://alice:secret@api.example.com/v1", "https://api.example.com/v1"},
		{"https://api.example.com/v1?access_token=abc&page=2", "https://api.example.com/v1?access_token=REDACTED&page=2"},
		{"https://api.example.com/v1?API_KEY=abc&Signature=x&flag", "https://api.example.com/v1?API_KEY=REDACTED&Signature=REDACTED&flag"},
		{"https://api.example.com/v1?client%5Fsecret=abc", "https://api.example.com/v1?client%5Fsecret=REDACTED"},
		{"https://api.example.com/v1#token=abc", "https://api.example.com/v1"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		before := u.String()
		if got := redactedURL(u); got != tt.want {
			t.Errorf("redactedURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if u.String() != before {
			t.Errorf("redactedURL(%q) changed its argument to %q", tt.in, u)
		}
	}
}

// The attribute-set cache stops growing at its bound, and still returns sets.
func TestAttrCacheBound(t *testing.T) {
	var c attrCache[eventKey]
	for i := range maxCachedSets + 10 {
		s := c.get(eventKey{policy: fmt.Sprint(i)}, eventSet)
		if v, _ := s.Value(AttrPolicy); v.AsString() != fmt.Sprint(i) {
			t.Fatalf("get(%d) = %v", i, s)
		}
	}
	if n := len(c.m); n != maxCachedSets {
		t.Errorf("cache holds %d sets, want %d", n, maxCachedSets)
	}
}
