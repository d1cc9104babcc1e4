package providers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// The kinds of [Error], matched with [errors.Is].
var (
	// ErrUnavailable: the provider could not be reached or failed (5xx, 408, 429,
	// transport errors, timeouts, an open breaker), after the client's retries. It
	// may work later; the error is not marked permanent.
	ErrUnavailable = errors.New("providers: provider unavailable")
	// ErrUnauthorized: the provider refused the client's credentials (401, 403, or
	// a token endpoint that refused the client).
	ErrUnauthorized = errors.New("providers: credentials rejected")
	// ErrInvalidRequest: the provider refused the request as invalid (400, 422);
	// [Error.Fields] lists the fields at fault.
	ErrInvalidRequest = errors.New("providers: invalid request")
	// ErrInvalidRecipient: the e-mail provider refused the recipient's address. It
	// also matches ErrInvalidRequest.
	ErrInvalidRecipient = &kindError{msg: "providers: invalid recipient", parent: ErrInvalidRequest}
	// ErrIdempotencyKeyReused: an idempotency key (or an ID that plays its part:
	// reservation ID, message ID) was sent again with a different request.
	ErrIdempotencyKeyReused = errors.New("providers: idempotency key reused with a different request")
	// ErrPaymentNotFound: the payment provider knows no such payment (404).
	ErrPaymentNotFound = errors.New("providers: payment not found")
	// ErrOutOfStock: the inventory provider has less stock than asked for (409).
	ErrOutOfStock = errors.New("providers: out of stock")
	// ErrConflict: the resource's state forbids the request (409), such as a refund
	// of a declined payment.
	ErrConflict = errors.New("providers: conflict")
	// ErrRejected: any other 4xx answer.
	ErrRejected = errors.New("providers: request rejected")
)

// kindError is a kind that also matches a more general one.
type kindError struct {
	msg    string
	parent error
}

func (k *kindError) Error() string { return k.msg }
func (k *kindError) Unwrap() error { return k.parent }

// Error is the error of a call of a typed client. It matches its Kind (one of the
// sentinels above) and unwraps to what httpx returned (a [*httpx.StatusError], a
// [*url.Error], a resilience rejection such as [resilience.ErrBreakerOpen]).
//
// # Permanent errors
//
// A rejection of the request itself (every kind but [ErrUnavailable], that is any
// 4xx other than 408 and 429, and credentials refused by the token endpoint) is
// returned marked with [resilience.Permanent]: sending the same request again
// cannot succeed, so retry policies stop at once and the event bus dead-letters
// the message instead of redelivering it. [resilience.IsPermanent] tells, and
// [Error.Permanent] says the same of an Error. An unavailable provider and the
// caller's own cancellation are not permanent.
type Error struct {
	// Provider is "payments", "inventory" or "email".
	Provider string
	// Op is the client's method: "ProcessPayment", "Reserve", "Send", ...
	Op string
	// ID is the business ID the call was about (order ID, payment ID, reservation
	// ID, message ID), when there is one.
	ID string
	// Kind is the sentinel the error matches; nil when the caller's context ended
	// the call.
	Kind error
	// StatusCode is the status of the provider's final answer; 0 when there was
	// none.
	StatusCode int
	// Problem is the answer's RFC 9457 problem details, when it had some.
	Problem *httpx.Problem
	// Fields are the invalid fields the problem listed.
	Fields []FieldError
	// Err is what httpx returned.
	Err error
}

// Error returns `providers: PROVIDER: OP "ID": KIND (field: detail; ...): ERR`.
// It holds no secret: httpx redacts URLs, and no credential is ever in a problem.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("providers: ")
	b.WriteString(e.Provider)
	b.WriteString(": ")
	b.WriteString(e.Op)
	if e.ID != "" {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(e.ID))
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "providers: "))
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Detail)
		if i == len(e.Fields)-1 {
			b.WriteByte(')')
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Kind and Err.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Permanent reports whether sending the same request again cannot succeed: a
// Kind other than [ErrUnavailable] (see the type's documentation).
func (e *Error) Permanent() bool { return e.Kind != nil && e.Kind != ErrUnavailable }

// kindFunc refines the kind of a failed call from its status and problem; nil
// leaves the default.
type kindFunc func(status int, p *httpx.Problem, fields []FieldError) error

// callError turns err, from a typed call, into an [*Error], marked permanent when
// it is; nil stays nil.
func callError(provider, op, id string, err error, refine kindFunc) error {
	if err == nil {
		return nil
	}
	e := &Error{Provider: provider, Op: op, ID: id, Err: err}
	var se *httpx.StatusError
	switch {
	case errors.As(err, &se):
		e.StatusCode, e.Problem = se.StatusCode, se.Problem
		e.Fields = problemFields(se.Problem)
		if refine != nil {
			e.Kind = refine(se.StatusCode, se.Problem, e.Fields)
		}
		if e.Kind == nil {
			e.Kind = kindOfStatus(se.StatusCode, se.Problem)
		}
	case credentialsRefused(err):
		e.Kind = ErrUnauthorized
	case errors.Is(err, context.Canceled) && !errors.Is(err, resilience.ErrTimeout):
		// The caller gave up: says nothing of the provider.
	default:
		e.Kind = ErrUnavailable
	}
	if e.Permanent() {
		return resilience.Permanent(e)
	}
	return e
}

// argError is the error of a call refused before anything was sent.
func argError(provider, op, id, detail string) error {
	return resilience.Permanent(&Error{Provider: provider, Op: op, ID: id, Kind: ErrInvalidRequest,
		Fields: []FieldError{{Field: "argument", Detail: detail}}})
}

// kindOfStatus is the kind of a final answer with status.
func kindOfStatus(status int, p *httpx.Problem) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		if p != nil && p.Type == ProblemIdempotencyKeyReused {
			return ErrIdempotencyKeyReused
		}
		return ErrInvalidRequest
	case status == http.StatusConflict:
		return ErrConflict
	case !transientStatus(status) && status >= 400 && status < 500:
		return ErrRejected
	}
	return ErrUnavailable
}

// transientStatus reports whether a request answered status may succeed later.
func transientStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status < 400 || status >= 500
}

// problemFields returns the field errors of a problem's "errors" member.
func problemFields(p *httpx.Problem) []FieldError {
	if p == nil {
		return nil
	}
	list, _ := p.Extensions["errors"].([]any)
	var out []FieldError
	for _, v := range list {
		m, _ := v.(map[string]any)
		f, _ := m["field"].(string)
		d, _ := m["detail"].(string)
		if f != "" || d != "" {
			out = append(out, FieldError{Field: f, Detail: d})
		}
	}
	return out
}

// hasField reports whether fields name field.
func hasField(fields []FieldError, field string) bool {
	for _, f := range fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// credentialsRefused reports whether err is a token endpoint's refusal of the
// client (a 4xx answer other than 408 and 429): sending again cannot help.
func credentialsRefused(err error) bool {
	if !errors.Is(err, auth.ErrTokenFetch) {
		return false
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return false
	}
	return !transientStatus(re.Response.StatusCode)
}
