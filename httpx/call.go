package httpx

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// call is one RoundTrip. It is also the context the policies see, and the body of
// the final response, so that a call costs one allocation for all three.
//
// As a context, a call reports the call's deadline (the earlier of the caller's and
// the total timeout's) but is cancelled only with the caller's context: every attempt
// runs under a context with a real timer at the earlier of its attempt timeout and
// that deadline, and the retry never waits past the deadline, so nothing outlives
// the total timeout while the call saves a timer of its own.
type call struct {
	t      *Transport
	parent context.Context // the caller's
	req    *http.Request   // the caller's, never modified
	header http.Header     // the headers to send: req.Header, or a copy with ours
	host   *host

	deadline    time.Time // the call's deadline, if hasDeadline
	hasDeadline bool
	ownDeadline bool // the deadline is the total timeout's, not the caller's

	buffer   int64              // read bodies of up to buffer bytes in the attempt; 0: don't
	bodySent bool               // req.Body was handed to a transport
	cancel   context.CancelFunc // releases the latest attempt's context
	body     io.ReadCloser      // the final response's own body
}

// Deadline returns the call's deadline.
func (c *call) Deadline() (time.Time, bool) { return c.deadline, c.hasDeadline }

// Done returns the caller's Done channel: see the type's comment.
func (c *call) Done() <-chan struct{} { return c.parent.Done() }

// Err returns the caller's context's error.
func (c *call) Err() error { return c.parent.Err() }

// Value returns the caller's context's value for key, and the call itself for
// callKey.
func (c *call) Value(key any) any {
	if key == (callKey{}) {
		return c
	}
	return c.parent.Value(key)
}

// callKey finds the call from the context of one of its attempts.
type callKey struct{}

// attemptFunc is call.attempt for resilience.Do: a plain function finds its call
// through the context, where a method value would cost an allocation per call.
func attemptFunc(ctx context.Context) (*http.Response, error) {
	return ctx.Value(callKey{}).(*call).attempt(ctx)
}

// run runs the call after the rate limiter: total timeout → retry → attempts.
func (c *call) run(ctx context.Context) (*http.Response, error) {
	t := c.t
	c.parent = ctx
	c.deadline, c.hasDeadline = ctx.Deadline()
	if t.s.total > 0 {
		if d := time.Now().Add(t.s.total); !c.hasDeadline || d.Before(c.deadline) {
			c.deadline, c.hasDeadline, c.ownDeadline = d, true, true
		}
	}
	if err := c.prepare(); err != nil {
		return nil, err
	}
	p := t.retryP
	if p != nil && !c.retryable() {
		p = nil
	}
	resp, err := resilience.Do(c, p, attemptFunc)
	if err != nil {
		if c.cancel != nil {
			c.cancel()
		}
		return nil, err
	}
	c.finish(resp)
	return resp, nil
}

// prepare finds the request's host and adds the headers the call sends: request
// ID, traceparent and idempotency key.
func (c *call) prepare() error {
	t := c.t
	h, err := t.hosts.lookup(c.req.URL)
	if err != nil {
		return err
	}
	c.host = h
	c.buffer = bufferingLimit(c.parent)

	hdr := c.req.Header
	var add [3][2]string
	n := 0
	if id := RequestIDFromContext(c.parent); id != "" && len(hdr[HeaderRequestID]) == 0 {
		add[n] = [2]string{HeaderRequestID, id}
		n++
	}
	if tp := TraceparentFromContext(c.parent); tp != "" && len(hdr[HeaderTraceparent]) == 0 {
		add[n] = [2]string{HeaderTraceparent, tp}
		n++
	}
	if t.idemKeys && (c.req.Method == http.MethodPost || c.req.Method == http.MethodPatch) &&
		len(hdr[HeaderIdempotencyKey]) == 0 {
		key := IdempotencyKeyFromContext(c.parent)
		if key == "" {
			key = rand.Text()
		}
		add[n] = [2]string{HeaderIdempotencyKey, key}
		n++
	}
	if n > 0 {
		if hdr = hdr.Clone(); hdr == nil {
			hdr = make(http.Header, n)
		}
		for _, kv := range add[:n] {
			hdr[kv[0]] = []string{kv[1]}
		}
	}
	c.header = hdr
	return nil
}

// retryable reports whether the call may be sent more than once: its method is
// idempotent or it carries an Idempotency-Key, and its body, if any, can be
// replayed.
func (c *call) retryable() bool {
	r := c.req
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
	default:
		if len(c.header[HeaderIdempotencyKey]) == 0 {
			return false
		}
	}
	return r.Body == nil || r.Body == http.NoBody || r.GetBody != nil
}

// attempt makes one attempt: attempt timeout → auth → breaker → the rest.
func (c *call) attempt(ctx context.Context) (*http.Response, error) {
	if c.cancel != nil {
		// The previous attempt's response was dropped (and drained) by the retry.
		c.cancel()
		c.cancel = nil
	}
	actx := ctx
	var cancel context.CancelFunc
	if d, cause, ok := c.attemptDeadline(); ok {
		actx, cancel = context.WithDeadlineCause(ctx, d, cause)
	}
	resp, err := c.send(actx)
	if err != nil {
		if cancel != nil {
			err = c.timeoutError(actx, err)
			cancel()
		}
		return nil, err
	}
	if resp.Request == nil {
		resp.Request = c.req
	}
	c.cancel = cancel
	return resp, nil
}

