package httpx

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors that callers branch on with [errors.Is]; the struct types carry
// the details.
var (
	// ErrStatus is matched by every [*StatusError]: the final response had a status
	// other than 2xx.
	ErrStatus = errors.New("httpx: unexpected status")
	// ErrDecode is matched by every [*DecodeError]: a response body could not be
	// decoded into the expected type.
	ErrDecode = errors.New("httpx: cannot decode response")
	// ErrBodyTooLarge is the error in a [*DecodeError] for a body larger than
	// the limit.
	ErrBodyTooLarge = errors.New("httpx: response body too large")
)

// MaxErrorBody is how much of an error response's body a [StatusError] keeps.
const MaxErrorBody = 16 << 10

// StatusError is the error of a call whose final response had a status other than
// 2xx, once retries (if any) are over. It matches [ErrStatus]. Rejections by the
// pipeline's policies are not StatusErrors: they match resilience's errors
// ([resilience.ErrBreakerOpen], ...).
type StatusError struct {
	StatusCode int    // 503
	Status     string // "503 Service Unavailable"
	Method     string // the request's method
	URL        string // the request's URL, with secrets redacted
	// RetryAfter is the wait the response's Retry-After header asked for, zero when
	// absent.
	RetryAfter time.Duration
	// Header holds the response's headers, without those that carry secrets
	// (Set-Cookie, ...).
	Header http.Header
	// Body holds the start of the response's body, up to MaxErrorBody bytes.
	Body []byte
	// Problem is the body parsed as RFC 9457 problem details, when its Content-Type
	// is application/problem+json and it parses; nil otherwise.
	Problem *Problem
}

// Error returns "httpx: METHOD URL: STATUS", followed by the problem's title and
// detail when there is one. The body is left out: it may hold personal data.
func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString("httpx: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": ")
	if e.Status != "" {
		b.WriteString(e.Status)
	} else {
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if e.Problem != nil {
		if s := e.Problem.String(); s != "about:blank" {
			b.WriteString(": ")
			b.WriteString(s)
		}
	}
	return b.String()
}

// Is reports whether target is [ErrStatus].
func (e *StatusError) Is(target error) bool { return target == ErrStatus }

// StatusCode returns the status of the [*StatusError] in err's chain, or 0 if there
// is none.
func StatusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

// CheckResponse returns nil for a 2xx response, leaving its body alone. For any
// other status it reads the start of the body, drains and closes it, and returns a
// [*StatusError] describing the response.
func CheckResponse(resp *http.Response) error {
	return checkResponse(resp, defaultRedactor)
}

func checkResponse(resp *http.Response, red *redactor) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	e := &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	if req := resp.Request; req != nil {
		e.Method = methodOf(req)
		e.URL = red.url(req.URL)
	}
	if resp.Body != nil {
		e.Body, _ = io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
		drainAndClose(resp.Body)
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		e.RetryAfter, _ = ParseRetryAfter(v, time.Now())
	}
	e.Header = resp.Header.Clone()
	for k := range e.Header {
		if red.secretHeader(k) {
			delete(e.Header, k)
		}
	}
	if isProblem(resp.Header.Get("Content-Type")) {
		e.Problem, _ = ParseProblem(e.Body)
	}
	return e
}

// DecodeError is the error of a typed call whose response body could not be
// decoded: not JSON, malformed, of the wrong shape, or too large. It matches
// [ErrDecode] and unwraps to the decoder's error ([*json.SyntaxError],
// [*json.UnmarshalTypeError], [ErrBodyTooLarge], ...).
type DecodeError struct {
	Method      string // the request's method
	URL         string // the request's URL, with secrets redacted
	StatusCode  int    // the response's status
	ContentType string // the response's Content-Type
	// Field is the path of the JSON field the decoder failed on ("items.0.amount"),
	// when it says.
	Field string
	// Offset is the byte offset in the body where decoding failed, when known.
	Offset int64
	Err    error // what the decoder returned
}

// Error returns "httpx: METHOD URL: decoding STATUS response: field "f": err".
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("httpx: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": decoding ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	b.WriteString(" response")
	if e.Field != "" {
		b.WriteString(": field ")
		b.WriteString(strconv.Quote(e.Field))
	}
	if e.Offset > 0 {
		b.WriteString(" at offset ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Is reports whether target is [ErrDecode].
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// Unwrap returns the decoder's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// ErrBodyNotReplayable is the error of an attempt that needed to send a request body
// again but could not: the request has a body and no GetBody. Such a request is
// never retried; build it with [http.NewRequestWithContext] from a *bytes.Buffer,
// *bytes.Reader or *strings.Reader, or set GetBody, to make it retryable.
var ErrBodyNotReplayable = errors.New("httpx: request body cannot be replayed (no GetBody)")

// BodyReadError is the error of an attempt of a typed call whose response body
// could not be read to the end: the connection was reset or stalled mid-body. Such
// an attempt is retried like a transport error.
type BodyReadError struct {
	Err error // what the read returned
}

// Error returns "httpx: reading response body: " and the read's error.
func (e *BodyReadError) Error() string { return "httpx: reading response body: " + e.Err.Error() }

// Unwrap returns the read's error.
func (e *BodyReadError) Unwrap() error { return e.Err }

// AuthError is the error of an attempt whose credentials could not be applied.
type AuthError struct {
	Err error // what the Authenticator returned
}

// Error returns "httpx: applying credentials: " and the Authenticator's error.
func (e *AuthError) Error() string { return "httpx: applying credentials: " + e.Err.Error() }

// Unwrap returns the Authenticator's error.
func (e *AuthError) Unwrap() error { return e.Err }
