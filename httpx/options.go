package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// Defaults of [Options].
const (
	// DefaultTotalTimeout bounds a whole call when Options.TotalTimeout is zero.
	DefaultTotalTimeout = 30 * time.Second
	// DefaultAttemptTimeout bounds one attempt when Options.AttemptTimeout is zero.
	DefaultAttemptTimeout = 10 * time.Second
	// DefaultMaxRetries is the number of retries when RetryOptions.MaxRetries is zero.
	DefaultMaxRetries = 3
	// DefaultMaxLoggedBody is how much of a body a debug record shows when
	// Options.MaxLoggedBody is zero.
	DefaultMaxLoggedBody = 2 << 10
)

// Options configure a [Transport] and the clients built on it. The zero value is the
// standard pipeline: no rate limit, a 30s total timeout, 3 retries with exponential
// backoff and full jitter, a circuit breaker per authority, a 10s attempt timeout, no
// credentials, no logging, no telemetry, over the base transport described at Base.
//
// A duration or count whose zero value means a default is disabled by a negative
// value or by the stage's Disabled field, as documented on each.
type Options struct {
	// Name names the client in events, breakers ("payments/api.example.com:443") and
	// logs. Empty means "http".
	Name string
	// BaseURL is the URL that the typed calls of a [Client] are relative to, and the
	// origin credentials are sent to (see AuthHosts). Optional for a Transport.
	BaseURL string
	// Base sends the requests at the end of the pipeline. Nil means, for
	// [NewTransport], [http.DefaultTransport] (the convention of RoundTrippers that
	// wrap another), and for [NewHTTPClient] and [NewClient], a new transport from
	// [NewBaseTransport], closed by the client's CloseIdleConnections.
	Base http.RoundTripper

	// RateLimiter, if set, admits calls before anything else; it may be shared by
	// several clients. Nil means no rate limit. A rejected call fails with
	// [resilience.ErrRateLimited].
	RateLimiter *resilience.RateLimiter
	// TotalTimeout bounds a whole call: every attempt, the waits between them and
	// the reading of the final response's body. Zero means 30s; negative disables it
	// (the caller's context still applies).
	TotalTimeout time.Duration
	// Retry configures the retries.
	Retry RetryOptions
	// Breaker configures the circuit breakers, one per authority.
	Breaker BreakerOptions
	// AttemptTimeout bounds one attempt, from sending the request to the end of
	// reading its response. Zero means 10s, or half of TotalTimeout when that is 10s
	// or less; negative disables it. It must be below TotalTimeout when both are
	// enabled.
	AttemptTimeout time.Duration

	// Auth, if set, adds credentials to each attempt sent to an authority allowed by
	// AuthHosts. An auth.Credentials is an Authenticator.
	Auth Authenticator
	// AuthTransport, if set, wraps the rest of the pipeline for attempts sent to an
	// allowed authority, for credentials that need to see the response (an OAuth2
	// token refreshed on 401, say): AuthTransport: func(next http.RoundTripper)
	// http.RoundTripper { return auth.NewTransport(next, creds) }. It is called once,
	// by the constructor.
	AuthTransport func(next http.RoundTripper) http.RoundTripper
	// AuthHosts lists the authorities ("host" or "host:port"; a missing port means
	// the scheme's default) that credentials may be sent to, besides BaseURL's.
	// "*" allows every host. When Auth or AuthTransport is set, BaseURL or AuthHosts
	// is required. Credentials are never added to a request for another authority,
	// such as the target of a redirect.
	AuthHosts []string

	// IdempotencyKeys adds an Idempotency-Key header to POST and PATCH requests
	// that have none, one key for all the attempts of a call, which makes them
	// retryable. The key is taken from the context ([WithIdempotencyKey]) when set
	// there, and is random otherwise.
	IdempotencyKeys bool

	// Logger receives one record per attempt at Info, and the redacted headers and
	// the start of the bodies at Debug. Nil logs nothing.
	Logger *slog.Logger
	// RedactHeaders are header names whose values are never logged, besides
	// Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key and
	// X-Auth-Token. They are also removed from a redirect to another authority.
	RedactHeaders []string
	// RedactQuery are query parameter names (case-insensitive) whose values are
	// never logged nor put in errors, besides those of [DefaultRedactedQuery].
	RedactQuery []string
	// MaxLoggedBody is how many bytes of each body a Debug record shows. Zero means
	// 2 KiB; negative logs no bodies.
	MaxLoggedBody int

	// Observer, if set, is told of each attempt sent to the base transport, for
	// metrics and traces. Nil costs nothing.
	Observer Observer
	// PolicyObserver, if set, receives the events of the resilience policies
	// (retries, rejections, and the state changes of the breakers whose
	// Breaker.Policy.Observer is nil).
	PolicyObserver resilience.Observer
}