// attemptDeadline returns the deadline of an attempt starting now and the cause of
// its expiry, or false if the attempt needs no context of its own.
func (c *call) attemptDeadline() (time.Time, error, bool) {
	t := c.t
	if t.s.attempt > 0 {
		d := time.Now().Add(t.s.attempt)
		if !c.hasDeadline || d.Before(c.deadline) {
			return d, t.attemptCause, true
		}
	}
	if c.ownDeadline {
		return c.deadline, t.totalCause, true
	}
	// The caller's own deadline, if any, fires through the caller's context.
	return time.Time{}, nil, false
}

// send sends one attempt under actx: auth, the host's breaker, then the inner
// stages.
func (c *call) send(actx context.Context) (*http.Response, error) {
	t := c.t
	r := c.req.WithContext(actx)
	r.Header = c.header
	rt := t.send
	if c.host.auth {
		if t.auth != nil {
			r.Header = r.Header.Clone()
			if r.Header == nil {
				r.Header = make(http.Header)
			}
			if err := t.auth.Apply(actx, r); err != nil {
				return nil, &AuthError{Err: err}
			}
		}
		rt = t.authSend
	}

	var permit resilience.BreakerPermit
	br := c.host.breaker
	if br != nil {
		var err error
		if permit, err = br.Allow(); err != nil {
			return nil, err
		}
	}

	// The body goes last, once nothing can stop the attempt before the transport
	// takes it over (and closes it).
	switch {
	case !c.bodySent:
		c.bodySent = true
		r.Body = c.req.Body
	case c.req.Body == nil || c.req.Body == http.NoBody:
	case c.req.GetBody == nil:
		permit.Ignore()
		return nil, ErrBodyNotReplayable
	default:
		body, err := c.req.GetBody()
		if err != nil {
			permit.Ignore()
			return nil, &bodyError{err}
		}
		r.Body = body
	}

	resp, err := rt.RoundTrip(r)
	if err == nil && c.buffer > 0 {
		resp, err = bufferBody(resp, c.buffer)
	}
	if br != nil {
		c.record(actx, permit, resp, err)
	}
	return resp, err
}

// bufferBody reads resp's body, up to limit bytes, so that a failure while reading
// it is a failure of the attempt. A longer body is left for the caller to refuse.
func bufferBody(resp *http.Response, limit int64) (*http.Response, error) {
	if resp.Body == nil || resp.Body == http.NoBody {
		return resp, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		_ = resp.Body.Close()
		return nil, &BodyReadError{Err: err}
	}
	if int64(len(data)) <= limit {
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(data))
	} else {
		resp.Body = &peekedBody{Reader: io.MultiReader(bytes.NewReader(data), resp.Body), Closer: resp.Body}
	}
	return resp, nil
}

// record reports an attempt's outcome to its host's breaker: a status in the
// failure set, a transport error or a timeout is a failure; the caller's
// cancellation is not counted.
func (c *call) record(actx context.Context, p resilience.BreakerPermit, resp *http.Response, err error) {
	t := c.t
	if t.hosts.template.ShouldHandle != nil {
		// The caller's classifier, with resilience's rules for cancellation.
		p.Record(c, resilience.Outcome{Value: resp, Err: err, Attempt: resilience.AttemptFromContext(actx)})
		return
	}
	switch {
	case err == nil:
		p.Done(t.s.failStatuses.has(resp.StatusCode))
	case c.parent.Err() != nil:
		p.Ignore() // the caller gave up: says nothing of the host
	case c.ownTimeout(actx):
		p.Done(true)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		p.Ignore()
	default:
		p.Done(true)
	}
}

// ownTimeout reports whether actx expired at one of this Transport's deadlines.
func (c *call) ownTimeout(actx context.Context) bool {
	cause := context.Cause(actx)
	return cause == error(c.t.attemptCause) || cause == error(c.t.totalCause)
}

// timeoutError returns err, the error of an attempt under actx, as a
// [*resilience.TimeoutError] if one of the Transport's deadlines ended it.
func (c *call) timeoutError(actx context.Context, err error) error {
	if !c.ownTimeout(actx) || c.parent.Err() != nil {
		return err
	}
	cause := context.Cause(actx).(*resilience.TimeoutError)
	if err == error(cause) {
		return err
	}
	return &resilience.TimeoutError{Policy: cause.Policy, Timeout: cause.Timeout, Err: err}
}

// finish binds the final response's body to the call: closing it releases the
// attempt's context.
func (c *call) finish(resp *http.Response) {
	if resp.Body == nil || resp.Body == http.NoBody || c.cancel == nil {
		if c.cancel != nil {
			c.cancel()
		}
		return
	}
	c.body = resp.Body
	if _, ok := resp.Body.(io.Writer); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &rwBody{c}
		return
	}
	resp.Body = c
}

// Read reads the final response's body.
func (c *call) Read(p []byte) (int, error) { return c.body.Read(p) }

// Close closes the final response's body and releases the call's context.
func (c *call) Close() error {
	err := c.body.Close()
	c.cancel()
	return err
}

// rwBody is the body of a 101 Switching Protocols response, which net/http requires
// to be writable.
type rwBody struct{ *call }

func (b *rwBody) Write(p []byte) (int, error) { return b.call.body.(io.Writer).Write(p) }

// bodyError is the error of a GetBody that failed.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "httpx: replaying request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }
