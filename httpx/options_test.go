package httpx_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

func TestOptionsAreValidatedWithTheFieldNamed(t *testing.T) {
	auth := bearerAuth("t")
	cases := []struct {
		name  string
		opts  httpx.Options
		field string // "" means valid
	}{
		{"zero value", httpx.Options{}, ""},
		{"short total, default attempt", httpx.Options{TotalTimeout: 5 * time.Second}, ""},
		{"both disabled", httpx.Options{TotalTimeout: -1, AttemptTimeout: -1}, ""},
		{"attempt = total", httpx.Options{TotalTimeout: 30 * time.Second, AttemptTimeout: 30 * time.Second}, "Options.AttemptTimeout"},
		{"attempt > default total", httpx.Options{AttemptTimeout: time.Minute}, "Options.AttemptTimeout"},
		{"window < 2×attempt", httpx.Options{Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{SamplingWindow: 15 * time.Second}}}, "Options.Breaker.Policy.SamplingWindow"},
		{"window ok in consecutive mode", httpx.Options{Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{Mode: resilience.TripConsecutiveFailures, SamplingWindow: time.Second}}}, ""},
		{"window ignored when disabled", httpx.Options{Breaker: httpx.BreakerOptions{Disabled: true, Policy: resilience.BreakerOptions{SamplingWindow: time.Second}}}, ""},
		{"bad breaker policy", httpx.Options{Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{FailureRatio: 2}}}, "Options.Breaker.Policy"},
		{"negative retries", httpx.Options{Retry: httpx.RetryOptions{MaxRetries: -1}}, "Options.Retry.MaxRetries"},
		{"negative retry-after cap", httpx.Options{Retry: httpx.RetryOptions{MaxRetryAfter: -time.Second}}, "Options.Retry.MaxRetryAfter"},
		{"bad backoff", httpx.Options{Retry: httpx.RetryOptions{Backoff: resilience.Backoff{Base: -time.Second}}}, "Options.Retry"},
		{"bad retry status", httpx.Options{Retry: httpx.RetryOptions{Statuses: []int{503, 99}}}, "Options.Retry.Statuses[1]"},
		{"bad failure status", httpx.Options{Breaker: httpx.BreakerOptions{Statuses: []int{600}}}, "Options.Breaker.Statuses[0]"},
		{"base not http", httpx.Options{BaseURL: "ftp://files.example.com"}, "Options.BaseURL"},
		{"base relative", httpx.Options{BaseURL: "/v1"}, "Options.BaseURL"},
		{"auth without hosts", httpx.Options{Auth: auth}, "Options.AuthHosts"},
		{"auth with base", httpx.Options{Auth: auth, BaseURL: "https://api.example.com"}, ""},
		{"auth with any host", httpx.Options{Auth: auth, AuthHosts: []string{"*"}}, ""},
		{"bad auth host", httpx.Options{Auth: auth, AuthHosts: []string{"https://x"}}, "Options.AuthHosts[0]"},
		{"auth transport returns nil", httpx.Options{AuthHosts: []string{"*"}, AuthTransport: func(http.RoundTripper) http.RoundTripper { return nil }}, "Options.AuthTransport"},
	}
	for _, tc := range cases {
		tr, err := httpx.NewTransport(tc.opts)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: NewTransport = %v, want no error", tc.name, err)
		case tc.field != "" && err == nil:
			t.Errorf("%s: NewTransport succeeded, want an error naming %s", tc.name, tc.field)
		case tc.field != "" && (!strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "httpx: ")):
			t.Errorf("%s: err = %q, want it to start with httpx: and name %s", tc.name, err, tc.field)
		}
		if tr != nil {
			tr.CloseIdleConnections()
		}
	}
}

func TestInvalidBaseURLErrorHidesItsPassword(t *testing.T) {
	_, err := httpx.NewTransport(httpx.Options{BaseURL: "ftp://user:hunter2@files.example.com/?token=abc"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "abc") {
		t.Errorf("err = %v, want an error without the secrets", err)
	}
}

// TestUnparsableBaseURLErrorHidesItsPassword: url.Parse's error quotes the URL
// whole.
func TestUnparsableBaseURLErrorHidesItsPassword(t *testing.T) {
	_, err := httpx.NewTransport(httpx.Options{BaseURL: "https://user:hunter2@files.example.com:bad/?token=abc"})
	if err == nil || !strings.Contains(err.Error(), "Options.BaseURL") ||
		strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "abc") {
		t.Errorf("err = %v, want an error naming Options.BaseURL without the secrets", err)
	}
}