// RetryOptions configure the retries of a [Transport]. The zero value retries 3
// times transport errors, attempt timeouts and the [DefaultRetryStatuses], with
// exponential backoff from 100ms, full jitter, capped at 30s, honouring Retry-After up
// to 30s.
type RetryOptions struct {
	// Disabled turns retries off: every call makes one attempt.
	Disabled bool
	// MaxRetries is how many times a call is retried after its first attempt. Zero
	// means 3; negative is an error.
	MaxRetries int
	// Backoff computes the waits between attempts; see [resilience.Backoff] for its
	// defaults.
	Backoff resilience.Backoff
	// Statuses are the response statuses that are retried. Nil means
	// [DefaultRetryStatuses]; an empty non-nil slice retries transport errors and
	// attempt timeouts only.
	Statuses []int
	// MaxRetryAfter caps the wait a Retry-After header asks for. Zero means 30s. A
	// wait that would end after the call's deadline is not waited: the response is
	// returned at once.
	MaxRetryAfter time.Duration
	// Budget, if set, limits the retries to a share of the requests; share one
	// budget between the clients of one service.
	Budget *resilience.Budget
}

// BreakerOptions configure the circuit breakers of a [Transport], one per authority
// (scheme, host and port), created on first use. The zero value opens a host's
// breaker when half of at least 10 attempts in 30s failed, for 5s.
type BreakerOptions struct {
	// Disabled turns the breakers off.
	Disabled bool
	// Policy is the template of every breaker; its Name is replaced by
	// "<Options.Name>/<host:port>". Its SamplingWindow must be at least twice the
	// attempt timeout. When its ShouldHandle is nil, an attempt fails when it ends in
	// a transport error, a timeout or one of Statuses.
	Policy resilience.BreakerOptions
	// Statuses are the response statuses that count as failures. Nil means
	// [DefaultFailureStatuses].
	Statuses []int
}

// DefaultRetryStatuses are the statuses retried when RetryOptions.Statuses is nil:
// 408 Request Timeout, 429 Too Many Requests, 500 Internal Server Error, 502 Bad
// Gateway, 503 Service Unavailable and 504 Gateway Timeout. Read it, never modify
// it.
var DefaultRetryStatuses = []int{408, 429, 500, 502, 503, 504}

// DefaultFailureStatuses are the statuses a breaker counts as failures when
// BreakerOptions.Statuses is nil: the same as [DefaultRetryStatuses]. Read it, never
// modify it.
var DefaultFailureStatuses = []int{408, 429, 500, 502, 503, 504}

// DefaultRedactedQuery are the query parameters (case-insensitive) whose values are
// always redacted, besides those of Options.RedactQuery; telemetry redacts the same.
// Read it, never modify it.
var DefaultRedactedQuery = []string{
	"access_token", "api_key", "apikey", "api-key", "client_secret", "code", "key",
	"password", "refresh_token", "secret", "sig", "signature", "token",
	"x-amz-credential", "x-amz-security-token", "x-amz-signature",
}

// defaultRedactedHeaders are the headers whose values are always redacted.
var defaultRedactedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Auth-Token",
}

// settings are Options normalised and validated once by the constructor.
type settings struct {
	name           string
	base           *url.URL // nil without BaseURL
	total, attempt time.Duration
	maxRetries     int
	retryStatuses  statusSet
	failStatuses   statusSet
	breaker        resilience.BreakerOptions
	maxLoggedBody  int
}

