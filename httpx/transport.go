package httpx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// Transport is an [http.RoundTripper] that sends each request through the standard
// pipeline: rate limiter → total timeout → retry → circuit breaker per authority →
// attempt timeout → auth → logging → observer → base transport. Each stage is
// configured, or switched off, by [Options].
//
// It keeps the net/http contract: any response is returned as (resp, nil), whatever
// its status; the request is never modified (each attempt sends a copy); the request
// body is closed on every path and replayed only through GetBody; a response dropped
// for a retry is drained (up to 4 KiB) and closed so its connection is reused.
//
// The response returned has a body bound to the call's timeouts: they keep running
// while the caller reads it, and closing the body releases them. As with any
// RoundTripper, the caller must close it.
//
// A Transport is safe for concurrent use; build one per remote service and share it.
type Transport struct {
	s    settings
	base http.RoundTripper

	send     http.RoundTripper // logging → observer → base, or base alone
	authSend http.RoundTripper // AuthTransport(send), or send
	auth     Authenticator
	hosts    *hosts

	limitP *resilience.Pipeline // the rate limiter; nil without one
	retryP *resilience.Pipeline // the retry; nil when disabled

	idemKeys bool
	red      *redactor
	log      *logging // nil without a logger
	observer Observer
	starter  AttemptStarter

	// The causes of the contexts cancelled by the two timeouts, built once; an
	// attempt recognises its own deadlines by these pointers.
	attemptCause, totalCause *resilience.TimeoutError
}

// NewTransport returns a Transport configured by opts, or an error naming the option
// that is invalid. As with any RoundTripper that wraps another, a nil Options.Base
// means [http.DefaultTransport]; the constructors of ready clients, [NewHTTPClient]
// and [NewClient], give it a tuned transport of its own instead.
func NewTransport(opts Options) (*Transport, error) {
	s, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	t := &Transport{
		s:            s,
		base:         opts.Base,
		auth:         opts.Auth,
		idemKeys:     opts.IdempotencyKeys,
		observer:     opts.Observer,
		attemptCause: &resilience.TimeoutError{Policy: s.name + "/attempt-timeout", Timeout: s.attempt},
		totalCause:   &resilience.TimeoutError{Policy: s.name + "/total-timeout", Timeout: s.total},
	}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	t.starter, _ = opts.Observer.(AttemptStarter)
	t.hosts = newHosts(&s, &opts)
	t.red = newRedactor(opts.RedactHeaders, opts.RedactQuery)
	if opts.Logger != nil {
		t.log = &logging{l: opts.Logger, red: t.red, maxBody: s.maxLoggedBody}
	}
	t.send = t.base
	if t.log != nil || t.observer != nil {
		t.send = sender{t}
	}
	t.authSend = t.send
	if opts.AuthTransport != nil {
		if t.authSend = opts.AuthTransport(t.send); t.authSend == nil {
			return nil, errors.New("httpx: Options.AuthTransport: returned a nil RoundTripper")
		}
	}

	popts := resilience.PipelineOptions{Name: s.name, Observer: opts.PolicyObserver}
	if opts.RateLimiter != nil {
		if t.limitP, err = resilience.NewPipeline(popts, opts.RateLimiter); err != nil {
			return nil, fmt.Errorf("httpx: Options.RateLimiter: %w", err)
		}
	}
	if !opts.Retry.Disabled {
		retry, err := resilience.NewRetry(resilience.RetryOptions{
			Name:         s.name + "/retry",
			MaxAttempts:  s.maxRetries + 1,
			Backoff:      opts.Retry.Backoff,
			ShouldRetry:  t.shouldRetry,
			DelayHint:    retryAfterHint,
			MaxDelayHint: opts.Retry.MaxRetryAfter,
			Budget:       opts.Retry.Budget,
			OnDiscard:    discardOutcome,
		})
		if err != nil {
			return nil, fmt.Errorf("httpx: Options.Retry: %w", err)
		}
		if t.retryP, err = resilience.NewPipeline(popts, retry); err != nil {
			return nil, fmt.Errorf("httpx: Options.Retry: %w", err)
		}
	}
	return t, nil
}

// RoundTrip sends req through the pipeline and returns the final response, whatever
// its status, or the error that ended the call: a transport error, or a rejection
// or timeout of a policy, which match [resilience.ErrRateLimited],
// [resilience.ErrBreakerOpen], [resilience.ErrTimeout] or
// [resilience.ErrRetriesExhausted] with [errors.Is].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("httpx: request has no URL")
	}
	c := &call{t: t, req: req, parent: req.Context()}
	var resp *http.Response
	var err error
	if t.limitP != nil {
		resp, err = resilience.Do(c.parent, t.limitP, c.run)
	} else {
		resp, err = c.run(c.parent)
	}
	if err != nil {
		if !c.bodySent {
			closeBody(req)
		}
		return nil, err
	}
	return resp, nil
}

// CloseIdleConnections closes the idle connections of the base transport.
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Breakers returns the circuit breakers created so far, one per authority called,
// sorted by name, for health checks and dashboards.
func (t *Transport) Breakers() []*resilience.Breaker { return t.hosts.breakers() }

// shouldRetry is the retry predicate: a status in the retried set, or an error
// that may go away on its own.
func (t *Transport) shouldRetry(o resilience.Outcome) bool {
	if o.Err == nil {
		resp, _ := o.Value.(*http.Response)
		return resp != nil && t.s.retryStatuses.has(resp.StatusCode)
	}
	return t.retryableError(o.Err)
}

// retryableError reports whether err, the error of an attempt, is worth another
// attempt: transport errors and attempt timeouts are; the caller's cancellation,
// the total timeout, rejections, certificate errors and bodies that cannot be
// replayed are not.
func (t *Transport) retryableError(err error) bool {
	var te *resilience.TimeoutError
	if errors.As(err, &te) {
		return te.Policy == t.attemptCause.Policy
	}
	var cv *tls.CertificateVerificationError
	switch {
	case resilience.IsPermanent(err),
		errors.Is(err, ErrBodyNotReplayable),
		errors.Is(err, resilience.ErrBreakerOpen),
		errors.Is(err, resilience.ErrRateLimited),
		errors.Is(err, resilience.ErrBulkheadFull),
		errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &cv):
		return false
	}
	return true
}

// retryAfterHint is the retry's delay hint: the Retry-After of a response.
func retryAfterHint(o resilience.Outcome) (d time.Duration, ok bool) {
	resp, _ := o.Value.(*http.Response)
	if resp == nil {
		return 0, false
	}
	v := resp.Header["Retry-After"]
	if len(v) == 0 {
		return 0, false
	}
	return ParseRetryAfter(v[0], time.Now())
}

// maxDrain is how much of a dropped response's body is read so that its connection
// can be reused; a longer body costs the connection instead.
const maxDrain = 4 << 10

// discardOutcome releases the response of an outcome the retry dropped.
func discardOutcome(o resilience.Outcome) {
	if resp, _ := o.Value.(*http.Response); resp != nil && resp.Body != nil {
		drainAndClose(resp.Body)
	}
}

// drainAndClose reads what is left of b, up to maxDrain bytes, and closes it.
func drainAndClose(b io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, b, maxDrain)
	_ = b.Close()
}

// closeBody closes req's body, if any, as a RoundTripper must on every path.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// sender is the inner end of the pipeline: logging → observer → base transport.
type sender struct{ t *Transport }