// normalize validates o and returns its settings, or an error that names the field.
func (o *Options) normalize() (settings, error) {
	s := settings{name: o.Name}
	if s.name == "" {
		s.name = "http"
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil {
			// url.Parse's error quotes the URL whole, user information included.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return s, fmt.Errorf("httpx: Options.BaseURL: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return s, fmt.Errorf("httpx: Options.BaseURL: must be an absolute http or https URL, got %q", redactURLString(o.BaseURL, nil))
		}
		u.User = nil
		s.base = u
	}

	switch {
	case o.TotalTimeout == 0:
		s.total = DefaultTotalTimeout
	case o.TotalTimeout > 0:
		s.total = o.TotalTimeout
	}
	switch {
	case o.AttemptTimeout == 0:
		s.attempt = DefaultAttemptTimeout
	case o.AttemptTimeout > 0:
		s.attempt = o.AttemptTimeout
	}
	if s.total > 0 && s.attempt > 0 && s.attempt >= s.total {
		if o.AttemptTimeout == 0 {
			// The default attempt timeout follows a short total timeout down.
			s.attempt = s.total / 2
		} else {
			return s, fmt.Errorf("httpx: Options.AttemptTimeout: must be below Options.TotalTimeout (%s), got %s", s.total, s.attempt)
		}
	}

	r := o.Retry
	if r.MaxRetries < 0 {
		return s, fmt.Errorf("httpx: Options.Retry.MaxRetries: must be ≥ 0, got %d", r.MaxRetries)
	}
	if r.MaxRetryAfter < 0 {
		return s, fmt.Errorf("httpx: Options.Retry.MaxRetryAfter: must be ≥ 0, got %s", r.MaxRetryAfter)
	}
	s.maxRetries = r.MaxRetries
	if s.maxRetries == 0 {
		s.maxRetries = DefaultMaxRetries
	}
	var err error
	if s.retryStatuses, err = newStatusSet("Options.Retry.Statuses", r.Statuses, DefaultRetryStatuses); err != nil {
		return s, err
	}
	if s.failStatuses, err = newStatusSet("Options.Breaker.Statuses", o.Breaker.Statuses, DefaultFailureStatuses); err != nil {
		return s, err
	}

	if !o.Breaker.Disabled {
		s.breaker = o.Breaker.Policy
		s.breaker.Name = s.name + "/breaker"
		// The breakers' own validation names resilience's fields; say where they are.
		if _, err := resilience.NewBreaker(s.breaker); err != nil {
			return s, fmt.Errorf("httpx: Options.Breaker.Policy: %w", err)
		}
		if s.breaker.Mode == resilience.TripFailureRatio && s.attempt > 0 {
			window := s.breaker.SamplingWindow
			if window == 0 {
				window = 30 * time.Second
			}
			if window < 2*s.attempt {
				return s, fmt.Errorf("httpx: Options.Breaker.Policy.SamplingWindow: must be at least twice Options.AttemptTimeout (%s), got %s", s.attempt, window)
			}
		}
	}

	if (o.Auth != nil || o.AuthTransport != nil) && s.base == nil && len(o.AuthHosts) == 0 {
		return s, fmt.Errorf("httpx: Options.AuthHosts: must name the hosts credentials may be sent to when Options.BaseURL is empty (\"*\" for any)")
	}
	for i, h := range o.AuthHosts {
		if h == "" || h != "*" && strings.ContainsAny(h, "/?#@ ") {
			return s, fmt.Errorf("httpx: Options.AuthHosts[%d]: must be \"host\", \"host:port\" or \"*\", got %q", i, h)
		}
	}

	switch {
	case o.MaxLoggedBody == 0:
		s.maxLoggedBody = DefaultMaxLoggedBody
	case o.MaxLoggedBody > 0:
		s.maxLoggedBody = o.MaxLoggedBody
	}
	return s, nil
}

// statusSet is a set of HTTP status codes, 100 to 599.
type statusSet [10]uint64

// newStatusSet returns the set of codes, or of def when codes is nil, or an error
// naming field if a code is out of range.
func newStatusSet(field string, codes, def []int) (statusSet, error) {
	var s statusSet
	if codes == nil {
		codes = def
	}
	for i, c := range codes {
		if c < 100 || c > 599 {
			return s, fmt.Errorf("httpx: %s[%d]: must be a status code from 100 to 599, got %d", field, i, c)
		}
		s[c/64] |= 1 << (c % 64)
	}
	return s, nil
}

// has reports whether code is in the set.
func (s *statusSet) has(code int) bool {
	return code >= 0 && code < 640 && s[code/64]&(1<<(code%64)) != 0
}
